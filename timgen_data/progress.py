"""The progress protocol as the stages take it; defined in :mod:`timgen_common.progress`,
which the model shares, and named here so each stage finds its ground floor in one package."""

from timgen_common.progress import SILENT, Progress, SilentProgress

__all__ = ["SILENT", "Progress", "SilentProgress"]
