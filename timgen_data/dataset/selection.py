"""What a build keeps, decided before it writes: the sources, the users in their order, the items.

Which sources have labels, how many interactions each leaves out, and the filters
(``--min-interactions``, ``--k-core``) need counts over the whole corpus. A first pass
streams the (user, item) pair of every labelled interaction and counts them in one number
per user and per item, indexed by the store's surrogate ids; a k-core takes one more pass
per round. What comes out is per user and per item only: the kept users in the dataset's
order (natural order of their ids) with their lengths, and each item's rank in natural
order, which orders a user's interactions that share a timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.dataset.filters import k_core_of
from timgen_data.dataset.sequences import natural_order
from timgen_data.dataset.sources import ChosenSources, labelled_sources
from timgen_data.store.batches import Snapshot

_PAIRS = pa.schema([pa.field("user_id", pa.int64(), nullable=False), pa.field("item_id", pa.int64(), nullable=False)])
# Labels first: a scan of the labels table with a primary-key lookup per interaction is
# cheaper than an index seek into labels per interaction. Other sources' rows are dropped by code.
_PAIRS_SQL = """
SELECT i.user_id, i.item_id FROM labels l JOIN interactions i ON i.id = l.interaction_id
WHERE l.scenario = :scenario AND l.score IS NOT NULL
"""
# Every interaction per user, labelled or not, from the unique index alone.
_TOTALS = pa.schema([pa.field("user_id", pa.int64(), nullable=False), pa.field("n", pa.int64(), nullable=False)])
_TOTALS_SQL = "SELECT user_id, COUNT(*) AS n FROM interactions GROUP BY user_id"
_IDS = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("external_id", pa.string(), nullable=False)])


@dataclass(frozen=True)
class Entities:
    """The users (or items) of the sources read: surrogate id → dense code → source and id."""

    codes: np.ndarray  # int64 per surrogate id (index), -1 where not of the sources read
    ids: np.ndarray  # int64 per code: the surrogate id
    sources: list[str]  # the sources read
    source: np.ndarray  # int16 per code: its source's index in ``sources``
    external_ids: pa.Array  # string per code
    names: pa.Array  # string per code: the id in the dataset (``source:id`` when prefixed)

    def code(self, ids: np.ndarray) -> np.ndarray:
        """Codes of surrogate ``ids``; -1 for ids of other sources or newer than the table read."""
        known = ids < len(self.codes)
        return np.where(known, self.codes[np.where(known, ids, 0)], -1)

    def named(self, prefixed: bool) -> Entities:
        names = self.external_ids
        if prefixed:  # codes run source by source, so each source's prefix goes on one slice
            bounds = np.r_[0, np.cumsum(np.bincount(self.source, minlength=len(self.sources)))]
            names = pa.concat_arrays([
                pc.binary_join_element_wise(source, names.slice(start, stop - start), ":")
                for source, start, stop in zip(self.sources, bounds[:-1], bounds[1:])] or [names])
        return Entities(self.codes, self.ids, self.sources, self.source, self.external_ids, names)


@dataclass(frozen=True)
class Selection:
    """The sources a build reads, the users it writes, in order, and the items their interactions may use."""

    scenario: str
    chosen: ChosenSources
    users: Entities
    items: Entities
    order: np.ndarray  # user codes of the kept users, in the dataset's order
    lengths: np.ndarray  # interactions kept per user of ``order``
    read_rows: np.ndarray  # labelled interactions per user of ``order`` (what a read returns)
    item_rank: np.ndarray  # per item code: position in natural order (-1: not a kept item)

    @property
    def num_users(self) -> int:
        return len(self.order)

    @property
    def num_interactions(self) -> int:
        return int(self.lengths.sum())

    @property
    def num_items(self) -> int:
        """Items the kept interactions may use (at most the items written)."""
        return int((self.item_rank >= 0).sum())

    def user_names(self) -> pa.Array:
        """Dataset ids of the kept users, in order."""
        return self.users.names.take(pa.array(self.order))


def select(view: Snapshot, scenario: str, sources: list[str], *, requested: bool, min_interactions: int,
           k_core: int, batch_rows: int) -> Selection:
    """Count, filter and order the labelled interactions of ``sources`` (one pass over their
    pairs, one more per k-core round); ``requested``: the user named the sources."""
    users = _entities(view, "users", sources)
    items = _entities(view, "items", sources)

    def pairs() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in view.read_batches(_PAIRS_SQL, {"scenario": scenario}, _PAIRS, batch_rows=batch_rows):
            user = users.code(batch.column(0).to_numpy())
            item = items.code(batch.column(1).to_numpy())
            mine = (user >= 0) & (item >= 0)
            yield user[mine], item[mine]

    every_user, every_item = np.ones(len(users.external_ids), bool), np.ones(len(items.external_ids), bool)
    labelled = k_core_of(pairs, every_user, every_item, 1)  # who has a labelled interaction at all
    chosen = labelled_sources(sources, scenario, _per_source(users, _totals(view, users, batch_rows)),
                              _per_source(users, labelled.user_counts), requested=requested)
    users, items = users.named(chosen.prefixed), items.named(chosen.prefixed)
    core = k_core_of(pairs, labelled.users, labelled.items, k_core,
                     counts=(labelled.user_counts, labelled.item_counts)) if k_core > 1 else labelled
    # The order is the natural order among every user and item with a labelled interaction,
    # whether or not a filter drops them: whether ids count as numbers depends on all of them.
    user_order = _present_in_natural_order(users.names, labelled.users)
    kept = core.users[user_order] & (core.user_counts[user_order] >= max(min_interactions, 1))
    order = user_order[kept]
    item_rank = np.full(len(items.names), -1, dtype=np.int64)
    item_order = _present_in_natural_order(items.names, labelled.items)
    item_rank[item_order] = np.arange(len(item_order))
    item_rank[~core.items] = -1
    return Selection(scenario, chosen, users, items, order, core.user_counts[order], labelled.user_counts[order],
                     item_rank)


def _present_in_natural_order(names: pa.Array, present: np.ndarray) -> np.ndarray:
    codes = np.flatnonzero(present)
    return codes[natural_order(names.take(pa.array(codes)))]


def _totals(view: Snapshot, users: Entities, batch_rows: int) -> np.ndarray:
    """Interactions per user code, labelled or not."""
    totals = np.zeros(len(users.external_ids), dtype=np.int64)
    for batch in view.read_batches(_TOTALS_SQL, None, _TOTALS, batch_rows=batch_rows):
        user = users.code(batch.column(0).to_numpy())
        np.add.at(totals, user[user >= 0], batch.column(1).to_numpy()[user >= 0])
    return totals


def _per_source(users: Entities, counts: np.ndarray) -> dict[str, int]:
    """``counts`` per user summed per source (sources without a count are absent)."""
    sums = np.bincount(users.source, weights=counts, minlength=len(users.sources))
    return {source: int(n) for source, n in zip(users.sources, sums) if n}


def _entities(view: Snapshot, table: str, sources: list[str]) -> Entities:
    """The rows of ``table`` (users or items) of ``sources``, source by source, each in id order."""
    parts = [pa.Table.from_batches(view.read_batches(
        f"SELECT id, external_id FROM {table} WHERE source = :source ORDER BY id", {"source": source}, _IDS), _IDS)
        for source in sources]
    ids = np.concatenate([part.column("id").to_numpy() for part in parts])
    codes = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
    codes[ids] = np.arange(len(ids))
    source = np.repeat(np.arange(len(sources), dtype=np.int16), [part.num_rows for part in parts])
    external = pa.concat_arrays([chunk for part in parts for chunk in part.column("external_id").chunks]) \
        if ids.size else pa.array([], pa.string())
    return Entities(codes, ids, list(sources), source, external, external)
