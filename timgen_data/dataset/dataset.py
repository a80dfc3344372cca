"""``build``: store → a Hugging Face dataset folder (Parquet configs + dataset card).

The folder is written to a hidden staging folder beside it and swapped into place (see
:mod:`timgen_common.output_folder`), so an interrupted or failed build never leaves a
half-written dataset and keeps the previous one; equal inputs give byte-identical Parquet.
Only a folder build wrote itself is replaced.

Memory does not grow with the corpus: a first pass counts per user and per item what to
keep and in which order (:mod:`~timgen_data.dataset.selection`), then the interactions stream
a chunk of whole users at a time (:mod:`~timgen_data.dataset.chunks`) into the splits' shards
(:mod:`~timgen_data.dataset.interaction_shards`), and the statistics are running totals.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from timgen_contract import FORMAT_VERSION, SCENARIOS
from timgen_data.dataset.card import card_front_matter, render_card
from timgen_data.dataset.chunks import user_runs
from timgen_data.dataset.interaction_shards import GivenSplit, LeaveLastOut, SplitRule, TimeSplit, write_interactions
from timgen_data.dataset.items import load_items
from timgen_data.dataset.pseudonyms import SALT_FILE_NAME
from timgen_data.dataset.selection import Selection, select
from timgen_data.dataset.shards import ShardWriter
from timgen_data.dataset.sources import ChosenSources, check_sources
from timgen_data.dataset.splits import check_time_cuts
from timgen_data.dataset.statistics import DatasetTally
from timgen_data.dataset.tables import items_table
from timgen_data.dataset.users import users_table
from timgen_data.disk_space import disk_full_error, is_disk_full
from timgen_data.errors import NothingToDoError, UsageError
from timgen_common.output_folder import OutputFolder, Protected, protected_folders, store_folder
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, in_clause
from timgen_data.store.batches import Snapshot, snapshot

# Interactions per chunk of users streamed: the build's memory, whatever the corpus.
CHUNK_ROWS = 65_536
T = TypeVar("T")


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
    force: bool = False, protect: Iterable[Protected] | None = None, chunk_rows: int = CHUNK_ROWS,
) -> BuildResult:
    """Build the dataset contract of DESIGN.md into ``out_dir``.

    ``out_dir`` may be new, empty, or a dataset folder build wrote; ``force`` also replaces
    a folder of other files. The data dir and the folder holding the store (``protect``,
    by default as the CLI resolves them; the store's own folder is always added), and
    their parents, are never replaced. Interactions without a label for the scenario are
    left out and counted per source in ``left_out``.

    The interactions are streamed in chunks of whole users of about ``chunk_rows`` rows
    (see :mod:`timgen_data.dataset.chunks`), so memory does not grow with the store; every
    read sees the store as it was at the first one. Any ``chunk_rows`` gives the same bytes.

    >>> build_dataset(store, Path("out/ml-1m"), BuildOptions(min_interactions=5))  # doctest: +SKIP
    """
    options.validate()
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    out_dir = Path(out_dir)
    folder = output_folder(store, out_dir, force=force, protect=protect)
    with store.begin() as conn:
        sources = check_sources(conn, options.scenario, list(options.sources) or None)
    with snapshot(store) as view:
        selection = select(view, options.scenario, sources, requested=bool(options.sources),
                           min_interactions=options.min_interactions, k_core=options.k_core, batch_rows=chunk_rows)
        chosen = selection.chosen
        with store.begin() as conn:
            source_rows = source_rows_of(conn, list(chosen.sources))
        if selection.num_users == 0:
            raise NothingToDoError("no user is left after the filters; lower --min-interactions or --k-core")
        if options.split == "time":
            check_time_cuts(int(options.valid_start), int(options.test_start))
        # Steps: the selection, each chunk, the items and users, the swap.
        chunks = sum(1 for _ in user_runs(selection.read_rows, chunk_rows))
        progress.start("build", total=chunks + 3)
        progress.advance("build")
        writer = ShardWriter(selection.num_interactions, other_rows=selection.num_items + selection.num_users)
        statistics, shards = write_staged(
            folder, out_dir, writer,
            lambda staging: _write_dataset(staging, writer, store, view, selection, options, source_rows, chunk_rows,
                                           progress))
    progress.advance("build")
    progress.finish("build")
    return BuildResult(out_dir, statistics, shards, dict(chosen.left_out))


def _write_dataset(staging: Path, writer: ShardWriter, store: Store, view: Snapshot, selection: Selection,
                   options: BuildOptions, source_rows: list[dict[str, Any]], chunk_rows: int,
                   progress: Progress) -> tuple[dict[str, Any], dict[str, dict[str, list[str]]]]:
    tally = DatasetTally()
    written = write_interactions(staging / "interactions", writer, view, selection, _split_rule(options, staging),
                                 chunk_rows, tally, progress)
    item_names = set(selection.items.names.filter(written.items).to_pylist())
    return write_contract(staging, writer, store, options, selection.chosen, source_rows, written.shards,
                          written.counts, item_names=item_names,
                          user_names=selection.user_names().to_numpy(zero_copy_only=False), lengths=selection.lengths,
                          tally=tally, progress=progress)


def write_contract(staging: Path, writer: ShardWriter, store: Store, options: BuildOptions, chosen: ChosenSources,
                   source_rows: list[dict[str, Any]], interactions: dict[str, list[str]],
                   counts: dict[str, dict[str, int]], *, item_names: set[str], user_names: np.ndarray,
                   lengths: np.ndarray, tally: DatasetTally, progress: Progress) -> tuple[dict[str, Any], dict]:
    """Everything of the dataset but its ``interactions`` (written already: ``interactions`` its
    shards, ``counts`` its rows and targets per split): the items and users configs, the card,
    ``build.json`` and ``stats.png``. ``item_names``: the items the interactions use;
    ``user_names`` and ``lengths``: the users in the dataset's order and their interactions.
    Every engine writes the rest of the contract through here, so it is the same."""
    shards: dict[str, dict[str, list[str]]] = {"interactions": interactions, "items": {}}
    sources = list(chosen.sources)
    with store.begin() as conn:
        catalog = load_items(conn, sources, item_names, prefixed=chosen.prefixed)
        users = users_table(conn, sources, user_names, chosen.prefixed)
    shards["items"]["train"] = writer.write(staging / "items", "train", items_table(catalog.items, catalog.embeddings))
    if users is not None:
        shards["users"] = {"train": writer.write(staging / "users", "train", users)}
    progress.advance("build")
    statistics = tally.statistics(lengths, len(catalog.items), counts, chosen.left_out)
    parameters = {**asdict(options), "sources": sources, "format_version": FORMAT_VERSION}
    card = render_card(
        front_matter=card_front_matter(shards, sorted({s["collector"] for s in source_rows})),
        sources=source_rows, parameters=parameters, statistics=statistics, encoders=catalog.encoders,
    )
    (staging / "README.md").write_text(card, encoding="utf-8")
    build_info = {"parameters": parameters, "statistics": statistics, "encoders": catalog.encoders,
                  "sources": source_rows, "shards": shards}
    (staging / "build.json").write_text(json.dumps(build_info, indent=2, sort_keys=True), encoding="utf-8")
    tally.plot(lengths, staging / "stats.png")
    return statistics, shards


def output_folder(store: Store, out_dir: Path, *, force: bool, protect: Iterable[Protected] | None) -> OutputFolder:
    """The dataset folder ``out_dir`` as every engine may write it (see :func:`build_dataset`)."""
    return OutputFolder(out_dir, "build", protect=_protected(store, protect), force=force, what="dataset",
                        fix="choose a new or empty folder such as out/ml-1m", written_before=_built_before_markers)


def write_staged(folder: OutputFolder, out_dir: Path, writer: ShardWriter, write: Callable[[Path], T]) -> T:
    """``write(staging)`` into a staging folder swapped in for ``out_dir`` when it returns; the
    pseudonymization salt carried over; a full disk said with the room the dataset needs."""
    try:
        with folder.staged() as staging:
            result = write(staging)
            _carry_over_salt(out_dir, staging)
    except (OSError, sqlite3.Error) as error:  # sqlite3: the given split's index
        if not is_disk_full(error):
            raise
        # The staging folder is gone by now, so the free space said is what the user has.
        needed = _room_needed(writer, out_dir if folder.replaces else None)
        raise disk_full_error(folder.path.parent, needed, what=f"the dataset {out_dir}") from error
    return result


def _split_rule(options: BuildOptions, staging: Path) -> SplitRule:
    if options.split == "time":
        return TimeSplit(int(options.valid_start), int(options.test_start))
    if options.split == "given":
        return GivenSplit(Path(options.split_file), staging)
    return LeaveLastOut()


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


def source_rows_of(conn, namespaces: list[str]) -> list[dict[str, Any]]:
    marks, params = in_clause("n", namespaces)
    rows = fetch_rows(
        conn,
        f"SELECT collector, variant, namespace, url, sha256, license FROM sources "
        f"WHERE namespace IN ({marks}) ORDER BY namespace, sha256",
        params,
    )
    keys = ["collector", "variant", "namespace", "url", "sha256", "license"]
    return [dict(zip(keys, row)) for row in rows]
