"""The dataset contract encoded as flat integer arrays: vocabularies, splits, item catalogue.

A split is its rows' interactions concatenated in row order, with ``offsets`` marking where
each row starts. Vocabularies come from the training split only (plus the item catalogue),
so validation and test never shape what the model knows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_model.contract import SPLITS, ContractTables
from timgen_model.errors import DatasetError
from timgen_model.vocab import Vocabulary

ITEM_RESERVED = ("<pad>", "<unk>", "<bos>")
BOS_ITEM = 2
CONTEXT_FIELDS = ("devices", "platforms", "geos")


@dataclass
class EncodedSplit:
    """One split's rows flattened; row k is ``[offsets[k], offsets[k+1])``."""

    user_ids: list[str]
    offsets: np.ndarray  # int64 [rows + 1]
    items: np.ndarray  # int64 [n]
    actions: np.ndarray
    devices: np.ndarray
    platforms: np.ndarray
    geos: np.ndarray
    classes: np.ndarray
    timestamps: np.ndarray  # int64 UTC epoch seconds
    scores: np.ndarray  # float32, NaN where the interaction has no score
    values: np.ndarray  # float32 raw value
    is_target: np.ndarray  # bool

    @property
    def num_rows(self) -> int:
        return len(self.user_ids)

    @property
    def row_of_position(self) -> np.ndarray:
        return np.repeat(np.arange(self.num_rows), np.diff(self.offsets))

    @property
    def time_gaps(self) -> np.ndarray:
        """Seconds since the row's previous interaction; 0 at a row's first."""
        gaps = np.diff(self.timestamps, prepend=self.timestamps[:1]) if len(self.timestamps) else self.timestamps
        gaps = gaps.copy()
        gaps[self.offsets[:-1][np.diff(self.offsets) > 0]] = 0
        return np.maximum(gaps, 0)


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


def _flat(table: pa.Table, column: str) -> np.ndarray:
    return pc.list_flatten(table[column]).to_numpy(zero_copy_only=False)


def _offsets(table: pa.Table) -> np.ndarray:
    lengths = pc.list_value_length(table["item_ids"]).to_numpy(zero_copy_only=False)
    return np.r_[0, np.cumsum(lengths)].astype(np.int64)


def build_vocabularies(tables: ContractTables) -> Vocabularies:
    train = tables.interactions["train"]
    catalogue = tables.items["item_id"].to_pylist()
    items = Vocabulary.build(catalogue + list(_flat(train, "item_ids")), reserved=ITEM_RESERVED)
    classes = list(_flat(train, "classes")) + [c for c in tables.items["class"].to_pylist() if c]
    return Vocabularies(
        items=items,
        actions=Vocabulary.build(_flat(train, "actions")),
        devices=Vocabulary.build(_flat(train, "devices")),
        platforms=Vocabulary.build(_flat(train, "platforms")),
        geos=Vocabulary.build(_flat(train, "geos")),
        classes=Vocabulary.build(classes),
    )


def encode_split(table: pa.Table, vocab: Vocabularies) -> EncodedSplit:
    scores = _flat(table, "scores").astype(np.float32)
    return EncodedSplit(
        user_ids=table["user_id"].to_pylist(),
        offsets=_offsets(table),
        items=vocab.items.encode(_flat(table, "item_ids")),
        actions=vocab.actions.encode(_flat(table, "actions")),
        devices=vocab.devices.encode(_flat(table, "devices")),
        platforms=vocab.platforms.encode(_flat(table, "platforms")),
        geos=vocab.geos.encode(_flat(table, "geos")),
        classes=vocab.classes.encode(_flat(table, "classes")),
        timestamps=_flat(table, "timestamps").astype(np.int64),
        scores=np.where(np.isfinite(scores), scores, np.nan).astype(np.float32),
        values=_flat(table, "values").astype(np.float32),
        is_target=_flat(table, "is_target").astype(bool),
    )


def encode_catalogue(items: pa.Table, vocab: Vocabularies, modalities: tuple[str, ...]) -> ItemCatalogue:
    n = len(vocab.items)
    index = vocab.items.encode(items["item_id"].to_pylist())
    titles = list(vocab.items.tokens)
    for i, title in zip(index, items["title"].to_pylist()):
        titles[i] = title or titles[i]
    classes = np.zeros(n, dtype=np.int64)
    classes[index] = vocab.classes.encode(items["class"].fill_null("").to_pylist())
    vectors, present = {}, {}
    for m in modalities:
        column = items[f"{m}_emb"]
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        lengths = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False)
        dims = set(lengths[valid].tolist())
        if len(dims) != 1:
            raise DatasetError(f"items config: {m}_emb vectors have differing lengths {sorted(dims)}; rebuild the dataset")
        dim = dims.pop()
        flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, dim)
        matrix = np.zeros((n, dim), dtype=np.float32)
        matrix[index[valid]] = flat
        mask = np.zeros(n, dtype=bool)
        mask[index[valid]] = True
        vectors[m], present[m] = matrix, mask
    return ItemCatalogue(titles, classes, vectors, present)


def fingerprint(tables: ContractTables) -> str:
    """sha256 of the contract's content, the same for a folder and its Hub copy."""
    digest = hashlib.sha256()
    for split in SPLITS:
        table = tables.interactions[split]
        digest.update(f"{split}\0".encode() + "\0".join(table["user_id"].to_pylist()).encode())
        digest.update(_offsets(table).tobytes())
        digest.update("\0".join(_flat(table, "item_ids").tolist()).encode())
        for column, dtype in (("timestamps", np.int64), ("scores", np.float32), ("is_target", bool)):
            digest.update(np.ascontiguousarray(_flat(table, column).astype(dtype)).tobytes())
    digest.update("\0".join(tables.items["item_id"].to_pylist()).encode())
    return digest.hexdigest()


def encode_dataset(tables: ContractTables, vocabularies: Vocabularies | None = None) -> EncodedDataset:
    """Encode every split; pass the vocabularies of a checkpoint to encode for evaluation.

    >>> data = encode_dataset(read_contract("out/ml-100k"))  # doctest: +SKIP
    """
    vocab = vocabularies or build_vocabularies(tables)
    splits = {name: encode_split(table, vocab) for name, table in tables.interactions.items()}
    catalogue = encode_catalogue(tables.items, vocab, tables.modalities)
    train_scores = splits["train"].scores
    known = train_scores[np.isfinite(train_scores)]
    if len(known) == 0:
        known = np.zeros(1, dtype=np.float32)
    std = float(known.std()) or 1.0
    return EncodedDataset(
        source=tables.source,
        vocabularies=vocab,
        catalogue=catalogue,
        splits=splits,
        score_mean=float(known.mean()),
        score_std=std,
        score_min=float(known.min()),
        score_max=float(known.max()),
        fingerprint=fingerprint(tables),
    )
