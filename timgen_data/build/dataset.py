"""``build``: store → a Hugging Face dataset folder (Parquet configs + dataset card).

The folder is written to a hidden staging folder beside it and swapped into place (see
:mod:`timgen_data.output_folder`), so an interrupted or failed build never leaves a
half-written dataset and keeps the previous one; equal inputs give byte-identical Parquet.
Only a folder build wrote itself is replaced.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from timgen_data.build.card import card_front_matter, render_card
from timgen_data.build.filters import k_core, min_interactions
from timgen_data.build.items import load_items
from timgen_data.build.plots import plot_statistics
from timgen_data.build.publish import SALT_FILE_NAME
from timgen_data.build.schema import DATASET_FORMAT_VERSION
from timgen_data.build.sequences import Interactions, load_interactions
from timgen_data.build.shards import ShardWriter
from timgen_data.build.splits import (
    SPLITS,
    SplitRows,
    given_split,
    leave_last_out,
    read_split_file,
    time_split,
)
from timgen_data.build.tables import contract_arrays, items_table, split_table
from timgen_data.build.users import users_table
from timgen_data.disk_space import disk_full_error, is_disk_full
from timgen_data.errors import NothingToDoError, UsageError
from timgen_data.labeling.scenarios import SCENARIOS
from timgen_data.output_folder import OutputFolder, Protected, protected_folders, store_folder
from timgen_data.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, in_clause


@dataclass(frozen=True)
class BuildOptions:
    """What to build. Every field is recorded in the card and ``build.json``."""

    scenario: str = "movie"
    split: Literal["leave-last-out", "time", "given"] = "leave-last-out"
    split_file: str | None = None  # with split="given": user_id,item_id,ts,split per interaction
    valid_start: int | None = None
    test_start: int | None = None
    min_interactions: int = 1
    k_core: int = 0
    sources: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.scenario not in SCENARIOS:
            raise UsageError(f"unknown scenario {self.scenario!r}; choose one of {', '.join(SCENARIOS)}")
        if self.split == "time" and (self.valid_start is None or self.test_start is None):
            raise UsageError("--split time needs --valid-start and --test-start (UTC epoch seconds or dates)")
        if self.split == "given" and not self.split_file:
            raise UsageError("--split given needs --split-file (user_id,item_id,ts,split per interaction)")
        if self.split not in ("leave-last-out", "time", "given"):
            raise UsageError(f"unknown split {self.split!r}; use leave-last-out, time or given")
        if self.min_interactions < 1 or self.k_core < 0:
            raise UsageError("--min-interactions must be >= 1 and --k-core >= 0")


@dataclass
class BuildResult:
    path: Path
    statistics: dict[str, Any]
    shards: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Interactions left out per source because they have no label for the scenario.
    left_out: dict[str, int] = field(default_factory=dict)


def build_dataset(
    store: Store, out_dir: Path, options: BuildOptions = BuildOptions(), *, progress: Progress = SILENT,
    force: bool = False, protect: Iterable[Protected] | None = None,
) -> BuildResult:
    """Build the dataset contract of DESIGN.md into ``out_dir``.

    ``out_dir`` may be new, empty, or a dataset folder build wrote; ``force`` also replaces
    a folder of other files. The data dir and the folder holding the store (``protect``,
    by default as the CLI resolves them; the store's own folder is always added), and
    their parents, are never replaced. Interactions without a label for the scenario are
    left out and counted per source in ``left_out`` (see ``load_interactions``).

    >>> build_dataset(store, Path("out/ml-1m"), BuildOptions(min_interactions=5))  # doctest: +SKIP
    """
    options.validate()
    out_dir = Path(out_dir)
    folder = OutputFolder(out_dir, "build", protect=_protected(store, protect), force=force, what="dataset",
                          fix="choose a new or empty folder such as out/ml-1m", written_before=_built_before_markers)
    progress.start("build", total=4)
    with store.begin() as conn:
        data = load_interactions(conn, options.scenario, list(options.sources) or None)
        sources = list(data.sources)
        source_rows = _source_rows(conn, sources)
    left_out = dict(data.left_out)
    progress.advance("build")
    data = min_interactions(k_core(data, options.k_core), options.min_interactions)
    if data.num_users == 0:
        raise NothingToDoError("no user is left after the filters; lower --min-interactions or --k-core")
    if options.split == "leave-last-out":
        splits = leave_last_out(data)
    elif options.split == "time":
        splits = time_split(data, int(options.valid_start), int(options.test_start))
    else:
        splits = given_split(data, read_split_file(Path(options.split_file), data))
    with store.begin() as conn:
        catalog = load_items(conn, sources, set(data.frame["item"].unique()), prefixed=data.prefixed)
        users = users_table(conn, sources, data.users, data.prefixed)
    progress.advance("build")

    writer = ShardWriter(sum(len(splits[s].is_target) for s in SPLITS) + len(catalog.items)
                         + (users.num_rows if users is not None else 0))
    try:
        with folder.staged() as staging:
            statistics, shards = _write_dataset(staging, writer, data, splits, catalog, users, options,
                                                sources, source_rows, left_out, progress)
            _carry_over_salt(out_dir, staging)
    except OSError as error:
        if not is_disk_full(error):
            raise
        # The staging folder is gone by now, so the free space said is what the user has.
        needed = _room_needed(writer, out_dir if folder.replaces else None)
        raise disk_full_error(folder.path.parent, needed, what=f"the dataset {out_dir}") from error
    progress.advance("build")
    progress.finish("build")
    return BuildResult(out_dir, statistics, shards, left_out)


def _write_dataset(staging: Path, writer: ShardWriter, data: Interactions, splits: dict[str, SplitRows], catalog,
                   users, options: BuildOptions, sources: list[str], source_rows: list[dict[str, Any]],
                   left_out: dict[str, int], progress: Progress) -> tuple[dict[str, Any], dict[str, dict[str, list[str]]]]:
    arrays = contract_arrays(data)
    shards: dict[str, dict[str, list[str]]] = {"interactions": {}, "items": {}}
    for split in SPLITS:
        shards["interactions"][split] = writer.write(
            staging / "interactions", split, split_table(data, arrays, splits[split]), units=len(splits[split].is_target)
        )
    shards["items"]["train"] = writer.write(staging / "items", "train", items_table(catalog.items, catalog.embeddings))
    if users is not None:
        shards["users"] = {"train": writer.write(staging / "users", "train", users)}
    progress.advance("build")
    statistics = _statistics(data, splits, catalog.items, left_out)
    parameters = {**asdict(options), "sources": sources, "format_version": DATASET_FORMAT_VERSION}
    card = render_card(
        front_matter=card_front_matter(shards, sorted({s["collector"] for s in source_rows})),
        sources=source_rows, parameters=parameters, statistics=statistics, encoders=catalog.encoders,
    )
    (staging / "README.md").write_text(card, encoding="utf-8")
    build_info = {"parameters": parameters, "statistics": statistics, "encoders": catalog.encoders,
                  "sources": source_rows, "shards": shards}
    (staging / "build.json").write_text(json.dumps(build_info, indent=2, sort_keys=True), encoding="utf-8")
    plot_statistics(data.frame, np.diff(data.bounds), staging / "stats.png")
    return statistics, shards


def _protected(store: Store, protect: Iterable[Protected] | None) -> list[Protected]:
    folders = list(protect) if protect is not None else protected_folders()
    own = store_folder(store.url)
    if own is not None:
        folders.append(Protected(own, "the folder holding the store"))
    return folders


def _built_before_markers(folder: Path) -> bool:
    """A dataset folder an earlier version of build wrote: its build.json, no marker."""
    try:
        info = json.loads((folder / "build.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and {"parameters", "shards", "statistics"} <= info.keys()


def _room_needed(writer: ShardWriter, previous: Path | None) -> int:
    """About how much room the new dataset needs beside the previous one: projected from the
    shards written, at least the previous dataset's size (a rebuild is about as large)."""
    before = sum(p.stat().st_size for p in previous.rglob("*") if p.is_file()) if previous is not None else 0
    projected = writer.projected_bytes()
    if projected is None:
        return before or writer.uncompressed_bytes()
    return max(projected, before)


def _carry_over_salt(out_dir: Path, staging: Path) -> None:
    """Keep the pseudonymization salt across rebuilds so published pseudonyms stay stable."""
    salt = out_dir / SALT_FILE_NAME
    if salt.is_file():
        shutil.copy2(salt, staging / SALT_FILE_NAME)


def _source_rows(conn, namespaces: list[str]) -> list[dict[str, Any]]:
    marks, params = in_clause("n", namespaces)
    rows = fetch_rows(
        conn,
        f"SELECT collector, variant, namespace, url, sha256, license FROM sources "
        f"WHERE namespace IN ({marks}) ORDER BY namespace, sha256",
        params,
    )
    keys = ["collector", "variant", "namespace", "url", "sha256", "license"]
    return [dict(zip(keys, row)) for row in rows]


def _statistics(data: Interactions, splits: dict[str, SplitRows], items, left_out: dict[str, int]) -> dict[str, Any]:
    frame = data.frame
    lengths = np.diff(data.bounds)
    scores = frame["score"].dropna()
    statistics = {
        "users": int(data.num_users),
        "items": int(len(items)),
        "interactions": int(len(frame)),
        "splits": {s: {"rows": int(r.num_rows), "targets": int(r.is_target.sum())} for s, r in splits.items()},
        "actions": {str(k): int(v) for k, v in frame["action"].value_counts().sort_index().items()},
        "classes": {str(k): int(v) for k, v in frame["class"].fillna("").value_counts().sort_index().items()},
        "length": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())},
        "score_range": [float(scores.min()), float(scores.max())] if len(scores) else None,
        "time_span": [int(frame["ts"].min()), int(frame["ts"].max())],
    }
    if left_out:  # only then, so a fully labelled store builds the same card and build.json as ever
        statistics["left_out_unlabelled"] = dict(sorted(left_out.items()))
    return statistics
