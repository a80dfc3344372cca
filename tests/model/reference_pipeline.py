"""The whole-table encoder and padded windows the streaming pipeline replaced, kept verbatim
as the reference it must reproduce: same arrays, same fingerprint, same windows, same batches.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from timgen_model.batches import PADDING, START, Batch, Windows
from timgen_model.contract import SPLITS, ContractTables
from timgen_model.encoding import (
    BOS_ITEM, ITEM_RESERVED, EncodedDataset, EncodedSplit, Vocabularies, encode_catalogue,
)
from timgen_model.texts import text_token_arrays
from timgen_model.vocab import PAD, Vocabulary


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


def _texts(table: pa.Table) -> dict[str, np.ndarray]:
    """The whole split's texts in one call (a row without a texts list wrote nothing)."""
    lengths = pc.list_value_length(table["item_ids"]).to_numpy(zero_copy_only=False)
    texts = [t for row, n in zip(table["texts"].to_pylist(), lengths) for t in (row if row is not None else [None] * n)]
    arrays = text_token_arrays(pa.array(texts, pa.string()), 0)
    return {"text_offsets": np.r_[0, arrays["text_offsets"]].astype(np.int64), "text_tokens": arrays["text_tokens"]}


def encode_split(table: pa.Table, vocab: Vocabularies) -> EncodedSplit:
    scores = _flat(table, "scores").astype(np.float32)
    return EncodedSplit(
        **_texts(table),
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
        utc_offsets=np.array(_per_step(table, "utc_offsets", lambda v: v or 0), dtype=np.int16),
        holidays=np.array(_per_step(table, "holidays", lambda v: 0 if v is None else 2 if v else 1), dtype=np.int8),
    )


def _per_step(table: pa.Table, column: str, code) -> list:
    """An optional column's code per step, one value at a time; a missing list or value is unknown."""
    lists = table[column].to_pylist() if column in table.column_names else [None] * table.num_rows
    return [code(value) for items, values in zip(table["item_ids"].to_pylist(), lists)
            for value in (values if values is not None else [None] * len(items))]


def _calendar(ts: torch.Tensor, offsets: torch.Tensor) -> dict[str, torch.Tensor]:
    """The local calendar through the datetime module, one step at a time."""
    moments = [datetime.fromtimestamp(int(s), timezone(timedelta(minutes=int(m))))
               for s, m in zip(ts.flatten().tolist(), offsets.flatten().tolist())]
    seasons = {12: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3}

    def tensor(values, dtype):
        return torch.as_tensor(np.array(values, dtype=dtype).reshape(ts.shape))

    return {
        "local_weekdays": tensor([m.weekday() for m in moments], np.int64),
        "day_phases": tensor([(m.hour * 3600 + m.minute * 60 + m.second) / 86400 for m in moments], np.float32),
        "year_phases": tensor([(m.timetuple().tm_yday - 1) / (366 if calendar.isleap(m.year) else 365)
                               for m in moments], np.float32),
        "seasons": tensor([seasons[m.month] for m in moments], np.int64),
    }


def fingerprint(tables: ContractTables) -> str:
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
    vocab = vocabularies or build_vocabularies(tables)
    splits = {name: encode_split(table, vocab) for name, table in tables.interactions.items()}
    catalogue = encode_catalogue(tables.items, vocab, tables.modalities)
    train_scores = splits["train"].scores
    known = train_scores[np.isfinite(train_scores)]
    if len(known) == 0:
        known = np.zeros(1, dtype=np.float32)
    std = float(known.std()) or 1.0
    return EncodedDataset(
        source=tables.source, vocabularies=vocab, catalogue=catalogue, splits=splits,
        score_mean=float(known.mean()), score_std=std, score_min=float(known.min()),
        score_max=float(known.max()), fingerprint=fingerprint(tables),
    )


def _window(start: int, end: int, row_start: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    targets = np.full(max_len, PADDING, dtype=np.int64)
    inputs = np.full(max_len, PADDING, dtype=np.int64)
    n = end - start
    targets[:n] = np.arange(start, end)
    inputs[:n] = np.arange(start - 1, end - 1)
    if start == row_start:
        inputs[0] = START
    return inputs, targets


def training_windows(split: EncodedSplit, max_len: int) -> Windows:
    inputs, targets, rows = [], [], []
    for row, (row_start, row_end) in enumerate(zip(split.offsets[:-1], split.offsets[1:])):
        end = int(row_end)
        while end > row_start:
            start = max(int(row_start), end - max_len)
            i, t = _window(start, end, int(row_start), max_len)
            inputs.append(i)
            targets.append(t)
            rows.append(row)
            end = start
    return _stack(split, inputs, targets, None, rows, max_len)


def evaluation_windows(split: EncodedSplit, max_len: int) -> Windows:
    half = max(1, max_len // 2)
    inputs, targets, masks, rows = [], [], [], []
    for row, (row_start, row_end) in enumerate(zip(split.offsets[:-1], split.offsets[1:])):
        row_start, end = int(row_start), int(row_end)
        if not split.is_target[row_start:end].any():
            continue
        while end > row_start:
            start = max(row_start, end - max_len)
            scored_from = start if start == row_start else max(start, end - half)
            positions = np.arange(scored_from, end)
            if split.is_target[positions].any():
                i, t = _window(start, end, row_start, max_len)
                mask = np.zeros(max_len, dtype=bool)
                mask[scored_from - start : end - start] = split.is_target[positions]
                inputs.append(i)
                targets.append(t)
                masks.append(mask)
                rows.append(row)
            if start == row_start:
                break
            end -= half
    return _stack(split, inputs, targets, masks, rows, max_len)


def _stack(split, inputs, targets, masks, rows, max_len) -> Windows:
    if not inputs:
        empty = np.zeros((0, max_len), dtype=np.int64)
        return Windows(empty, empty.copy(), np.zeros((0, max_len), dtype=bool), np.zeros(0, dtype=np.int64))
    targets = np.stack(targets)
    if masks is None:
        evaluate = (targets >= 0) & split.is_target[np.maximum(targets, 0)]
    else:
        evaluate = np.stack(masks)
    return Windows(np.stack(inputs), targets, evaluate, np.asarray(rows, dtype=np.int64))


def time_gaps(split: EncodedSplit) -> np.ndarray:
    gaps = np.diff(split.timestamps, prepend=split.timestamps[:1]) if len(split.timestamps) else split.timestamps
    gaps = gaps.copy()
    gaps[split.offsets[:-1][np.diff(split.offsets) > 0]] = 0
    return np.maximum(gaps, 0)


class SplitTensors:
    def __init__(self, split: EncodedSplit, score_mean: float, score_std: float):
        n = len(split.items)
        self.start, self.pad = n, n + 1

        def extended(array, start_value, pad_value, dtype):
            return torch.as_tensor(np.r_[array, [start_value, pad_value]].astype(dtype))

        scores = (split.scores - score_mean) / score_std
        known = np.isfinite(scores)
        self.items = extended(split.items, BOS_ITEM, PAD, np.int64)
        self.actions = extended(split.actions, PAD, PAD, np.int64)
        self.devices = extended(split.devices, PAD, PAD, np.int64)
        self.platforms = extended(split.platforms, PAD, PAD, np.int64)
        self.geos = extended(split.geos, PAD, PAD, np.int64)
        self.classes = extended(split.classes, PAD, PAD, np.int64)
        self.timestamps = extended(split.timestamps, 0, 0, np.int64)
        self.gaps = extended(time_gaps(split), 0, 0, np.float32)
        self.scores = extended(np.where(known, scores, 0.0), 0.0, 0.0, np.float32)
        self.score_known = extended(known, False, False, bool)
        self.utc_offsets = extended(split.utc_offsets, 0, 0, np.int64)
        self.holidays = extended(split.holidays, 0, 0, np.int64)
        # Each interaction's tokens as a Python list; the start and padding steps wrote nothing.
        offsets, tokens = split.text_offsets, split.text_tokens
        self.texts = [tokens[offsets[j]:offsets[j + 1]].tolist() if len(offsets) else [] for j in range(n)] + [[], []]

    def _text_tokens(self, i: torch.Tensor) -> torch.Tensor:
        rows = [[self.texts[p] for p in window] for window in i.tolist()]
        width = max((len(t) for window in rows for t in window), default=0)
        return torch.tensor([[t + [0] * (width - len(t)) for t in window] for window in rows],
                            dtype=torch.int64).reshape(*i.shape, width)

    def _positions(self, window_positions: np.ndarray) -> torch.Tensor:
        p = torch.as_tensor(window_positions)
        return torch.where(p == START, self.start, torch.where(p == PADDING, self.pad, p))

    def batch(self, windows: Windows) -> Batch:
        steps = int((windows.inputs != PADDING).sum(1).max()) if len(windows) else 1
        i = self._positions(windows.inputs[:, :steps])
        t = self._positions(windows.targets[:, :steps])
        ts = torch.where(i == self.start, self.timestamps[t], self.timestamps[i])
        return Batch(
            items=self.items[i], actions=self.actions[i], devices=self.devices[i], platforms=self.platforms[i],
            geos=self.geos[i], classes=self.classes[i], days=(ts.double() / 86400.0).float(),
            weekdays=torch.div(ts, 86400, rounding_mode="floor").add(3).remainder(7), gaps=self.gaps[i],
            scores=self.scores[i], score_known=self.score_known[i], mask=i != self.pad,
            target_items=self.items[t], target_classes=self.classes[t], target_scores=self.scores[t],
            target_score_known=self.score_known[t] & (t != self.pad),
            evaluate=torch.as_tensor(windows.evaluate[:, :steps]), text_tokens=self._text_tokens(i),
            **_calendar(ts, torch.where(i == self.start, self.utc_offsets[t], self.utc_offsets[i])),
            holidays=torch.where(i == self.start, self.holidays[t], self.holidays[i]),
        )
