"""What the data toolkit (``timgen_data``) and the model (``timgen_model``) share, importing neither.

Output folders written as a whole (never over what a user has), the data dir and store
they keep away from, a full disk recognised wherever it surfaces, the progress protocol,
and the errors these raise. The model stands on this package alone, so it can be used,
tested and shipped without the data toolkit.
"""
