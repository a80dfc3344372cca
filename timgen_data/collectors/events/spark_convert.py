"""What the Spark engine's executors run: the local collector's conversion, batch by batch.

Spark hands each task its rows as Arrow batches, already ordered by (file, row) and
partitioned so that a batch of the local collector (rows ``k * batch_rows + 1`` …
``(k + 1) * batch_rows`` of one file) never spans two tasks. The task gathers each such
batch (one batch in memory, as the local collector holds) and calls the local
:func:`~timgen_data.collectors.events.convert.convert_batch` on it, so the mapping, the
time zones, the action values and the value checks apply exactly as they do locally.

Nothing raises on an executor for a value the mapping refuses: the batch becomes one
*error row* (the error's class and message), so the driver can report the first failing
batch in file order — the one the local collector would have stopped at — and store nothing.
Every other row leaves with what the local collector needs to store and report it: the kept
rows' fields, a rejected row's reason, an unmapped row's action value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from timgen_data.collectors.events.convert import (
    OUTPUT,
    EventValueError,
    UnmappedActionError,
    convert_batch,
)
from timgen_data.collectors.events.mapping import EventMapping
from timgen_data.collectors.events.read import Batch, arrow_frame

# Columns of the rows Spark reads, beside the mapped ones (named c0, c1, … so no log column collides).
PATH, ROW, BATCH = "__path", "__row", "__batch"
ERRORS: dict[str, type[Exception]] = {"EventValueError": EventValueError, "UnmappedActionError": UnmappedActionError}
_NUMBERS = ("value", "duration")
OUT_SCHEMA = pa.schema(
    [pa.field("file", pa.int64()), pa.field("position", pa.int64())]
    + [pa.field(name, pa.int64() if name in ("ts", "utc_offset") else pa.float64() if name in _NUMBERS
                else pa.string())
       for name in OUTPUT]
    + [pa.field(name, pa.string()) for name in ("reason", "unmapped", "error", "message")])
# The same schema as Spark writes it in DDL, for ``mapInArrow``.
OUT_DDL = ", ".join(f"{f.name} {'bigint' if f.type == pa.int64() else 'double' if f.type == pa.float64() else 'string'}"
                    for f in OUT_SCHEMA)


@dataclass(frozen=True)
class FilePlan:
    """What a task needs to know of one input file (sent to the executors with the function)."""

    index: int  # the file's place in the run's order
    label: str  # how messages name it
    done: int  # rows stored by an earlier run (its cursor): rows up to here are converted, not sent back


def converter(mapping: EventMapping, fields: dict[str, str], files: dict[str, FilePlan],
              batch_rows: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function: ``fields`` maps our field → its column in the rows Spark hands over,
    ``files`` each file's path as Spark names it (``_metadata.file_path``) → its plan."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pending: list[pa.RecordBatch] = []
        key: tuple[str, int] | None = None
        for record_batch in batches:
            for piece_key, piece in _runs(record_batch):
                if piece_key != key and pending:
                    yield _convert(pending, mapping, fields, files[key[0]])
                    pending = []
                key = piece_key
                pending.append(piece)
        if pending:
            yield _convert(pending, mapping, fields, files[key[0]])

    return run


def _runs(record_batch: pa.RecordBatch) -> Iterator[tuple[tuple[str, int], pa.RecordBatch]]:
    """The batch cut where (file, local batch) changes; Spark hands rows sorted by both."""
    if not record_batch.num_rows:
        return
    paths = record_batch.column(PATH).to_numpy(zero_copy_only=False)
    numbers = record_batch.column(BATCH).to_numpy()
    changes = np.flatnonzero((paths[1:] != paths[:-1]) | (numbers[1:] != numbers[:-1])) + 1
    for start, stop in zip(np.r_[0, changes], np.r_[changes, len(paths)]):
        yield (str(paths[start]), int(numbers[start])), record_batch.slice(start, stop - start)


def _convert(pieces: list[pa.RecordBatch], mapping: EventMapping, fields: dict[str, str],
             plan: FilePlan) -> pa.RecordBatch:
    rows = pa.Table.from_batches(pieces).combine_chunks().to_batches()[0]
    positions = rows.column(ROW).to_numpy().astype(np.int64)
    try:
        converted = convert_batch(Batch(arrow_frame(rows, fields), positions), mapping, plan.label, "row")
    except tuple(ERRORS.values()) as error:
        return _table({"file": [plan.index], "position": [int(positions[0])], "error": [type(error).__name__],
                       "message": [str(error)]}, 1)
    kept = converted.frame[converted.frame["position"] > plan.done]
    rejected = [(p, r) for p, r in converted.rejected if p > plan.done]
    unmapped = [(p, v) for p, v in converted.unmapped if p > plan.done]
    n = len(kept) + len(rejected) + len(unmapped)
    columns: dict[str, list] = {"file": [plan.index] * n,
                                "position": kept["position"].tolist() + [p for p, _ in rejected + unmapped]}
    blank = [None] * (len(rejected) + len(unmapped))
    for name in OUTPUT:
        values = kept[name]
        if name in _NUMBERS or name == "utc_offset":
            values = values.astype(object).where(values.notna(), None)
        columns[name] = values.tolist() + blank
    columns["reason"] = [None] * len(kept) + [r for _, r in rejected] + [None] * len(unmapped)
    columns["unmapped"] = [None] * (len(kept) + len(rejected)) + [v for _, v in unmapped]
    out = _table(columns, n)
    # In file order, as the local collector meets them: the driver's cursor is the last row stored.
    return out.take(pa.array(np.argsort(out.column("position").to_numpy(), kind="stable")))


def _table(columns: dict[str, list], n: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(columns.get(f.name, [None] * n), type=f.type) for f in OUT_SCHEMA], schema=OUT_SCHEMA)
