"""The interactions to label, read as frames of whole users whose size does not grow with the store.

A user's labels depend on all of that user's interactions (a session score sums over the
session), so a chunk must never split a user. The interactions are read ordered by user, in
Arrow batches of a fixed number of rows; each batch is cut after its last complete user and
the rest (the last user, perhaps incomplete) is carried over to the next batch. A chunk is
thus about one batch long, longer only by a user bigger than a batch.

The order follows the unique index (user_id, item_id, ts, action), so neither SQLite nor
PostgreSQL sorts the whole table. Within a chunk the rows are put back in id order, the
order a whole-table read had, so float sums over a group add up in the same order.

One query reads at most ``SEGMENT_CHUNKS`` chunks; the next one goes on after the last user
read. A read transaction that lasted the whole run would keep SQLite from folding the
labels written meanwhile back into the database, and its write-ahead log would grow by
every label written (about 50 bytes each); between queries the log is folded back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing

import numpy as np
import pandas as pd
import pyarrow as pa

from timgen_data.errors import StoreError
from timgen_data.labeling.scenarios import LABELLED_ACTIONS
from timgen_data.store import Store
from timgen_data.store.batches import read_batches
from timgen_data.store.bulk import IN_BATCH
from timgen_data.store.query import fetch_rows, in_clause

COLUMNS = pa.schema([
    ("id", pa.int64()), ("user_id", pa.int64()), ("item_id", pa.int64()), ("ts", pa.int64()),
    ("action", pa.string()), ("value", pa.float64()), ("duration", pa.float64()),
])
# The columns each formula reads (item_id for the category): a column left out is one
# value a row less to read, send and convert.
_USED = {
    "movie": ("id", "user_id", "item_id", "action", "value"),
    "ecommerce": ("id", "user_id", "item_id", "ts", "action"),
    "video": tuple(COLUMNS.names),
}
SEGMENT_CHUNKS = 25
_READ_SQL = """
SELECT {columns}
FROM interactions i
WHERE i.user_id > :after {pending}
ORDER BY i.user_id
"""
_COUNT_SQL = "SELECT COUNT(*) FROM interactions i WHERE i.user_id > :after {pending}"
# Users with an interaction the scenario labels but has not labelled yet (one of another
# action never gets a label, so it does not make its user wait for one). SQLite keeps these
# users in a list of its own and reads each one's interactions through the index, in order.
_PENDING_USERS = """
AND i.user_id IN (
  SELECT p.user_id FROM interactions p
  LEFT JOIN labels l ON l.interaction_id = p.id AND l.scenario = :scenario
  WHERE p.user_id > :after AND l.interaction_id IS NULL AND p.action IN ({actions})
)
"""
_ITEMS_PAGE = "SELECT id, category FROM items WHERE id > :after ORDER BY id LIMIT :rows"
_ITEMS_PAGE_ROWS = 65_536


def _pending(scenario: str, everything: bool) -> tuple[str, dict[str, str]]:
    """The condition that keeps only users with something to label, unless ``everything``."""
    if everything:
        return "", {}
    actions, params = in_clause("action", list(LABELLED_ACTIONS[scenario]))
    return _PENDING_USERS.format(actions=actions), {"scenario": scenario, **params}


def count_rows(conn, scenario: str, everything: bool) -> int:
    """How many interactions :func:`user_chunks` will yield (the progress total)."""
    pending, params = _pending(scenario, everything)
    [(count,)] = fetch_rows(conn, _COUNT_SQL.format(pending=pending), {"after": -1, **params})
    return int(count)


def user_chunks(store: Store, scenario: str, everything: bool, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Frames of whole users (every interaction of each user, in id order) to label.

    ``everything`` reads every user; otherwise only users with an interaction ``scenario``
    labels but has not labelled yet. Columns: those of ``id, user_id, item_id, ts, action,
    value, duration`` that the scenario's formula reads, and ``category``.

    >>> for frame in user_chunks(store, "movie", everything=True, chunk_rows=200_000):  # doctest: +SKIP
    ...     labels = compute_labels("movie", frame, weights)
    """
    pending, params = _pending(scenario, everything)
    schema = pa.schema([COLUMNS.field(name) for name in _USED[scenario]])
    sql = _READ_SQL.format(columns=", ".join(f"i.{name}" for name in schema.names), pending=pending)
    categories: ItemCategories | None = None
    after, more = -1, True
    while more:
        more, read = False, 0
        with closing(_read(store, sql, {"after": after, **params}, schema, chunk_rows)) as batches:
            for table in whole_users(batches):
                # Read once the interactions' read has begun: every item they name is then stored.
                categories = categories or ItemCategories(store)
                frame = table.to_pandas().sort_values("id", kind="stable", ignore_index=True)
                frame["category"] = categories.of(frame["item_id"])
                yield frame
                after, read = int(table["user_id"][-1].as_py()), read + table.num_rows
                if read >= SEGMENT_CHUNKS * chunk_rows:  # go on in a new query, after this user
                    more = True
                    break
        if more:
            _fold_log(store)


def _fold_log(store: Store) -> None:
    """Copy what the write-ahead log holds into the SQLite database, now that no read of ours needs it.

    Done before the next query begins, so that query reads from the database alone and the
    next write may start the log over: the log then holds at most one segment's labels.
    """
    if store.dialect == "sqlite":
        with store.begin() as conn:  # a PRAGMA first opens no transaction: the checkpoint sees all
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


class ItemCategories:
    """Every item's category, held as one small code per item (the distinct names once).

    Looking categories up here costs less than joining them in SQL: a joined category is a
    string per row to read and convert, a lookup is one vectorised hash probe per row.
    """

    def __init__(self, store: Store):
        self._store, self._known = store, {}
        self._ids, self._codes = [np.empty(0, np.int64)], [np.empty(0, np.int32)]
        last = -1
        with store.begin() as conn:  # in pages along the primary key: a page of rows at a time
            while page := fetch_rows(conn, _ITEMS_PAGE, {"after": last, "rows": _ITEMS_PAGE_ROWS}):
                self._add(page)
                last = page[-1][0]
        self._index()

    def _add(self, rows: list[tuple]) -> None:
        self._ids.append(np.fromiter((i for i, _ in rows), dtype=np.int64, count=len(rows)))
        self._codes.append(np.fromiter((-1 if c is None else self._known.setdefault(c, len(self._known))
                                        for _, c in rows), dtype=np.int32, count=len(rows)))

    def _index(self) -> None:
        self._ids, self._codes = [np.concatenate(self._ids)], [np.concatenate(self._codes)]
        self._positions = pd.Index(self._ids[0])
        self._categories = pd.Categorical.from_codes(self._codes[0], categories=list(self._known))

    def of(self, item_ids: pd.Series) -> np.ndarray:
        """The categories of ``item_ids`` as Python strings, NaN where an item has none."""
        positions = self._positions.get_indexer(item_ids.to_numpy())
        if (positions < 0).any():  # items stored since this was read (a collect running meanwhile)
            self._read_more(np.unique(item_ids.to_numpy()[positions < 0]))
            positions = self._positions.get_indexer(item_ids.to_numpy())
        return np.asarray(self._categories.take(positions, allow_fill=True), dtype=object)

    def _read_more(self, ids: np.ndarray) -> None:
        with self._store.begin() as conn:
            for start in range(0, len(ids), IN_BATCH):
                placeholders, params = in_clause("i", ids[start:start + IN_BATCH].tolist())
                self._add(fetch_rows(conn, f"SELECT id, category FROM items WHERE id IN ({placeholders})", params))
        self._index()


def _read(store: Store, sql: str, params: dict, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    return read_batches(store, sql, params, schema, batch_rows=batch_rows)


def whole_users(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.Table]:
    """``batches`` ordered by ``user_id`` regrouped so that no table splits a user.

    >>> batch = pa.record_batch({"user_id": [1, 1, 2]})
    >>> [t["user_id"].to_pylist() for t in whole_users([batch, pa.record_batch({"user_id": [2, 3]})])]
    [[1, 1], [2, 2], [3]]
    """
    carried: pa.Table | None = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        table = pa.Table.from_batches([batch])
        if carried is not None:
            table = pa.concat_tables([carried, table])
        users = table.column("user_id").to_numpy()
        if np.any(users[1:] < users[:-1]):
            raise StoreError("the store returned interactions out of user order; a chunk would split a user")
        last_user_starts = int(np.searchsorted(users, users[-1], side="left"))
        if last_user_starts:
            yield table.slice(0, last_user_starts)
        carried = table.slice(last_user_starts)
    if carried is not None:
        yield carried
