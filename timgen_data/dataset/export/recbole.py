"""RecBole atomic files: ``.inter``, ``.item``, ``.user``, and the split as ``benchmark_filename`` files.

Field headers carry RecBole's ``name:type`` suffixes; ``token_seq`` fields are space
separated, so a multi-word genre is joined with underscores to stay one token. Field names
and values follow RecBole's own MovieLens files where it has a convention (``movie_title``,
``genre``, ``zip_code``, gender ``M``/``F``), so its example configurations work unchanged.

The split is written twice: ``<name>.train.inter`` … hold the interactions each split
evaluates, for RecBole's general models (``benchmark_filename: [train, valid, test]``);
``<name>.train_seq.inter`` … hold one row per target with the items before it
(``item_id_list:token_seq``, the last ``MAX_ITEM_LIST_LENGTH``), the form RecBole's
sequential models (SASRec, GRU4Rec …) read from benchmark files instead of building it
themselves (``benchmark_filename: [train_seq, valid_seq, test_seq]``).

The interaction files are written a chunk of users at a time as the dataset is read.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from timgen_data.dataset.export.dataset_files import DatasetFiles
from timgen_data.dataset.export.history import HistoryChunk, RowSource, Tally, read_histories
from timgen_data.dataset.export.items import item_lines
from timgen_data.dataset.export.tsv import clean, cleaned, header, integers, lines, numbers, write_lines
from timgen_common.progress import SILENT, Progress

BENCHMARK = {"train": "train", "validation": "valid", "test": "test"}
SEQUENTIAL = "_seq"  # the sequential benchmark files' suffix after BENCHMARK's: <name>.train_seq.inter
SEQUENTIAL_FIELDS = ["user_id:token", "item_id_list:token_seq", "item_id:token"]
# RecBole's default MAX_ITEM_LIST_LENGTH: a longer list would overrun SASRec's position embeddings,
# and RecBole's own ``seq_len`` cut keeps a list's first items, not its most recent.
MAX_ITEM_LIST_LENGTH = 50
ITEM_FIELDS = ["item_id:token", "movie_title:token_seq", "release_year:token", "genre:token_seq"]
USER_FIELD_NAMES = {"zip": "zip_code"}  # our attribute → RecBole's field, as in its MovieLens .user files
USER_VALUES = {"gender": {"male": "M", "female": "F"}}
COLUMNS = ("item_ids", "timestamps", "actions", "values", "scores")
USER_BATCH = 10_000  # users whose attributes are parsed at a time


class _NotOnlyRatings(Exception):
    """An action besides ``rate`` turned up: the interaction files need the action columns."""


def write_recbole(files: DatasetFiles, source: RowSource, folder: Path, name: str,
                  progress: Progress = SILENT) -> tuple[list[Path], Tally, int]:
    """Write the atomic files of the dataset into ``folder``.

    Returns the files written, the interactions' figures and the number of items.
    """
    # Most datasets hold ratings only, so the files are first written without action columns;
    # the first other action starts them over with the columns (only then is a second pass read).
    try:
        written, tally, users = _write_interactions(source, folder, name, False, files.rows(), progress)
    except _NotOnlyRatings:
        written, tally, users = _write_interactions(source, folder, name, True, files.rows(), progress)
    items = item_lines(files)
    path = folder / f"{name}.item"
    with open(path, "wb") as fh:
        header(fh, ITEM_FIELDS)
        fh.write("".join(line + "\n" for line in items).encode("utf-8"))
    written.append(path)
    path = folder / f"{name}.user"
    if _write_users(files, users, path):
        written.append(path)
    return written, tally, len(items)


def _write_interactions(source: RowSource, folder: Path, name: str, with_action: bool, rows: int,
                        progress: Progress) -> tuple[list[Path], Tally, pa.Array]:
    """With actions besides ``rate``, ``action:token`` and the scenario's ``score:float`` (y_score) follow,
    since the raw value alone (a purchase amount, watch seconds, often nothing) is no preference."""
    names = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
    if with_action:
        names += ["action:token", "score:float"]
    paths = [folder / f"{name}.inter"] + [folder / f"{name}.{suffix}.inter" for suffix in BENCHMARK.values()]
    sequential = [folder / f"{name}.{suffix}{SEQUENTIAL}.inter" for suffix in BENCHMARK.values()]
    tally, users = Tally(), []
    task = "export: recbole"
    progress.start(task, total=rows, unit="rows")
    with ExitStack() as stack:
        handles = [stack.enter_context(open(path, "wb")) for path in paths]
        for fh in handles:
            header(fh, names)
        sequential_handles = [stack.enter_context(open(path, "wb")) for path in sequential]
        for fh in sequential_handles:
            header(fh, SEQUENTIAL_FIELDS)
        for chunk in read_histories(source, COLUMNS):
            actions = chunk.columns["actions"]
            if not with_action and len(actions) and not pc.all(pc.fill_null(pc.equal(actions, "rate"), False)).as_py():
                raise _NotOnlyRatings
            user = pa.array([clean(u) for u in chunk.user_ids.to_pylist()], pa.string())
            fields = [user.take(pa.array(chunk.user_of_interaction())), cleaned(chunk.columns["item_ids"]),
                      numbers(chunk.columns["values"]), integers(chunk.columns["timestamps"])]
            if with_action:
                fields += [cleaned(actions), numbers(chunk.columns["scores"])]
            text = lines(fields)
            write_lines(handles[0], text)
            for s, fh in enumerate(handles[1:]):
                write_lines(fh, text.filter(pa.array(chunk.splits == s)))
            for fh, rows_of_split in zip(sequential_handles, _sequential_lines(chunk, user.to_pylist(), fields[1])):
                fh.write("".join(rows_of_split).encode("utf-8"))
            tally.add(chunk)
            users.append(chunk.user_ids.filter(pa.array(chunk.lengths > 0)))
            progress.advance(task, chunk.rows_read)
    progress.finish(task)
    return paths + sequential, tally, pa.concat_arrays(users) if users else pa.array([], pa.string())


def _sequential_lines(chunk: HistoryChunk, user_ids: list[str], items: pa.Array) -> list[list[str]]:
    """Per split, a line for each of its targets that has items before it: the user, those items
    (the last MAX_ITEM_LIST_LENGTH) and the target, as RecBole's own sequential augmentation would
    make them; a user's first interaction has no history and no line, as there."""
    items = items.to_pylist()
    out: list[list[str]] = [[] for _ in BENCHMARK]
    start = 0
    for user, length in zip(user_ids, chunk.lengths.tolist()):
        for i in range(start + 1, start + length):
            history = " ".join(items[max(start, i - MAX_ITEM_LIST_LENGTH):i])
            out[chunk.splits[i]].append(f"{user}\t{history}\t{items[i]}\n")
        start += length
    return out


def _write_users(files: DatasetFiles, wanted: pa.Array, path: Path) -> bool:
    """RecBole's ``.user``: one ``token`` field per attribute (``token_seq`` for lists), as its own
    MovieLens files type age and zip code; users with no interaction are left out.

    ``wanted`` are the users with interactions, in export order. Writes nothing and returns
    False when the dataset has no users config (or an empty one).
    """
    if not files.users:
        return False
    table = pa.concat_tables(pq.read_table(p, columns=["user_id", "attributes"]) for p in files.users)
    if table.num_rows == 0:
        return False
    # A user listed twice keeps its last row: look users up in the rows read backwards.
    backwards = table.take(pa.array(np.arange(table.num_rows - 1, -1, -1)))
    found = pc.index_in(wanted, value_set=backwards.column("user_id"))
    attributes = backwards.column("attributes").combine_chunks().take(found)
    keys: set[str] = set()
    lists: set[str] = set()
    for batch in _attribute_batches(attributes):
        for values in batch:
            keys.update(values)
            lists.update(k for k, v in values.items() if isinstance(v, list))
    keys_in_order = sorted(keys)
    with open(path, "wb") as fh:
        header(fh, ["user_id:token", *(f"{USER_FIELD_NAMES.get(k, k)}:{'token_seq' if k in lists else 'token'}"
                                       for k in keys_in_order)])
        for start in range(0, len(wanted), USER_BATCH):
            user_ids = wanted.slice(start, USER_BATCH).to_pylist()
            values_of = next(_attribute_batches(attributes.slice(start, USER_BATCH)), [])
            text = []
            for user_id, values in zip(user_ids, values_of):
                fields = [clean(user_id)]
                for key in keys_in_order:
                    value = values.get(key)
                    if isinstance(value, list):
                        fields.append(" ".join(clean(v).replace(" ", "_") for v in value if clean(v)))
                    else:
                        text_value = clean(value)
                        fields.append(USER_VALUES.get(key, {}).get(text_value, text_value))
                text.append("\t".join(fields) + "\n")
            fh.write("".join(text).encode("utf-8"))
    return True


def _attribute_batches(attributes: pa.Array):
    for start in range(0, len(attributes), USER_BATCH):
        yield [json.loads(text or "{}") for text in attributes.slice(start, USER_BATCH).to_pylist()]
