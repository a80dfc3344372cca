"""timgen-data: build time-aware multimodal recommendation datasets and train TIMGen on them.

The flow is collect → align → label → build → (publish, train); each stage is a
subpackage with its public API in its ``__init__``.
"""

from timgen_data.errors import TimgenError

__version__ = "0.1.0"

__all__ = ["TimgenError", "__version__"]
