"""Offline demo: synthetic MovieLens-format corpora and the collect → label → build flow on them."""
