"""Files an alignment step reads (IMDb's title.basics, the trailer file, an asset manifest),
given either as a local path or as an http(s) URL that is downloaded once."""

from __future__ import annotations

from pathlib import Path

from timgen_data.downloads.download import download
from timgen_data.errors import UsageError
from timgen_common.progress import SILENT, Progress

DOWNLOADS_FOLDER = Path("downloads") / "alignment"


def local_input(ref: str | None, data_dir: Path, progress: Progress = SILENT) -> Path | None:
    """A local path for ``ref``; a URL is downloaded (resumably) under ``<data_dir>/downloads/alignment``.

    Only the URL's file name is kept, so re-running with the same URL reuses the download.

    >>> local_input("https://datasets.imdbws.com/title.basics.tsv.gz", Path("timgen-data"))  # doctest: +SKIP
    PosixPath('timgen-data/downloads/alignment/title.basics.tsv.gz')
    """
    if ref is None:
        return None
    if ref.startswith(("http://", "https://")):
        dest = Path(data_dir) / DOWNLOADS_FOLDER / Path(ref.split("?")[0]).name
        return download(ref, dest, progress=progress).path
    path = Path(ref)
    if not path.exists():
        raise UsageError(f"{ref} does not exist; give an existing file or an http(s) URL")
    return path
