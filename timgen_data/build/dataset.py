"""``build``: store → a Hugging Face dataset folder (Parquet configs + dataset card).

The folder is written to a hidden temporary sibling and renamed into place, so an
interrupted build never leaves a half-written dataset; equal inputs give byte-identical
Parquet.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from timgen_data.build.card import card_front_matter, render_card
from timgen_data.build.filters import k_core, min_interactions
from timgen_data.build.items import load_items
from timgen_data.build.plots import plot_statistics
from timgen_data.build.publish import SALT_FILE_NAME
from timgen_data.build.schema import DATASET_FORMAT_VERSION
from timgen_data.build.sequences import Interactions, load_interactions
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
from timgen_data.errors import NothingToDoError, UsageError
from timgen_data.labeling.scenarios import SCENARIOS
from timgen_data.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, in_clause

ROWS_PER_SHARD = 50_000


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


def build_dataset(
    store: Store, out_dir: Path, options: BuildOptions = BuildOptions(), *, progress: Progress = SILENT
) -> BuildResult:
    """Build the dataset contract of DESIGN.md into ``out_dir``.

    >>> build_dataset(store, Path("out/ml-1m"), BuildOptions(min_interactions=5))  # doctest: +SKIP
    """
    options.validate()
    out_dir = Path(out_dir)
    progress.start("build", total=4)
    with store.begin() as conn:
        data = load_interactions(conn, options.scenario, list(options.sources) or None)
        sources = list(data.sources)
        source_rows = _source_rows(conn, sources)
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

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        arrays = contract_arrays(data)
        shards = {"interactions": {}, "items": {}}
        for split in SPLITS:
            shards["interactions"][split] = _write_shards(
                staging / "interactions", split, split_table(data, arrays, splits[split])
            )
        shards["items"]["train"] = _write_shards(
            staging / "items", "train", items_table(catalog.items, catalog.embeddings)
        )
        if users is not None:
            shards["users"] = {"train": _write_shards(staging / "users", "train", users)}
        progress.advance("build")
        statistics = _statistics(data, splits, catalog.items)
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
        _carry_over_salt(out_dir, staging)
        os.chmod(staging, 0o755)
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress.advance("build")
    progress.finish("build")
    return BuildResult(out_dir, statistics, shards)


def _write_shards(folder: Path, split: str, table: pa.Table) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    count = max(1, -(-table.num_rows // ROWS_PER_SHARD))
    names = []
    for index in range(count):
        name = f"{split}-{index:05d}-of-{count:05d}.parquet"
        part = table.slice(index * ROWS_PER_SHARD, ROWS_PER_SHARD)
        pq.write_table(part, folder / name, compression="zstd", row_group_size=10_000)
        names.append(f"{folder.name}/{name}")
    return names


def _carry_over_salt(out_dir: Path, staging: Path) -> None:
    """Keep the pseudonymization salt across rebuilds so published pseudonyms stay stable."""
    salt = out_dir / SALT_FILE_NAME
    if salt.is_file():
        shutil.copy2(salt, staging / SALT_FILE_NAME)


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Swap the finished build into place (a folder cannot be renamed onto a non-empty one)."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out_dir)


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


def _statistics(data: Interactions, splits: dict[str, SplitRows], items) -> dict[str, Any]:
    frame = data.frame
    lengths = np.diff(data.bounds)
    scores = frame["score"].dropna()
    return {
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
