"""Writing tables as Parquet shards, counting the bytes so a full disk can say how much room a build needs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROWS_PER_SHARD = 50_000


class ShardWriter:
    """Writes each table as ``<split>-<k>-of-<n>.parquet`` files and keeps count of what it wrote.

    ``total_units`` is the size of everything the build will write, in the units the
    callers pass (interaction positions, item rows), so the bytes per unit written so far
    project the whole build's size.
    """

    def __init__(self, total_units: int):
        self.total_units = max(int(total_units), 1)
        self.units_written = 0.0
        self.bytes_written = 0
        self._pending_ratio = 0.0  # uncompressed bytes per unit of the shard being written

    def write(self, folder: Path, split: str, table: pa.Table, units: int | None = None) -> list[str]:
        """Write ``table`` in shards under ``folder``; return their paths relative to the dataset."""
        folder.mkdir(parents=True, exist_ok=True)
        units_per_row = (units if units is not None else table.num_rows) / max(table.num_rows, 1)
        count = max(1, -(-table.num_rows // ROWS_PER_SHARD))
        names = []
        for index in range(count):
            name = f"{split}-{index:05d}-of-{count:05d}.parquet"
            part = table.slice(index * ROWS_PER_SHARD, ROWS_PER_SHARD)
            self._pending_ratio = part.nbytes / max(part.num_rows * units_per_row, 1e-9)
            pq.write_table(part, folder / name, compression="zstd", row_group_size=10_000)
            self.bytes_written += (folder / name).stat().st_size
            self.units_written += part.num_rows * units_per_row
            names.append(f"{folder.name}/{name}")
        return names

    def projected_bytes(self) -> int | None:
        """About how many bytes the whole build writes, from the shards written so far (None before the first)."""
        if self.units_written > 0:
            return int(self.bytes_written / self.units_written * self.total_units)
        return None

    def uncompressed_bytes(self) -> int:
        """An upper bound when no shard could be written: the build's size before compression."""
        return int(self._pending_ratio * self.total_units)
