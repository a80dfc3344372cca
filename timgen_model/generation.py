"""Personalized output for one user: the next items with their content (title, text, class
set, media assets) and predicted scores, the likely next class, and how much each modality
weighed in the user's latent interest; for one or several draws of the latent ℓ, in the
context (time, device, platform, geo) the caller gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from timgen_model.batches import SplitTensors, history_window
from timgen_model.checkpoint import Checkpoint, load_checkpoint
from timgen_model.class_sets import FIRST_CLASS
from timgen_model.contract import open_contract
from timgen_model.encoded_cache import load_encoded
from timgen_model.encoding import EncodedDataset, EncodedSplit
from timgen_model.errors import CheckpointError, ModelUsageError
from timgen_model.generation_context import GenerationContext, ResolvedContext, row_in_context
from timgen_model.item_content import AssetLookup, ItemAsset, item_contents
from timgen_model.model import TIMGen
from timgen_model.review_vectors import attach_review_vectors
from timgen_model.sampling import check_sampling, sample_latents
from timgen_model.vocab import PAD


@dataclass
class Recommendation:
    rank: int
    item_id: str
    title: str
    predicted_score: float | None
    logit: float
    text: str | None = None
    classes: list[str] = field(default_factory=list)
    assets: list[ItemAsset] = field(default_factory=list)


@dataclass
class Draw:
    """The items and next classes one draw of ℓ generates."""

    sample: int
    recommendations: list[Recommendation]
    next_classes: list[tuple[str, float]]


@dataclass
class GenerationResult:
    user_id: str
    history_length: int
    last_timestamp: int
    recommendations: list[Recommendation]  # the first draw's (ℓ = μ when temperature is 0)
    next_classes: list[tuple[str, float]]  # the first draw's
    modality_weights: dict[str, float]  # α of the generated step: the same for every draw
    latent: list[float] = field(repr=False)  # μ
    samples: list[Draw] = field(default_factory=list)  # every draw, the first included
    temperature: float = 0.0
    seed: int = 0
    context: ResolvedContext | None = None


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
    model = checkpoint.config.model
    if checkpoint.spec.review_encoder:  # the texts read through the encoder the run was trained with
        data = attach_review_vectors(data, source, model.review_encoder)
        found = data.splits["train"].reviews.encoder
        if found != checkpoint.spec.review_encoder:
            raise CheckpointError(
                f"this run read the review texts through {checkpoint.spec.review_encoder}, but "
                f"{model.review_encoder} now loads {found}; install the model the run was trained with, or retrain"
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
def step_outputs(model: TIMGen, data: EncodedDataset, split: str | EncodedSplit, row: int):
    """Encode the newest window of a row: (encoded outputs, window, number of real steps).
    ``split``: a split's name, or an encoded split (a row read in another context)."""
    model.eval()
    rows = data.splits[split] if isinstance(split, str) else split
    window = history_window(rows, row, model.config.max_len)
    batch = SplitTensors(rows, data.score_mean, data.score_std).batch(window)
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
                      split: str = "test", dataset: str | Path | None = None, samples: int = 1,
                      temperature: float = 0.0, seed: int = 0, context: GenerationContext | None = None,
                      assets: AssetLookup | None = None) -> GenerationResult:
    """What comes next for ``user_id`` after the newest interaction in ``split``.

    ``samples`` draws of ℓ ~ N(μ, (temperature·σ)²), seeded by ``seed`` (temperature 0: every
    draw is μ); ``context`` sets the time, device, platform and geo of the generated step (by
    default the newest interaction's); ``assets`` looks up each item's media files.

    >>> generate_for_user(Path("runs/ml100k"), "42", top_k=5).recommendations[0].title  # doctest: +SKIP
    'Star Wars'
    """
    if top_k < 1:
        raise ModelUsageError("--top-k must be at least 1")
    check_sampling(samples, temperature)
    checkpoint = run if isinstance(run, Checkpoint) else load_checkpoint(Path(run))
    model = checkpoint.build_model().eval()
    data = load_run_data(checkpoint, dataset)
    row = user_row(data, split, user_id)
    one, resolved = row_in_context(data.splits[split], row, context or GenerationContext(), data.vocabularies)
    encoded, window, steps = step_outputs(model, data, one, 0)
    mu = encoded.mu[0, steps - 1 : steps]  # [1, k]
    sigma = None if encoded.sigma is None else encoded.sigma[0, steps - 1 : steps]
    latents = sample_latents(mu, sigma, samples, temperature, seed)[:, 0]  # [S, k]
    predictions = model.generate(latents, None, want_scores=False)
    logits = predictions.item_logits.clone()  # [S, N]
    history = np.asarray(one.items, dtype=np.int64)
    if exclude_seen:
        logits[:, torch.as_tensor(history)] = float("-inf")
    available = int(torch.isfinite(logits[0]).sum())
    top = torch.topk(logits, min(top_k, available), dim=1)  # [S, K]
    items = top.indices
    scores = None
    if checkpoint.config.loss.score > 0:
        raw = model.generate(latents.repeat_interleave(items.shape[1], 0), items.reshape(-1), want_classes=False).scores
        scores = model.denormalize_scores(raw).reshape(items.shape).tolist()
    tokens = data.vocabularies.items.tokens
    titles = {tokens[i]: checkpoint.titles[i] for i in items.unique().tolist()}
    contents = item_contents(open_contract(data.source).items, titles, titles, assets)
    draws = []
    for s in range(samples):
        recommendations = []
        for rank, i in enumerate(items[s].tolist()):
            content = contents[tokens[i]]
            recommendations.append(Recommendation(
                rank + 1, tokens[i], checkpoint.titles[i], None if scores is None else float(scores[s][rank]),
                float(top.values[s, rank]), content.text, content.classes, content.assets))
        draws.append(Draw(s, recommendations, _next_classes(checkpoint, data, predictions.class_logits, s)))
    weights = {}
    if encoded.alpha is not None:
        weights = dict(zip(encoded.modalities, encoded.alpha[0, steps - 1].tolist()))
    return GenerationResult(
        user_id=str(user_id), history_length=len(history), last_timestamp=int(data.splits[split].timestamps[
            data.splits[split].offsets[row + 1] - 1]),
        recommendations=draws[0].recommendations, next_classes=draws[0].next_classes, modality_weights=weights,
        latent=mu[0].tolist(), samples=draws, temperature=float(temperature), seed=int(seed), context=resolved,
    )


def _next_classes(checkpoint: Checkpoint, data: EncodedDataset, class_logits: torch.Tensor | None,
                  draw: int) -> list[tuple[str, float]]:
    """The three likeliest next classes of one draw, with their probabilities."""
    if checkpoint.config.loss.classification <= 0 or class_logits is None:
        return []
    logits = class_logits[draw].clone()
    logits[PAD] = float("-inf")
    is_set = checkpoint.config.model.class_target == "set"
    if is_set:
        logits[:FIRST_CLASS] = float("-inf")  # reserved classes are never a set head's target
    # A set head gives each class its own probability; a primary head one distribution.
    probs = torch.sigmoid(logits) if is_set else torch.softmax(logits, -1)
    best = torch.topk(probs, min(3, len(probs) - 1))
    return [(data.vocabularies.classes.tokens[i], float(p)) for p, i in zip(best.values, best.indices)]
