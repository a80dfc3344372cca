"""The MMRec toolbox layout: one ``.inter`` with ``x_label``, id mappings and feature arrays.

MMRec expects 0-based contiguous ``userID`` / ``itemID`` and the split as ``x_label``
(0 train, 1 validation, 2 test). Only items that occur in an interaction get an id, because
MMRec sizes its item tables from the interactions; ``image_feat.npy`` / ``text_feat.npy``
rows follow ``itemID`` order, with zeros where an item has no vector.

Item ids must be known before the first line, so the dataset is read twice: once for the
item ids alone (per-item state), then for the lines, written a chunk of users at a time.
User ids follow the export order, so they are given out as users come.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.dataset.export.dataset_files import DatasetFiles
from timgen_data.dataset.export.history import RowSource, Tally, natural_key, read_histories
from timgen_data.dataset.export.items import feature_matrix, modalities_with_vectors
from timgen_data.dataset.export.tsv import clean, header, integers, lines, numbers, write_lines
from timgen_common.progress import SILENT, Progress

X_LABEL = {"train": 0, "validation": 1, "test": 2}
FEATURES = {"image": "image_feat.npy", "text": "text_feat.npy"}


def item_index(source: RowSource, rows: int | None = None, progress: Progress = SILENT) -> dict[str, int]:
    """``item_id -> itemID`` over the items that occur in an interaction, in natural id order."""
    task = "export: list items"
    progress.start(task, total=rows, unit="rows")
    seen: set[str] = set()
    for chunk in read_histories(source, ["item_ids"], with_splits=False):
        seen.update(pc.unique(chunk.columns["item_ids"]).to_pylist())
        progress.advance(task, chunk.rows_read)
    progress.finish(task)
    return {item: index for index, item in enumerate(sorted(seen, key=lambda v: (natural_key(v), v)))}


def write_mmrec(files: DatasetFiles, source: RowSource, folder: Path, name: str,
                progress: Progress = SILENT) -> tuple[list[Path], Tally, int, dict[str, int]]:
    """Write the MMRec files of the dataset into ``folder``.

    Returns the files written, the interactions' figures, the number of items with an id
    and, per exported modality, how many of those items had no vector.
    """
    items = item_index(source, files.rows(), progress)
    inter, users_file, items_file = folder / f"{name}.inter", folder / "u_id_mapping.csv", folder / "i_id_mapping.csv"
    labels = pa.array([str(X_LABEL[s]) for s in X_LABEL])
    tally = Tally()
    task = "export: mmrec"
    progress.start(task, total=files.rows(), unit="rows")
    # The toolbox's own preprocessing writes tab-separated "user_id\tuserID" / "asin\titemID".
    with open(inter, "wb") as out, open(users_file, "wb") as user_map:
        header(out, ["userID", "itemID", "rating", "timestamp", "x_label"])
        header(user_map, ["user_id", "userID"])
        for chunk in read_histories(source, ["item_ids", "timestamps", "values"]):
            active = chunk.lengths > 0
            user_ids = tally.users + np.cumsum(active) - 1  # meaningful where active
            mapped = [f"{clean(u)}\t{i}\n" for u, i in zip(chunk.user_ids.filter(pa.array(active)).to_pylist(),
                                                            user_ids[active].tolist())]
            user_map.write("".join(mapped).encode("utf-8"))
            encoded = pc.dictionary_encode(chunk.columns["item_ids"])
            item_ids = np.array([items[v] for v in encoded.dictionary.to_pylist()], dtype=np.int64)
            fields = [integers(user_ids[chunk.user_of_interaction()]), integers(item_ids[encoded.indices.to_numpy()]),
                      numbers(chunk.columns["values"]), integers(chunk.columns["timestamps"]),
                      labels.take(pa.array(chunk.splits))]
            write_lines(out, lines(fields))
            tally.add(chunk)
            progress.advance(task, chunk.rows_read)
    with open(items_file, "wb") as fh:
        header(fh, ["item_id", "itemID"])
        fh.write("".join(f"{clean(k)}\t{v}\n" for k, v in items.items()).encode("utf-8"))
    progress.finish(task)
    written = [inter, users_file, items_file]
    missing: dict[str, int] = {}
    for modality in modalities_with_vectors(files, list(FEATURES)):
        matrix, missing[modality] = feature_matrix(files, modality, items)
        np.save(folder / FEATURES[modality], matrix)
        written.append(folder / FEATURES[modality])
    return written, tally, len(items), missing
