"""The modalities an item's content comes in, as every stage names them.

Collectors plan assets per modality, alignment fetches, decodes and encodes them, and the
dataset has one vector column per modality, so the names stand below every stage.
"""

MODALITIES = ("text", "image", "video", "audio")
