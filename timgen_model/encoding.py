"""The dataset contract encoded as flat integer arrays: vocabularies, splits, item catalogue.

A split is its rows' interactions concatenated in row order, with ``offsets`` marking where
each row starts. Vocabularies come from the training split only (plus the item catalogue),
so validation and test never shape what the model knows.

Splits are encoded batch by batch (``ContractSource`` hands out a bounded number of rows at a
time) through Arrow kernels, never a Python object per interaction. The arrays are collected
in memory here (``encode_dataset``) or written to memory-mapped files
(``timgen_model.encoded_cache``), which is how training reads datasets larger than memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_common.progress import SILENT, Progress
from timgen_contract import embedding_column
from timgen_model.contract import SPLITS, ContractSource, ContractTables, SplitReader, as_source
from timgen_model.errors import DatasetError
from timgen_model.fingerprint import BATCH_ROWS, fingerprint
from timgen_model.texts import text_token_arrays
from timgen_model.vocab import UNK, Vocabulary

ITEM_RESERVED = ("<pad>", "<unk>", "<bos>")
BOS_ITEM = 2
# Vocabulary-coded arrays and the interactions column each comes from.
CODED = {"items": "item_ids", "actions": "actions", "devices": "devices", "platforms": "platforms",
         "geos": "geos", "classes": "classes"}
LIST_COLUMNS = ("item_ids", "timestamps", "actions", "devices", "platforms", "geos", "scores", "classes",
                "values", "is_target")
# Optional list columns: a dataset without them reads as every time in UTC, no day known a holiday.
CALENDAR_COLUMNS = ("utc_offsets", "holidays")
# Every flat array of a split, in the order they are written.
ARRAYS = ("offsets", *CODED, "timestamps", "scores", "values", "is_target", *CALENDAR_COLUMNS, "text_offsets",
          "text_tokens")
# ``holidays`` codes: the flag unknown (no country, or no column), not a holiday, a holiday.
HOLIDAY_UNKNOWN, HOLIDAY_NO, HOLIDAY_YES = 0, 1, 2


class UserIds(Sequence[str]):
    """A split's user ids, one per row, kept as Arrow strings (memory-mapped for a cached
    dataset) rather than one Python string per user."""

    def __init__(self, values: pa.ChunkedArray):
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.values[index].to_pylist()
        if index < 0:
            index += len(self.values)
        if not 0 <= index < len(self.values):
            raise IndexError(index)
        return self.values[index].as_py()

    def __iter__(self) -> Iterator[str]:
        for chunk in self.values.chunks:
            yield from chunk.to_pylist()

    def index(self, value, start: int = 0, stop: int | None = None) -> int:
        found = pc.index(self.values, pa.scalar(str(value), self.values.type)).as_py()
        if found < 0:
            raise ValueError(f"{value!r} is not a user id of this split")
        return found


@dataclass(frozen=True)
class ReviewVectors:
    """What users wrote, encoded by a pretrained text encoder (``model.review_encoder``): one row
    per interaction with text (``EncodedSplit.review_index`` points into it); may be memory-mapped."""

    vectors: np.ndarray  # float16 [interactions with text, dim]
    encoder: str  # the encoder's key, name@version (e.g. hf:all-minilm-l6-v2#mean+normalize@…)
    spec: str  # how the config named it (e.g. hf:all-minilm-l6-v2)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass
class EncodedSplit:
    """One split's rows flattened; row k is ``[offsets[k], offsets[k+1])``. Vocabulary indices
    come in each vocabulary's ``index_dtype``; the arrays may be memory-mapped files."""

    user_ids: Sequence[str]
    offsets: np.ndarray  # int64 [rows + 1]
    items: np.ndarray  # [n]
    actions: np.ndarray
    devices: np.ndarray
    platforms: np.ndarray
    geos: np.ndarray
    classes: np.ndarray
    timestamps: np.ndarray  # int64 UTC epoch seconds
    scores: np.ndarray  # float32, NaN where the interaction has no score
    values: np.ndarray  # float32 raw value
    is_target: np.ndarray  # bool
    utc_offsets: np.ndarray | None = None  # int16 minutes the local clock is ahead of UTC (0 when unknown)
    holidays: np.ndarray | None = None  # int8 HOLIDAY_UNKNOWN / HOLIDAY_NO / HOLIDAY_YES
    # What users wrote as hashed n-grams (timgen_model.texts): interaction j's are
    # text_tokens[text_offsets[j] : text_offsets[j + 1]]; empty arrays when no text is known.
    text_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # int64 [n + 1]
    text_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # int32
    # The same texts through a pretrained encoder (timgen_model.review_vectors), where the config
    # asks for one: interaction j's vector is reviews.vectors[review_index[j]], none where it is -1.
    review_index: np.ndarray | None = None  # int64 [n]
    reviews: ReviewVectors | None = None

    @property
    def has_texts(self) -> bool:
        return len(self.text_tokens) > 0

    @property
    def num_rows(self) -> int:
        return len(self.user_ids)

    @property
    def row_of_position(self) -> np.ndarray:
        return np.repeat(np.arange(self.num_rows), np.diff(self.offsets))


@dataclass
class Vocabularies:
    items: Vocabulary
    actions: Vocabulary
    devices: Vocabulary
    platforms: Vocabulary
    geos: Vocabulary
    classes: Vocabulary

    def to_json(self) -> dict:
        return {name: getattr(self, name).to_json() for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabularies":
        return cls(**{name: Vocabulary.from_json(data[name]) for name in cls.__dataclass_fields__})


@dataclass
class ItemCatalogue:
    """Per item index: title, class, and one matrix per content modality (zeros where missing)."""

    titles: list[str]
    classes: np.ndarray  # int64 class index per item
    modality_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # m → float32 [items, dim]
    modality_present: dict[str, np.ndarray] = field(default_factory=dict)  # m → bool [items]
    # Each item's class set (the items config's ``classes``) as class indices, item i's being
    # class_set_members[class_set_offsets[i]:class_set_offsets[i + 1]] (CSR: no [items, classes] matrix).
    class_set_offsets: np.ndarray | None = None  # int64 [items + 1]
    class_set_members: np.ndarray | None = None  # int64 [members]

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.modality_vectors)

    @property
    def modality_dims(self) -> dict[str, int]:
        return {m: int(v.shape[1]) for m, v in self.modality_vectors.items()}


@dataclass
class EncodedDataset:
    source: str
    vocabularies: Vocabularies
    catalogue: ItemCatalogue
    splits: dict[str, EncodedSplit]
    score_mean: float
    score_std: float
    score_min: float
    score_max: float
    fingerprint: str


class SplitSink(Protocol):
    """Where a split's encoded batches go, in row order."""

    def add(self, arrays: dict[str, np.ndarray], user_ids: pa.Array) -> None: ...

    def finish(self) -> EncodedSplit: ...


class MemorySink:
    """Collects a split's batches in memory."""

    def __init__(self):
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in ARRAYS}
        self.users: list[pa.Array] = []

    def add(self, arrays: dict[str, np.ndarray], user_ids: pa.Array) -> None:
        for name, values in arrays.items():
            self.parts[name].append(values)
        self.users.append(user_ids)

    def finish(self) -> EncodedSplit:
        arrays = {name: np.concatenate(parts) for name, parts in self.parts.items()}
        return EncodedSplit(user_ids=UserIds(pa.chunked_array(self.users, pa.string())), **arrays)


def build_vocabularies(data: ContractSource | ContractTables, *, batch_rows: int = BATCH_ROWS,
                       progress: Progress = SILENT) -> Vocabularies:
    """Sorted vocabularies of the train split's distinct values (and the catalogue's items and
    classes), gathered batch by batch: memory holds the distinct values, not the interactions."""
    source = as_source(data)
    train = source.splits["train"]
    distinct: dict[str, set] = {name: set() for name in CODED}
    progress.start("vocabularies", total=train.num_rows, unit="rows")
    for batch in train.batches(list(CODED.values()), batch_rows):
        for name, column in CODED.items():
            distinct[name].update(pc.unique(pc.list_flatten(batch.column(column))).to_pylist())
        progress.advance("vocabularies", batch.num_rows)
    progress.finish("vocabularies")
    distinct["items"].update(source.items["item_id"].to_pylist())
    distinct["classes"].update(c for c in source.items["class"].to_pylist() if c)
    distinct["classes"].update(c for c in pc.unique(pc.list_flatten(source.items["classes"])).to_pylist() if c)
    return Vocabularies(
        items=Vocabulary.build(distinct["items"], reserved=ITEM_RESERVED),
        **{name: Vocabulary.build(distinct[name]) for name in CODED if name != "items"},
    )


def _numbers(values: pa.Array, dtype) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False).astype(dtype)


def _calendar_column(batch: pa.RecordBatch, column: str, lengths: np.ndarray) -> np.ndarray:
    """The flat codes of optional column ``column``: where a row's list is missing (an older
    dataset, or a row written without it) or a value is null, the "unknown" code."""
    total = int(lengths.sum())
    out = np.zeros(total, dtype=np.int16 if column == "utc_offsets" else np.int8)
    if column not in batch.schema.names:
        return out
    lists = batch.column(column)
    valid = lists.is_valid().to_numpy(zero_copy_only=False)
    own = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    if not np.array_equal(own[valid], lengths[valid]):
        raise DatasetError(f"a row's {column} and item_ids lists differ in length; rebuild the dataset "
                           "with `timgen-data build`")
    flat = pc.list_flatten(lists)  # the valid rows' values, in row order
    if column == "utc_offsets":
        values = flat.fill_null(0).to_numpy(zero_copy_only=False)
    else:
        values = np.where(flat.is_valid().to_numpy(zero_copy_only=False),
                          np.where(flat.fill_null(False).to_numpy(zero_copy_only=False), HOLIDAY_YES, HOLIDAY_NO),
                          HOLIDAY_UNKNOWN)
    starts = (np.cumsum(lengths) - lengths)[valid]
    kept = lengths[valid]
    within = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
    out[np.repeat(starts, kept) + within] = values
    return out


def encode_batch(batch: pa.RecordBatch, vocab: Vocabularies, first_offset: int) -> dict[str, np.ndarray]:
    """The flat arrays of one batch of rows; its ``offsets`` continue from ``first_offset``
    and leave out the leading 0 (the caller writes it once)."""
    def lengths_of(column: str) -> np.ndarray:
        return pc.list_value_length(batch.column(column)).fill_null(0).to_numpy(zero_copy_only=False)

    lengths = lengths_of("item_ids")
    for column in LIST_COLUMNS[1:]:
        if not np.array_equal(lengths_of(column), lengths):
            raise DatasetError(f"a row's {column} and item_ids lists differ in length; rebuild the dataset "
                               "with `timgen-data build`")
    flat = {column: pc.list_flatten(batch.column(column)) for column in LIST_COLUMNS}
    scores = _numbers(flat["scores"], np.float32)
    return {
        "offsets": first_offset + np.cumsum(lengths, dtype=np.int64),
        **{name: getattr(vocab, name).encode_arrow(flat[column]) for name, column in CODED.items()},
        "timestamps": _numbers(flat["timestamps"], np.int64),
        "scores": np.where(np.isfinite(scores), scores, np.nan).astype(np.float32),
        "values": _numbers(flat["values"], np.float32),
        "is_target": flat["is_target"].fill_null(False).to_numpy(zero_copy_only=False),
        **{column: _calendar_column(batch, column, lengths) for column in CALENDAR_COLUMNS},
    }


def flat_texts(batch: pa.RecordBatch, interactions: int) -> pa.Array:
    """The batch's texts, one per interaction; a row whose ``texts`` is null has none."""
    column = batch.column("texts")
    lengths = pc.list_value_length(batch.column("item_ids")).fill_null(0).to_numpy(zero_copy_only=False)
    text_lengths = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    if not np.array_equal(np.where(valid, text_lengths, lengths), lengths):
        raise DatasetError("a row's texts and item_ids lists differ in length; rebuild the dataset with "
                           "`timgen-data build`")
    flat = pc.list_flatten(column)
    if valid.all():
        return flat
    rows = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(interactions) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    text_starts = np.cumsum(np.where(valid, text_lengths, 0)) - np.where(valid, text_lengths, 0)
    index = pa.array(text_starts[rows] + within, mask=~valid[rows])
    return pc.take(flat, index) if len(flat) else pa.nulls(interactions, pa.string())


def encode_split(reader: SplitReader, vocab: Vocabularies, sink: SplitSink, *, batch_rows: int = BATCH_ROWS,
                 progress: Progress = SILENT) -> EncodedSplit:
    """Encode one split into ``sink`` batch by batch."""
    # Row 0 and interaction 0's text start at 0.
    sink.add({"offsets": np.zeros(1, np.int64), "text_offsets": np.zeros(1, np.int64)}, pa.array([], pa.string()))
    written = text_written = 0
    optional = [column for column in CALENDAR_COLUMNS if column in reader.schema.names]
    # ``texts`` is optional in the contract: a dataset without it reads as one where nobody wrote.
    with_texts = "texts" in reader.schema.names
    for batch in reader.batches(["user_id", *LIST_COLUMNS, *optional, *(["texts"] if with_texts else [])],
                                batch_rows):
        arrays = encode_batch(batch, vocab, written)
        if len(arrays["offsets"]):
            written = int(arrays["offsets"][-1])
        texts = flat_texts(batch, len(arrays["items"])) if with_texts else pa.nulls(len(arrays["items"]), pa.string())
        arrays.update(text_token_arrays(texts, text_written))
        if len(arrays["text_offsets"]):
            text_written = int(arrays["text_offsets"][-1])
        sink.add(arrays, batch.column("user_id").cast(pa.string()))
        progress.advance("encode", batch.num_rows)
    return sink.finish()


def score_statistics(train_scores: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, standard deviation, min and max of the known train scores (float32 arithmetic,
    as the model has always normalised them)."""
    known = train_scores[np.isfinite(train_scores)]
    if len(known) == 0:
        known = np.zeros(1, dtype=np.float32)
    std = float(known.std()) or 1.0
    return float(known.mean()), std, float(known.min()), float(known.max())


def encode_catalogue(items: pa.Table, vocab: Vocabularies, modalities: tuple[str, ...]) -> ItemCatalogue:
    n = len(vocab.items)
    index = vocab.items.encode(items["item_id"].to_pylist())
    titles = list(vocab.items.tokens)
    for i, title in zip(index, items["title"].to_pylist()):
        titles[i] = title or titles[i]
    classes = np.zeros(n, dtype=np.int64)
    classes[index] = vocab.classes.encode(items["class"].fill_null("").to_pylist())
    set_offsets, set_members = _class_sets(items, index, n, vocab)
    vectors, present = {}, {}
    for m in modalities:
        column = items[embedding_column(m)]
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        lengths = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False)
        dims = set(lengths[valid].tolist())
        if len(dims) != 1:
            raise DatasetError(f"items config: {embedding_column(m)} vectors have differing lengths {sorted(dims)}; "
                               "rebuild the dataset")
        dim = dims.pop()
        flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, dim)
        matrix = np.zeros((n, dim), dtype=np.float32)
        matrix[index[valid]] = flat
        mask = np.zeros(n, dtype=bool)
        mask[index[valid]] = True
        vectors[m], present[m] = matrix, mask
    return ItemCatalogue(titles, classes, vectors, present, set_offsets, set_members)


def _class_sets(items: pa.Table, index: np.ndarray, n: int, vocab: Vocabularies) -> tuple[np.ndarray, np.ndarray]:
    """Every item index's class set, in CSR form (an item absent from the items config has none)."""
    column = items["classes"]
    lengths = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    members = vocab.classes.encode(pc.list_flatten(column).to_pylist())
    known = index > UNK  # an item the vocabulary does not know (a checkpoint's) has no place
    per_item = np.zeros(n, dtype=np.int64)
    per_item[index[known]] = lengths[known]
    offsets = np.r_[0, np.cumsum(per_item)].astype(np.int64)
    ordered = np.empty(int(offsets[-1]), dtype=np.int64)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    for row in np.flatnonzero(known):  # rows of the items config into item-index order
        i = index[row]
        ordered[offsets[i]:offsets[i + 1]] = members[starts[row]:starts[row] + lengths[row]]
    return offsets, ordered


def encode_dataset(data: ContractTables | ContractSource, vocabularies: Vocabularies | None = None, *,
                   batch_rows: int = BATCH_ROWS, progress: Progress = SILENT) -> EncodedDataset:
    """Encode every split in memory; pass the vocabularies of a checkpoint to encode for
    evaluation. ``timgen_model.encoded_cache.load_encoded`` does the same into memory-mapped
    files, for datasets larger than memory.

    >>> data = encode_dataset(read_contract("out/ml-100k"))  # doctest: +SKIP
    """
    source = as_source(data)
    vocab = vocabularies or build_vocabularies(source, batch_rows=batch_rows, progress=progress)
    progress.start("encode", total=sum(source.splits[s].num_rows for s in SPLITS), unit="rows")
    splits = {name: encode_split(source.splits[name], vocab, MemorySink(), batch_rows=batch_rows, progress=progress)
              for name in SPLITS}
    progress.finish("encode")
    return assemble(source, vocab, splits, score_statistics(splits["train"].scores),
                    fingerprint(source, batch_rows=batch_rows, progress=progress))


def assemble(source: ContractSource, vocab: Vocabularies, splits: dict[str, EncodedSplit],
             statistics: Sequence[float], digest: str) -> EncodedDataset:
    mean, std, low, high = statistics
    return EncodedDataset(source=source.source, vocabularies=vocab,
                          catalogue=encode_catalogue(source.items, vocab, source.modalities), splits=splits,
                          score_mean=mean, score_std=std, score_min=low, score_max=high, fingerprint=digest)
