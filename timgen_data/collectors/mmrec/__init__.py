"""Import a dataset in the MMRec toolbox layout (``<name>.inter``, id mappings, feature arrays)."""

from timgen_data.collectors.mmrec.collector import COLLECTOR, collect_mmrec
from timgen_data.collectors.mmrec.layout import MmrecLayout, read_layout

__all__ = ["COLLECTOR", "MmrecLayout", "collect_mmrec", "read_layout"]
