"""Writing tables as Parquet shards as their rows arrive, counting the bytes so a full disk can
say how much room a build needs.

A split's rows come a chunk of users at a time; they are written in row groups of
``ROWS_PER_GROUP`` rows, ``ROWS_PER_SHARD`` rows to a file, the moment a row group fills.
Rows waiting for their row group are not tables yet: each chunk hands over a function that
makes any run of its rows, so the three splits of a chunk share one copy of its data and a
table exists only for the row group being written. Files are named
``<split>-<k>-of-<n>.parquet``; ``n`` is known only at the end, so a shard is written
under a provisional name and renamed when its split is complete. A shard's bytes are the
same as if the whole split had been written at once with ``pq.write_table(...,
row_group_size=ROWS_PER_GROUP)``: the same rows, row groups and options.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

ROWS_PER_SHARD = 50_000
ROWS_PER_GROUP = 10_000
_OPTIONS = {"compression": "zstd"}


class Columns(Protocol):
    def column(self, index: int) -> pa.Array | pa.ChunkedArray: ...


# Makes one row group's table from the parts that hold its rows, in order.
Assemble = Callable[[list, pa.Schema], pa.Table]


def join_columns(parts: list[Columns], schema: pa.Schema) -> pa.Table:
    """The parts' rows as one table with one contiguous chunk per column, as a slice of a whole
    table has (so the pages come out the same), put together a column at a time: besides the
    table, only one column's pieces are in memory."""
    columns = []
    for k, field in enumerate(schema):
        pieces = [piece for part in parts for piece in _chunks(part.column(k))]
        columns.append(pa.chunked_array(pieces, field.type).combine_chunks())
    return pa.Table.from_arrays(columns, schema=schema)


class ShardWriter:
    """Opens the shards of each split and keeps count of what they wrote.

    ``interactions`` is the number of interactions the build streams and ``other_rows`` the
    rows of the whole tables it writes besides (items, users). The bytes per unit written so
    far (a position of an interactions row, a row of the others) project the whole build's
    size; the interactions' positions are projected from those handed over so far, per
    interaction streamed.
    """

    def __init__(self, interactions: int, other_rows: int = 0):
        self.interactions = max(int(interactions), 1)
        self.other_rows = int(other_rows)
        self.streamed = 0  # interactions whose rows were handed to the shards
        self.positions = 0  # positions of the interactions rows handed over
        self.units_written = 0
        self.bytes_written = 0  # of shards closed
        self._open: list[SplitShards] = []
        self._pending_ratio = 0.0  # uncompressed bytes per unit of the row group being written

    def open(self, folder: Path, split: str, schema: pa.Schema, *, units_column: str | None = None,
             assemble: Assemble = join_columns) -> SplitShards:
        """The shards of ``split`` under ``folder``; ``units_column`` names the list column whose
        lengths count as the rows' units (an interactions row's positions), else a row is a unit;
        ``assemble`` makes a row group's table from the parts ``append``'s functions made."""
        folder.mkdir(parents=True, exist_ok=True)
        shards = SplitShards(self, folder, split, schema, units_column, assemble)
        self._open.append(shards)
        return shards

    def write(self, folder: Path, split: str, table: pa.Table) -> list[str]:
        """Write a whole table (items, users) in shards under ``folder``; return their paths relative to the dataset."""
        shards = self.open(folder, split, table.schema)
        shards.append(table.num_rows, lambda start, stop: table.slice(start, stop - start))
        return shards.close()

    def projected_bytes(self) -> int | None:
        """About how many bytes the whole build writes, from the row groups written so far (None before the first)."""
        if self.units_written == 0:
            return None
        written = self.bytes_written + sum(s.open_bytes for s in self._open)
        return int(written / self.units_written * self._total_units())

    def uncompressed_bytes(self) -> int:
        """An upper bound when no row group could be written: the build's size before compression."""
        return int(self._pending_ratio * self._total_units())

    def _total_units(self) -> int:
        # Each interaction is in at most three rows (one per split) until the streamed part says better.
        per_interaction = self.positions / self.streamed if self.streamed else 3.0
        return int(per_interaction * self.interactions) + self.other_rows


class SplitShards:
    """The shards of one split, filled row group by row group (see :class:`ShardWriter`)."""

    def __init__(self, owner: ShardWriter, folder: Path, split: str, schema: pa.Schema, units_column: str | None,
                 assemble: Assemble):
        self._owner, self._folder, self._split, self._schema = owner, folder, split, schema
        self._units_column, self._assemble = units_column, assemble
        self._pending: list[list] = []  # [make, next row, end]
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._files: list[Path] = []
        self._rows_in_shard = 0
        # Bytes of the shard being written, as of its last row group: counted when written, since
        # after a failure (a full disk) the files are gone by the time the room needed is worked out.
        self.open_bytes = 0
        self.rows = 0

    def append(self, rows: int, make: Callable[[int, int], Any], positions: int = 0) -> None:
        """Add ``rows`` rows at the end of the split, made when their row group is written by
        ``make(start, stop)`` (a part holding rows start:stop, which ``assemble`` joins; by
        default anything with ``column(k)``, as a table has); ``positions``: their list
        positions. Full row groups are written at once."""
        self._owner.positions += positions
        self._pending.append([make, 0, rows])
        self._pending_rows += rows
        self.rows += rows
        while self._pending_rows >= (size := self._group_rows()):
            self._write_group(size)

    def _take(self, count: int) -> pa.Table:
        """The next ``count`` waiting rows as one table."""
        parts = []
        while count:
            waiting = self._pending[0]
            make, start, stop = waiting
            rows = min(count, stop - start)
            parts.append(make(start, start + rows))
            count -= rows
            self._pending_rows -= rows
            if start + rows == stop:
                self._pending.pop(0)
            else:
                waiting[1] = start + rows
        return self._assemble(parts, self._schema)

    def close(self) -> list[str]:
        """Write what is left and name the shards; return their paths relative to the dataset."""
        if self._pending_rows:
            self._write_group(self._pending_rows)
        self._close_shard()
        if not self._files:  # an empty split is still one file, as a whole-table write gives
            self._files.append(self._provisional(0))
            pq.write_table(self._schema.empty_table(), self._files[0], row_group_size=ROWS_PER_GROUP, **_OPTIONS)
            self._owner.bytes_written += self._files[0].stat().st_size
        self._owner._open.remove(self)
        names = []
        for index, path in enumerate(self._files):
            name = f"{self._split}-{index:05d}-of-{len(self._files):05d}.parquet"
            path.rename(self._folder / name)
            names.append(f"{self._folder.name}/{name}")
        return names

    def _group_rows(self) -> int:
        """Rows of the next row group: a shard's last one ends with the shard."""
        return min(ROWS_PER_GROUP, ROWS_PER_SHARD - self._rows_in_shard)

    def _write_group(self, rows: int) -> None:
        """Write the next ``rows`` waiting rows as one row group."""
        group = self._take(rows)
        units = _list_length(group.column(self._units_column)) if self._units_column else group.num_rows
        self._owner._pending_ratio = group.nbytes / max(units, 1e-9)
        if self._writer is None:
            self._files.append(self._provisional(len(self._files)))
            self._writer = pq.ParquetWriter(self._files[-1], self._schema, **_OPTIONS)
        self._writer.write_table(group, row_group_size=ROWS_PER_GROUP)
        self._owner.units_written += units
        self._rows_in_shard += group.num_rows
        self.open_bytes = self._files[-1].stat().st_size
        del group
        # Hand the row group's memory back at once: the allocator would keep it for a while.
        pa.default_memory_pool().release_unused()
        if self._rows_in_shard >= ROWS_PER_SHARD:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer, self._rows_in_shard, self.open_bytes = None, 0, 0
        self._owner.bytes_written += self._files[-1].stat().st_size

    def _provisional(self, index: int) -> Path:
        return self._folder / f".{self._split}-{index:05d}.parquet.partial"


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def _list_length(column: pa.ChunkedArray) -> int:
    """How many values the lists of ``column`` hold together."""
    return sum(int(chunk.offsets[-1].as_py() - chunk.offsets[0].as_py()) for chunk in column.chunks if len(chunk))
