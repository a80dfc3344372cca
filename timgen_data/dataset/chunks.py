"""The kept interactions, streamed in the dataset's order a chunk of whole users at a time.

The users are cut into runs of consecutive users (in the dataset's order) of about
``chunk_rows`` interactions; each run is one query that looks its users up through the
unique index (user_id, item_id, ts, action), so neither database sorts anything large,
and its Arrow batches are put together and sorted by (user, ts, item rank, action) in
memory. A chunk is thus about ``chunk_rows`` long, longer only by a user bigger than that;
however small the batches, a user's sequence is assembled whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.dataset.selection import Selection
from timgen_data.errors import StoreError
from timgen_data.store.batches import Snapshot

COLUMNS = pa.schema([
    pa.field("user_id", pa.int64(), nullable=False), pa.field("item_id", pa.int64(), nullable=False),
    pa.field("ts", pa.int64(), nullable=False), pa.field("action", pa.string(), nullable=False),
    pa.field("device", pa.string(), nullable=False), pa.field("platform", pa.string(), nullable=False),
    pa.field("geo", pa.string(), nullable=False), pa.field("value", pa.float64()),
    pa.field("text", pa.string(), nullable=False), pa.field("score", pa.float64(), nullable=False),
    pa.field("class", pa.string()), pa.field("utc_offset", pa.int32()),
])
# The user ids are written into the query (integers the build made, never user input):
# a list of thousands of bound parameters would pass the drivers' limits. A missing context
# value is "" in the dataset, so the database says so and no null needs handling; a missing
# value (NaN) and a missing class (apart from "" in the plot) do.
_SQL = """
SELECT i.user_id, i.item_id, i.ts, i.action, COALESCE(i.device, '') AS device,
       COALESCE(i.platform, '') AS platform, COALESCE(i.geo, '') AS geo, i.value, COALESCE(i.text, '') AS text,
       l.score, l.class, i.utc_offset
FROM interactions i
JOIN labels l ON l.interaction_id = i.id AND l.scenario = :scenario
WHERE i.user_id IN ({users}) AND l.score IS NOT NULL
"""


@dataclass(frozen=True)
class Chunk:
    """Whole users' interactions in the dataset's order; ``bounds[k]:bounds[k+1]`` is user k."""

    table: pa.Table  # COLUMNS plus ``item`` (the item's code), one chunk per column
    first_user: int  # position of user 0 in the dataset's order
    bounds: np.ndarray  # int64, num_users + 1

    @property
    def num_users(self) -> int:
        return len(self.bounds) - 1

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def ts(self) -> np.ndarray:
        return self.table.column("ts").to_numpy()


def user_runs(read_rows: np.ndarray, chunk_rows: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` runs of consecutive users with at least ``chunk_rows`` rows each (the last may have fewer).

    >>> list(user_runs(np.array([3, 3, 10, 1]), 5))
    [(0, 2), (2, 3), (3, 4)]
    """
    ends = np.cumsum(read_rows)
    start = 0
    while start < len(read_rows):
        before = ends[start - 1] if start else 0
        end = int(np.searchsorted(ends, before + chunk_rows, side="left")) + 1
        end = min(max(end, start + 1), len(read_rows))
        yield start, end
        start = end


def read_chunks(view: Snapshot, selection: Selection, chunk_rows: int) -> Iterator[Chunk]:
    """Every kept interaction, in chunks of whole users in the dataset's order."""
    position = np.full(len(selection.users.names), -1, dtype=np.int64)
    position[selection.order] = np.arange(selection.num_users)
    runs = list(user_runs(selection.read_rows, chunk_rows))

    def ask(start: int, end: int) -> Iterator[pa.RecordBatch]:
        users = ", ".join(map(str, selection.users.ids[selection.order[start:end]].tolist()))
        return view.ask(_SQL.format(users=users), {"scenario": selection.scenario}, COLUMNS, batch_rows=chunk_rows)

    answer = ask(*runs[0]) if runs else iter(())
    for k, (start, end) in enumerate(runs):
        table = pa.Table.from_batches(answer, schema=COLUMNS)
        if k + 1 < len(runs):
            answer = ask(*runs[k + 1])  # the store reads the next chunk while this one is worked on
        yield _in_order(table, selection, position, start, end)


def _in_order(table: pa.Table, selection: Selection, position: np.ndarray, start: int, end: int) -> Chunk:
    """The kept rows of ``table``, sorted; a row is kept when its item is (its user always is)."""
    user = position[selection.users.code(table.column("user_id").to_numpy())]
    item = selection.items.code(table.column("item_id").to_numpy())
    rank = np.where(item >= 0, selection.item_rank[item], -1)
    keep = (rank >= 0) & (user >= 0)
    table = table.append_column("item", pa.array(item)).append_column("_user", pa.array(user))
    table = table.append_column("_rank", pa.array(rank)).filter(pa.array(keep))
    order = pc.sort_indices(table, sort_keys=[("_user", "ascending"), ("ts", "ascending"),
                                              ("_rank", "ascending"), ("action", "ascending")])
    table = table.take(order).combine_chunks()
    user = table.column("_user").to_numpy()
    counts = np.bincount(user - start, minlength=end - start)
    if not np.array_equal(counts, selection.lengths[start:end]):
        # Cannot happen while every read shares one read transaction; said plainly if it ever does.
        raise StoreError("the store changed while build read it; run the build again")
    bounds = np.r_[0, np.cumsum(counts)].astype(np.int64)
    return Chunk(table.drop_columns(["_user", "_rank"]), start, bounds)
