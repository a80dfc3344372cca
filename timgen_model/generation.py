"""Personalized output for one user: the next items, their predicted scores, the likely next
class, and how much each modality weighed in the user's latent interest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from timgen_model.batches import SplitTensors, history_window
from timgen_model.checkpoint import Checkpoint, load_checkpoint
from timgen_model.class_sets import FIRST_CLASS
from timgen_model.encoded_cache import load_encoded
from timgen_model.encoding import EncodedDataset
from timgen_model.errors import CheckpointError, ModelUsageError
from timgen_model.model import TIMGen
from timgen_model.vocab import PAD


@dataclass
class Recommendation:
    rank: int
    item_id: str
    title: str
    predicted_score: float | None
    logit: float


@dataclass
class GenerationResult:
    user_id: str
    history_length: int
    last_timestamp: int
    recommendations: list[Recommendation]
    next_classes: list[tuple[str, float]]
    modality_weights: dict[str, float]
    latent: list[float] = field(repr=False)


def load_run_data(checkpoint: Checkpoint, dataset: str | Path | None = None) -> EncodedDataset:
    """The checkpoint's dataset (or ``dataset``), encoded with the checkpoint's vocabularies and
    checked against its fingerprint."""
    source = dataset or checkpoint.dataset_source
    data = load_encoded(source, checkpoint.vocabularies)
    if data.fingerprint != checkpoint.dataset_fingerprint:
        raise CheckpointError(
            f"dataset {source} is not the one this run was trained on (fingerprint {data.fingerprint[:12]} ≠ "
            f"{checkpoint.dataset_fingerprint[:12]}); pass --dataset with the original data or retrain"
        )
    return data


def user_row(data: EncodedDataset, split: str, user_id: str) -> int:
    users = data.splits[split].user_ids
    try:
        return users.index(str(user_id))
    except ValueError:
        example = ", ".join(users[:3])
        raise ModelUsageError(f"user {user_id!r} is not in the {split} split (user ids look like: {example})") from None


@torch.no_grad()
def step_outputs(model: TIMGen, data: EncodedDataset, split: str, row: int):
    """Encode the newest window of a row: (encoded outputs, window, number of real steps)."""
    model.eval()
    window = history_window(data.splits[split], row, model.config.max_len)
    batch = SplitTensors(data.splits[split], data.score_mean, data.score_std).batch(window)
    encoded = model(batch.to(next(model.parameters()).device))
    return encoded, window, int(batch.mask.sum())


def modality_weights_over_history(model: TIMGen, data: EncodedDataset, split: str, row: int):
    """α [T, M] over the newest window of one user's history, the modality names, and each step's
    timestamp (the start step takes its successor's). α is None when fusion is off."""
    encoded, window, steps = step_outputs(model, data, split, row)
    if encoded.alpha is None:
        return None, (), None
    positions = window.inputs[0, :steps]
    positions = np.where(positions < 0, positions[min(1, steps - 1)], positions)
    stamps = data.splits[split].timestamps[np.maximum(positions, 0)]
    return encoded.alpha[0, :steps].cpu().numpy(), encoded.modalities, stamps


@torch.no_grad()
def generate_for_user(run: Path | Checkpoint, user_id: str, *, top_k: int = 10, exclude_seen: bool = True,
                      split: str = "test", dataset: str | Path | None = None) -> GenerationResult:
    """What comes next for ``user_id`` after the newest interaction in ``split``.

    >>> generate_for_user(Path("runs/ml100k"), "42", top_k=5).recommendations[0].title  # doctest: +SKIP
    'Star Wars'
    """
    if top_k < 1:
        raise ModelUsageError("--top-k must be at least 1")
    checkpoint = run if isinstance(run, Checkpoint) else load_checkpoint(Path(run))
    model = checkpoint.build_model().eval()
    data = load_run_data(checkpoint, dataset)
    row = user_row(data, split, user_id)
    encoded, window, steps = step_outputs(model, data, split, row)
    latent = encoded.latent[0, steps - 1 : steps]  # [1, k]
    predictions = model.generate(latent, None, want_scores=False)
    logits = predictions.item_logits[0].clone()
    split_data = data.splits[split]
    history = np.asarray(split_data.items[split_data.offsets[row] : split_data.offsets[row + 1]], dtype=np.int64)
    if exclude_seen:
        logits[torch.as_tensor(history)] = float("-inf")
    available = int(torch.isfinite(logits).sum())
    top = torch.topk(logits, min(top_k, available))
    items = top.indices
    scores = None
    if checkpoint.config.loss.score > 0:
        raw = model.generate(latent.expand(len(items), -1), items, want_classes=False).scores
        scores = model.denormalize_scores(raw).tolist()
    recommendations = [
        Recommendation(rank + 1, data.vocabularies.items.tokens[i], checkpoint.titles[i],
                       None if scores is None else float(scores[rank]), float(top.values[rank]))
        for rank, i in enumerate(items.tolist())
    ]
    classes: list[tuple[str, float]] = []
    if checkpoint.config.loss.classification > 0:
        class_logits = predictions.class_logits[0].clone()
        class_logits[PAD] = float("-inf")
        if model.config.class_target == "set":
            class_logits[:FIRST_CLASS] = float("-inf")  # reserved classes are never a set head's target
        # A set head gives each class its own probability; a primary head one distribution.
        probs = torch.sigmoid(class_logits) if model.config.class_target == "set" else torch.softmax(class_logits, -1)
        best = torch.topk(probs, min(3, len(probs) - 1))
        classes = [(data.vocabularies.classes.tokens[i], float(p)) for p, i in zip(best.values, best.indices)]
    weights = {}
    if encoded.alpha is not None:
        weights = dict(zip(encoded.modalities, encoded.alpha[0, steps - 1].tolist()))
    return GenerationResult(
        user_id=str(user_id), history_length=len(history),
        last_timestamp=int(split_data.timestamps[split_data.offsets[row + 1] - 1]),
        recommendations=recommendations, next_classes=classes, modality_weights=weights,
        latent=latent[0].tolist(),
    )

