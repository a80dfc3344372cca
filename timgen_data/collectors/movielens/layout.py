"""Finding a release's files in an extracted folder, whatever layout it has."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from timgen_data.collectors.movielens.catalog import (
    Catalog,
    parse_100k_catalog,
    parse_csv_catalog,
    parse_dat_catalog,
)
from timgen_data.collectors.movielens.tags import TAG_FILES
from timgen_data.collectors.movielens.variants import Variant
from timgen_data.errors import ArchiveError


@dataclass(frozen=True)
class ReleaseFiles:
    folder: Path
    ratings: Path
    parse_catalog: Callable[..., Catalog]
    tags: Path | None = None  # where the release ships a tag file


_RATINGS = {"100k": "u.data", "dat": "ratings.dat", "csv": "ratings.csv"}
_CATALOG = {"100k": parse_100k_catalog, "dat": parse_dat_catalog, "csv": parse_csv_catalog}
_REQUIRED = {"100k": ("u.item", "u.user", "u.genre"), "dat": ("movies.dat",), "csv": ("movies.csv",)}


def locate_release(root: Path, variant: Variant) -> ReleaseFiles:
    """The release's folder under ``root`` (the folder itself or its one sub-folder)."""
    candidates = [root, root / variant.folder, *sorted(p for p in root.iterdir() if p.is_dir())]
    ratings_name = _RATINGS[variant.layout]
    for folder in candidates:
        if (folder / ratings_name).is_file():
            missing = [name for name in _REQUIRED[variant.layout] if not (folder / name).is_file()]
            if missing:
                raise ArchiveError(
                    f"{folder} has {ratings_name} but lacks {', '.join(missing)}; it is not a complete "
                    f"MovieLens {variant.name} release (re-download it, or pick the right --variant)"
                )
            tags = folder / TAG_FILES[variant.layout] if variant.layout in TAG_FILES else None
            return ReleaseFiles(folder, folder / ratings_name, _CATALOG[variant.layout],
                                tags if tags is not None and tags.is_file() else None)
    raise ArchiveError(
        f"no {ratings_name} found in {root}; is this the MovieLens {variant.name} release? "
        "Pick the matching --variant or point --from-file at the release folder or zip"
    )
