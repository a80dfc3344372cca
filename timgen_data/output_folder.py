"""Output folders as the stages write them; defined in :mod:`timgen_common.output_folder`,
which the model's training runs share, and named here so each stage finds its ground floor
in one package."""

from timgen_common.output_folder import MARKER, OutputFolder, Protected, protected_folders, store_folder, written_by

__all__ = ["MARKER", "OutputFolder", "Protected", "protected_folders", "store_folder", "written_by"]
