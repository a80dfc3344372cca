"""Alignment: items linked across sources, media assets, feature vectors.

``titles``, ``imdb_index``, ``trailers`` and ``links`` link items; ``assets`` fetches media
into a content-addressed store; ``decode`` turns bytes into pixels and samples;
``encoders`` and ``features`` turn them into vectors stored per (asset, encoder).
"""
