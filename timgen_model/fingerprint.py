"""The dataset fingerprint: sha256 of the contract's content, the same for a folder and its Hub
copy. Checkpoints record it, and ``evaluate``, ``generate`` and ``train --resume`` refuse data
whose fingerprint differs.

The bytes hashed are, per split: the split name and a NUL, the user ids joined by NUL, the row
offsets (int64), the item ids joined by NUL, then every interaction's timestamp (int64),
score (float32, NaN where missing) and is_target (bool); then the catalogue's item ids joined
by NUL. Each part is one pass over one column, batch by batch, so memory holds one batch of
rows however large the dataset; the value is the one hashing whole tables gives.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_common.progress import SILENT, Progress
from timgen_model.contract import SPLITS, ContractSource, ContractTables, as_source
from timgen_model.errors import DatasetError

BATCH_ROWS = 1024
TASK = "fingerprint"


class _JoinedStrings:
    """Feeds ``"\\0".join(all strings)`` to ``digest`` one array at a time."""

    def __init__(self, digest, what: str):
        self.digest, self.what, self.empty = digest, what, True

    def add(self, strings: pa.Array) -> None:
        if strings.null_count:
            raise DatasetError(f"a {self.what} is missing (null); rebuild the dataset with `timgen-data build`")
        if len(strings) == 0:
            return
        if not self.empty:
            self.digest.update(b"\0")
        whole = pa.ListArray.from_arrays(pa.array([0, len(strings)], pa.int32()), strings)
        self.digest.update(pc.binary_join(whole, "\0")[0].as_buffer())
        self.empty = False


def _flat_numbers(column: pa.Array, dtype) -> np.ndarray:
    values = pc.list_flatten(column)
    if dtype is bool:
        return values.fill_null(False).to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(values.to_numpy(zero_copy_only=False).astype(dtype))


def fingerprint(data: ContractSource | ContractTables, *, batch_rows: int = BATCH_ROWS,
                progress: Progress = SILENT) -> str:
    """The dataset's fingerprint (see the module's docstring for what is hashed).

    >>> fingerprint(open_contract("out/ml-100k"))[:12]  # doctest: +SKIP
    '3f2a9c0d41be'
    """
    source = as_source(data)
    digest = hashlib.sha256()
    progress.start(TASK, total=5 * sum(source.splits[s].num_rows for s in SPLITS), unit="rows")
    for split in SPLITS:
        reader = source.splits[split]
        digest.update(f"{split}\0".encode())
        users, lengths = _JoinedStrings(digest, "user id"), []
        # Row lengths from the cheapest list column: the encoder checks that every list column agrees.
        for batch in reader.batches(["user_id", "is_target"], batch_rows):
            users.add(batch.column("user_id"))
            lengths.append(pc.list_value_length(batch.column("is_target")).fill_null(0).to_numpy(zero_copy_only=False))
            progress.advance(TASK, batch.num_rows)
        # One number per row: the offsets wait in memory until every user id is hashed.
        row_lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        digest.update(np.r_[0, np.cumsum(row_lengths)].astype(np.int64).tobytes())
        items = _JoinedStrings(digest, "item id")
        for batch in reader.batches(["item_ids"], batch_rows):
            items.add(pc.list_flatten(batch.column("item_ids")))
            progress.advance(TASK, batch.num_rows)
        for column, dtype in (("timestamps", np.int64), ("scores", np.float32), ("is_target", bool)):
            for batch in reader.batches([column], batch_rows):
                digest.update(_flat_numbers(batch.column(column), dtype))
                progress.advance(TASK, batch.num_rows)
    _JoinedStrings(digest, "catalogue item id").add(source.items["item_id"].combine_chunks())
    progress.finish(TASK)
    return digest.hexdigest()
