"""Evaluate a trained network on a split's targets: score, class and next-item metrics, plus the
per-target arrays the plots and the experiment tables are made from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from timgen_model.batches import SplitTensors, Windows, evaluation_windows
from timgen_model.class_sets import FIRST_CLASS, predicted_sets, true_sets
from timgen_model.encoding import EncodedDataset, EncodedSplit
from timgen_model.heap import release_free_heap
from timgen_model.metrics import (accuracy, distinct_items_per_target, intra_list_distances, macro_f1, mae,
                                  ranking_metrics, rmse, set_counts, set_f1, target_ranks)
from timgen_model.model import TIMGen
from timgen_model.processes import ONE_PROCESS, Processes
from timgen_model.sampling import check_sampling, sample_latents
from timgen_model.vocab import PAD

TOP_K = 10
_PER_BATCH = ("ranks_all", "ranks_unseen", "predicted_scores", "true_scores", "predicted_classes", "true_classes",
              "rows", "latents", "distinct", "list_distance", "sampled_hits", "set_counts")


@dataclass(frozen=True)
class Diversity:
    """How to measure diversity across draws of ℓ: ``samples`` draws at ``temperature``,
    seeded; each draw's top ``TOP_K`` unseen items form one list."""

    samples: int = 5
    temperature: float = 1.0
    seed: int = 0

    def __post_init__(self):
        check_sampling(self.samples, self.temperature)


@dataclass
class EvaluationResult:
    metrics: dict[str, float | int | None]
    rows: np.ndarray = field(repr=False)  # row of each target
    latent: np.ndarray = field(repr=False)  # [T, k] ℓ at each target (μ; no sampling)
    true_classes: np.ndarray = field(repr=False)
    loss: dict[str, float] = field(default_factory=dict)


def seen_mask(split: EncodedSplit, rows: np.ndarray, positions: np.ndarray, num_items: int) -> torch.Tensor:
    """[T, N] True for items the user interacted with before each target position."""
    starts = split.offsets[rows]
    lengths = positions - starts
    target_index = np.repeat(np.arange(len(rows)), lengths)
    flat = np.concatenate([split.items[s:p] for s, p in zip(starts, positions)]) if len(rows) else np.zeros(0, int)
    mask = torch.zeros(len(rows), num_items, dtype=torch.bool)
    mask[torch.as_tensor(target_index), torch.as_tensor(flat, dtype=torch.long)] = True
    return mask


def iterate_windows(windows: Windows, batch_size: int, starts: np.ndarray | None = None):
    """Batches of ``batch_size`` consecutive windows (those beginning at ``starts``, default all)."""
    for start in range(0, len(windows), batch_size) if starts is None else starts:
        yield windows.take(np.arange(start, min(start + batch_size, len(windows))))


def _gathered(processes: Processes, collected: dict[str, list], loss_sums: dict[str, float],
              batches: int) -> tuple[dict[str, list], dict[str, float], int]:
    """Every process's per-batch results, in process order (so in window order)."""
    everyone = processes.gather((collected, loss_sums, batches))
    collected = {name: [part for theirs, _, _ in everyone for part in theirs[name]] for name in collected}
    loss_sums = {}
    for _, sums, _ in everyone:
        for name, value in sums.items():
            loss_sums[name] = loss_sums.get(name, 0.0) + value
    return collected, loss_sums, sum(count for _, _, count in everyone)


@torch.no_grad()
def evaluate_network(model: TIMGen, data: EncodedDataset, split_name: str, *, batch_size: int = 256,
                     device: torch.device | str = "cpu", loss_weights=None, step: int = 0,
                     processes: Processes = ONE_PROCESS, diversity: Diversity | None = None) -> EvaluationResult:
    """Metrics of ``model`` on every target of ``split_name``.

    With ``diversity``, also ``distinct@10`` (distinct items across the draws' top-10 unseen
    lists of a target, from 10 to 10 × samples), ``ild@10`` (mean cosine distance between two
    items of one list, on the item vectors x* the model ranks by) and ``hr@10_unseen_sampled``
    (how often a draw's list holds the target: the accuracy the diversity costs).

    With several ``processes``, each evaluates its own contiguous part of the batches (the
    same batches as one process, none twice) and every process gets the metrics of them all.

    >>> evaluate_network(model, data, "test").metrics["ndcg@10"]  # doctest: +SKIP
    0.071
    """
    model.eval()
    catalogue = data.catalogue
    if not len(model.class_set_offsets) and catalogue.class_set_offsets is not None:  # a checkpoint's network
        model.attach_class_sets(catalogue.class_set_offsets, catalogue.class_set_members)
    split = data.splits[split_name]
    tensors = SplitTensors(split, data.score_mean, data.score_std)
    windows = evaluation_windows(split, model.config.max_len)
    # Per batch, what the metrics are computed from (gathered from every process when several).
    found: dict[str, list[np.ndarray]] = {name: [] for name in _PER_BATCH}
    loss_sums: dict[str, float] = {}
    batches = 0
    starts = processes.part(np.arange(0, len(windows), batch_size)) if processes.count > 1 else None
    for chunk in iterate_windows(windows, batch_size, starts):
        batch = tensors.batch(chunk).to(device)
        select = batch.evaluate & batch.mask
        targets = batch.target_items[select]
        if loss_weights is not None:
            _, report, encoded, predictions = model.loss_terms(batch, loss_weights, step)
            for name, value in report.items():
                loss_sums[name] = loss_sums.get(name, 0.0) + value
            batches += 1
        else:
            encoded = model(batch)
            predictions = model.generate(encoded.latent[select], targets)
        positions = chunk.targets[chunk.evaluate]
        rows = np.repeat(chunk.rows, chunk.evaluate.sum(1))
        exclude = seen_mask(split, rows, positions, model.spec.num_items).to(device)
        logits = predictions.item_logits.float()
        found["ranks_all"].append(target_ranks(logits, targets).cpu().numpy())
        found["ranks_unseen"].append(target_ranks(logits, targets, exclude).cpu().numpy())
        if predictions.scores is not None:
            known = batch.target_score_known[select].cpu().numpy()
            found["predicted_scores"].append(
                model.denormalize_scores(predictions.scores.float()).cpu().numpy()[known])
            found["true_scores"].append(split.scores[positions][known])
        if predictions.class_logits is not None:
            logits_c = predictions.class_logits.float()
            logits_c[:, PAD] = float("-inf")
            if model.config.class_target == "set":
                logits_c[:, :FIRST_CLASS] = float("-inf")  # a set head never learns the reserved classes
            found["predicted_classes"].append(logits_c.argmax(1).cpu().numpy())
            if catalogue.class_set_offsets is not None:
                truth = true_sets(catalogue.class_set_offsets, catalogue.class_set_members, targets.cpu().numpy(),
                                  logits_c.shape[1])
                chosen = predicted_sets(predictions.class_logits, model.config.class_target).cpu().numpy()
                has = truth.any(1)  # a target whose item has no class set is no multi-label case
                found["set_counts"].append(set_counts(chosen[has], truth[has]))
        found["true_classes"].append(split.classes[positions].astype(np.int64))
        found["rows"].append(rows)
        found["latents"].append(encoded.mu[select].float().cpu().numpy())
        if diversity is not None and len(positions):
            distinct, distance, hits = _sampled_lists_diversity(model, encoded, select, exclude, targets, diversity,
                                                                seed=diversity.seed + int(positions[0]))
            found["distinct"].append(distinct)
            found["list_distance"].append(distance)
            found["sampled_hits"].append(hits)
        release_free_heap()
    if processes.count > 1:
        found, loss_sums, batches = _gathered(processes, found, loss_sums, batches)

    def cat(name, dtype=float):
        return np.concatenate(found[name]) if found[name] else np.zeros(0, dtype)

    true_c = cat("true_classes", int)
    metrics: dict[str, float | int | None] = {"targets": int(len(cat("ranks_all", int)))}
    if found["predicted_scores"]:
        p, t = cat("predicted_scores"), cat("true_scores")
        metrics.update(rmse=rmse(p, t), mae=mae(p, t))
    else:
        metrics.update(rmse=None, mae=None)
    if found["predicted_classes"]:
        pc, has = cat("predicted_classes", int), true_c != PAD
        metrics.update(accuracy=accuracy(pc[has], true_c[has]), macro_f1=macro_f1(pc[has], true_c[has]))
    else:
        metrics.update(accuracy=None, macro_f1=None)
    micro, macro = set_f1(sum(found["set_counts"])) if found["set_counts"] else (None, None)
    metrics.update(class_set_micro_f1=micro, class_set_macro_f1=macro)
    metrics.update(ranking_metrics(cat("ranks_all", int), cat("ranks_unseen", int), TOP_K))
    if diversity is not None:
        counts, distances, hits = cat("distinct"), cat("list_distance"), cat("sampled_hits")
        metrics.update({"samples": diversity.samples, "temperature": diversity.temperature,
                        f"distinct@{TOP_K}": float(counts.mean()) if len(counts) else None,
                        f"ild@{TOP_K}": float(distances.mean()) if len(distances) else None,
                        f"hr@{TOP_K}_unseen_sampled": float(hits.mean()) if len(hits) else None})
    loss = {name: value / batches for name, value in loss_sums.items()} if batches else {}
    latent = cat("latents") if found["latents"] else np.zeros((0, 0))
    return EvaluationResult(metrics, cat("rows", int), latent, true_c, loss)


def _sampled_lists_diversity(model: TIMGen, encoded, select: torch.Tensor, exclude: torch.Tensor,
                             targets: torch.Tensor, diversity: Diversity,
                             seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per target, the distinct items across the draws' top lists; per list, its intra-list
    distance and whether it holds the target. The draws are ranked one at a time, so memory
    holds one [T, N] of logits."""
    sigma = None if encoded.sigma is None else encoded.sigma[select].float()
    latents = sample_latents(encoded.mu[select].float(), sigma, diversity.samples, diversity.temperature, seed)
    vectors = model.all_item_vectors().float()
    # As in hr@10_unseen, the target is never removed, so at temperature 0 the figures agree.
    exclude = exclude.clone()
    exclude[torch.arange(len(targets), device=exclude.device), targets] = False
    lists = []
    for draw in latents:  # [T, k]
        logits = model.generate(draw, None, want_scores=False, want_classes=False).item_logits.float()
        logits = logits.masked_fill(exclude, float("-inf"))
        lists.append(torch.topk(logits, min(TOP_K, logits.shape[1]), dim=1).indices)
    stacked = torch.stack(lists, dim=1).cpu()  # [T, S, K]
    distances = intra_list_distances(stacked.reshape(-1, stacked.shape[-1]), vectors.cpu())
    hits = (stacked == targets.cpu()[:, None, None]).any(-1).reshape(-1).numpy()  # [T·S]
    return distinct_items_per_target(stacked.numpy()), distances, hits
