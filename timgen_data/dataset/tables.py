"""Turning chunks of sorted interactions + split rows into Arrow tables of the dataset contract.

A chunk's rows wait in memory until their row group is written, in every split, so they
wait compact (:class:`ChunkColumns`): items as codes into the one array of item ids, and a
text column that holds one value throughout the chunk (an action, a context the source
does not give) as that value alone. The tables made from them hold the contract's plain
types, so the Parquet bytes are those of plain arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from timgen_contract import MODALITIES, embedding_column
from timgen_contract.features import INTERACTIONS_FEATURES, ITEMS_FEATURES, arrow_schema
from timgen_data.dataset.chunks import Chunk
from timgen_data.dataset.holiday_flags import holiday_flags
from timgen_data.dataset.splits import SplitRows, slice_positions

# Contract column ← chunk column; "" stands for unknown in the context columns (the read
# says so already), and a missing value is NaN (a score never is: unlabelled interactions
# are not built).
_STRINGS = {"actions": "action", "devices": "device", "platforms": "platform", "geos": "geo", "classes": "class",
            "texts": "text"}
_FLOATS = {"scores": "score", "values": "value"}
INTERACTIONS_SCHEMA = arrow_schema(INTERACTIONS_FEATURES)


class ChunkColumns:
    """The contract's list columns of one chunk, in its order, kept compact until :meth:`take`."""

    def __init__(self, chunk: Chunk, item_names: pa.Array):
        table = chunk.table
        self.item_names = item_names
        self.items = _flat(table, "item").cast(pa.int32())  # codes into item_names
        self.columns: dict[str, pa.Array | str] = {"timestamps": _flat(table, "ts")}
        for name, column in _STRINGS.items():
            self.columns[name] = _compact(pc.fill_null(_flat(table, column), ""))
        for name, column in _FLOATS.items():
            values = _flat(table, column).to_numpy(zero_copy_only=False)  # nulls become NaN
            self.columns[name] = pa.array(values.astype(np.float32), type=pa.float32())
        offsets = _flat(table, "utc_offset").cast(pa.int32())  # null: the source gave no zone
        self.columns["utc_offsets"] = offsets
        self.columns["holidays"] = holiday_flags(self.columns["timestamps"].to_numpy(), offsets, _flat(table, "geo"))

    def repeated(self, name: str) -> str | None:
        """The one value column ``name`` holds in every row of the chunk, if it does."""
        column = self.columns.get(name)
        return column if isinstance(column, str) else None

    def take(self, name: str, positions: pa.Array) -> pa.Array:
        """Column ``name`` at ``positions``, a plain Arrow array of the contract's type."""
        if name == "item_ids":
            return self.item_names.take(self.items.take(positions))
        column = self.columns[name]
        if isinstance(column, str):
            return RepeatedText().array(column, len(positions))
        taken = column.take(positions)
        return taken.dictionary_decode() if isinstance(taken, pa.DictionaryArray) else taken

    def item_ids(self) -> pa.Array:
        return self.item_names.take(self.items)


def _compact(values: pa.Array) -> pa.Array | str:
    """A text column as the one value it holds in every row, as codes into its distinct values
    where they repeat (a class, a device), or as it is (a review)."""
    if len(values) and pc.all(pc.equal(values, values[0])).as_py():
        return values[0].as_py()
    encoded = pc.dictionary_encode(values)
    return encoded if len(encoded.dictionary) * 2 < len(values) else values


class RepeatedText:
    """String arrays of one value repeated, sharing their buffers: a column the source leaves
    empty costs one buffer for every such column of a row group, not one each."""

    def __init__(self) -> None:
        self._buffers: dict[str, tuple[int, pa.Buffer, pa.Buffer]] = {}

    def array(self, value: str, count: int) -> pa.Array:
        size, offsets, data = self._buffers.get(value, (-1, None, None))
        if size < count:
            size = max(count, 2 * size)
            encoded = value.encode()
            offsets = pa.py_buffer(np.arange(size + 1, dtype=np.int32) * len(encoded))
            data = pa.py_buffer(encoded * size)
            self._buffers[value] = (size, offsets, data)
        return pa.StringArray.from_buffers(count, offsets, data)


def _flat(table: pa.Table, column: str) -> pa.Array:
    chunked = table.column(column)
    return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()


class SplitPart:
    """One split's rows ``start:stop`` of a chunk, made into the ``interactions`` columns when
    their row group is written (:func:`join_parts`)."""

    def __init__(self, user_names: pa.Array, columns: ChunkColumns, rows: SplitRows):
        self._names, self._columns, self._rows = user_names, columns, rows
        self.lengths = rows.ends - rows.starts
        self._positions = pa.array(slice_positions(rows.starts, rows.ends).astype(np.int32))  # within a chunk

    def user_ids(self) -> pa.Array:
        return self._names.take(pa.array(self._rows.users, pa.int64()))

    def repeated(self, name: str) -> str | None:
        return self._columns.repeated(name)

    def values(self, name: str) -> pa.Array:
        """The flat values of list column ``name``."""
        if name == "is_target":
            return pa.array(self._rows.is_target, pa.bool_())
        return self._columns.take(name, self._positions)


def join_parts(parts: list[SplitPart], schema: pa.Schema, repeated: RepeatedText | None = None) -> pa.Table:
    """The ``interactions`` row group of ``parts``, a column at a time (see :func:`shards.join_columns`);
    a text column holding one value in every part is made from ``repeated``'s shared buffers."""
    repeated = repeated or RepeatedText()
    lengths = np.concatenate([part.lengths for part in parts])
    offsets = pa.array(np.r_[0, np.cumsum(lengths)].astype(np.int32))
    total = int(lengths.sum())
    columns = []
    for field in schema:
        if field.name == "user_id":
            columns.append(pa.concat_arrays([part.user_ids() for part in parts]))
            continue
        values = {part.repeated(field.name) for part in parts}
        if len(values) == 1 and None not in values:
            flat = repeated.array(values.pop(), total)
        else:
            flat = pa.chunked_array([part.values(field.name) for part in parts], field.type.value_type).combine_chunks()
        columns.append(pa.ListArray.from_arrays(offsets, flat, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _strings(column: pd.Series) -> list[str | None]:
    return [value if isinstance(value, str) else None for value in column]


def items_table(items: pd.DataFrame, embeddings: dict[str, dict[str, list[float]]]) -> pa.Table:
    """The ``items`` table; ``embeddings[modality][item_id]`` is a vector (absent → null)."""
    columns = {
        "item_id": items["item_id"].tolist(),
        # pandas reads a text column where some rows are NULL with NaN in their place.
        "title": _strings(items["title"]),
        "text": _strings(items["text"]),
        "class": items["class"].fillna("").tolist(),
        "classes": items["classes"].tolist(),
        "year": [None if pd.isna(y) else int(y) for y in items["year"]],
    }
    for modality in MODALITIES:
        vectors = embeddings.get(modality, {})
        columns[embedding_column(modality)] = [vectors.get(i) for i in columns["item_id"]]
    return pa.Table.from_pydict(columns, schema=arrow_schema(ITEMS_FEATURES))
