"""The ``interactions`` config, written split by split as the chunks of users stream by.

Each chunk (whole users, in the dataset's order) is cut into the three splits' rows by a
:class:`SplitRule`, and each split's rows join that split's shards, where they wait
compact until their row group fills (:mod:`timgen_data.dataset.shards`). The three splits
of a chunk share one copy of its data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

from timgen_data.dataset.chunks import Chunk, read_chunks
from timgen_data.dataset.selection import Selection
from timgen_data.dataset.shards import ShardWriter
from timgen_data.dataset.split_file import lacking_rows_error, open_split_file
from timgen_data.dataset.splits import SPLITS, SplitRows, given_split, leave_last_out, time_split
from timgen_data.dataset.statistics import DatasetTally
from timgen_data.dataset.tables import INTERACTIONS_SCHEMA, ChunkColumns, RepeatedText, SplitPart, join_parts
from timgen_common.progress import Progress
from timgen_data.store.batches import Snapshot


class SplitRule:
    """How a chunk's users are cut into the three splits' rows (a context: it may hold a file open)."""

    def __enter__(self) -> SplitRule:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def rows(self, chunk: Chunk, names: pa.Array, columns: ChunkColumns) -> dict[str, SplitRows] | None:
        """The rows of each split; None when the chunk is not to be written (the build will fail)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Called after the last chunk: raise what went wrong on the way."""


class LeaveLastOut(SplitRule):
    def rows(self, chunk, names, columns):
        return leave_last_out(chunk)


@dataclass
class TimeSplit(SplitRule):
    valid_start: int
    test_start: int

    def rows(self, chunk, names, columns):
        return time_split(chunk, self.valid_start, self.test_start)


class GivenSplit(SplitRule):
    """Each interaction's split from ``--split-file``, indexed under ``workdir`` while the build runs.

    Every interaction the build keeps must have a row; once one lacks it, nothing more is
    written, but the rest are still looked up, so the error says how many lack a row.
    """

    def __init__(self, path: Path, workdir: Path):
        self.path, self._workdir = path, workdir
        self._missing, self._example = 0, None

    def __enter__(self) -> GivenSplit:
        self._opened = open_split_file(self.path, self._workdir)
        self._file = self._opened.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._opened.__exit__(*exc)

    def rows(self, chunk, names, columns):
        users = np.repeat(names.to_numpy(zero_copy_only=False), np.diff(chunk.bounds))
        items = columns.item_ids().to_numpy(zero_copy_only=False)
        labels = self._file.labels(users, items, chunk.ts)
        lacking = np.flatnonzero(labels < 0)
        if len(lacking):
            first = int(lacking[0])
            self._missing += len(lacking)
            self._example = self._example or (users[first], items[first], int(chunk.ts[first]))
        return None if self._missing else given_split(chunk, labels)

    def finish(self) -> None:
        if self._missing:
            raise lacking_rows_error(self.path, self._missing, *self._example)


@dataclass(frozen=True)
class WrittenInteractions:
    shards: dict[str, list[str]]  # per split, its files relative to the dataset
    counts: dict[str, dict[str, int]]  # per split, its rows and target positions
    items: np.ndarray  # bool per item code: used by an interaction written


def write_interactions(folder: Path, writer: ShardWriter, view: Snapshot, selection: Selection, rule: SplitRule,
                       chunk_rows: int, tally: DatasetTally, progress: Progress) -> WrittenInteractions:
    """Stream every kept interaction into the shards of the three splits under ``folder``;
    ``tally`` counts what is written, and each chunk advances the ``build`` task."""
    assemble = partial(join_parts, repeated=RepeatedText())  # one set of shared buffers for every split
    shards = {s: writer.open(folder, s, INTERACTIONS_SCHEMA, units_column="is_target", assemble=assemble)
              for s in SPLITS}
    counts = {s: {"rows": 0, "targets": 0} for s in SPLITS}
    items = np.zeros(len(selection.items.names), dtype=bool)
    user_names = selection.user_names()
    with rule:
        for chunk in read_chunks(view, selection, chunk_rows):
            names = user_names.slice(chunk.first_user, chunk.num_users)
            columns = ChunkColumns(chunk, selection.items.names)
            rows = rule.rows(chunk, names, columns)
            for split in SPLITS if rows is not None else ():
                part = rows[split]
                shards[split].append(part.num_rows, partial(_part, names, columns, part), positions=len(part.is_target))
                counts[split]["rows"] += part.num_rows
                counts[split]["targets"] += int(part.is_target.sum())
            writer.streamed += chunk.num_rows
            tally.add(chunk)
            items[chunk.table.column("item").to_numpy()] = True
            progress.advance("build")
        rule.finish()
    return WrittenInteractions({s: shards[s].close() for s in SPLITS}, counts, items)


def _part(names: pa.Array, columns: ChunkColumns, rows: SplitRows, start: int, stop: int) -> SplitPart:
    """Rows ``start:stop`` of a chunk's split (made when their row group is written)."""
    return SplitPart(names, columns, rows.rows(start, stop))
