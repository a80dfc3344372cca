"""Standard metrics: RMSE / MAE for scores, accuracy / macro-F1 for classes, HR@k / NDCG@k
with full ranking over all items (no sampled negatives), so figures compare with published ones."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import f1_score


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    if len(actual) == 0:
        return None
    return float(np.sqrt(np.mean((np.asarray(predicted, float) - np.asarray(actual, float)) ** 2)))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    if len(actual) == 0:
        return None
    return float(np.mean(np.abs(np.asarray(predicted, float) - np.asarray(actual, float))))


def accuracy(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    if len(actual) == 0:
        return None
    return float(np.mean(np.asarray(predicted) == np.asarray(actual)))


def macro_f1(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    """Mean F1 over the classes that occur among the true labels."""
    if len(actual) == 0:
        return None
    labels = np.unique(actual)
    return float(f1_score(actual, predicted, labels=labels, average="macro", zero_division=0))


def target_ranks(logits: torch.Tensor, targets: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """0-based rank of each target among all items; ties count against the target.

    logits: [T, N]; targets: [T]; exclude: [T, N] bool of items removed from the ranking
    (already-seen items). The target itself is never removed.
    """
    target_logits = logits.gather(1, targets.unsqueeze(1))  # [T, 1]
    above = logits >= target_logits
    if exclude is not None:
        above &= ~exclude
    above.scatter_(1, targets.unsqueeze(1), False)
    return above.sum(1)


def hit_rate(ranks: np.ndarray, k: int) -> float | None:
    if len(ranks) == 0:
        return None
    return float(np.mean(np.asarray(ranks) < k))


def ndcg(ranks: np.ndarray, k: int) -> float | None:
    """One relevant item per target, so IDCG = 1 and NDCG = 1/log2(rank + 2) inside the top k."""
    if len(ranks) == 0:
        return None
    ranks = np.asarray(ranks)
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(np.mean(gains))


def ranking_metrics(ranks_all: np.ndarray, ranks_unseen: np.ndarray, k: int = 10) -> dict[str, float | None]:
    return {
        f"hr@{k}": hit_rate(ranks_all, k),
        f"ndcg@{k}": ndcg(ranks_all, k),
        f"hr@{k}_unseen": hit_rate(ranks_unseen, k),
        f"ndcg@{k}_unseen": ndcg(ranks_unseen, k),
    }


def distinct_items(lists: np.ndarray) -> float | None:
    """Mean over targets of how many distinct items their lists hold together.

    lists: [T, S, k] item indices, S lists (draws of ℓ) of k items per target; the figure runs
    from k (every draw gave the same items) to S·k (no item in two draws).

    >>> distinct_items(np.array([[[1, 2], [2, 3]], [[4, 5], [4, 5]]]))
    2.5
    """
    counts = distinct_items_per_target(lists)
    return float(counts.mean()) if len(counts) else None


def distinct_items_per_target(lists: np.ndarray) -> np.ndarray:
    """``distinct_items`` of each target: int [T]."""
    lists = np.asarray(lists)
    if lists.shape[0] == 0:
        return np.zeros(0, np.int64)
    flat = np.sort(lists.reshape(lists.shape[0], -1), axis=1)
    return 1 + (np.diff(flat, axis=1) != 0).sum(1)


def intra_list_distance(lists: np.ndarray | torch.Tensor, vectors: torch.Tensor) -> float | None:
    """Mean over lists of the mean cosine distance (1 − cos) between two different items of a list.

    lists: [L, k] item indices (k ≥ 2); vectors: [N, d] one vector per item index.

    >>> vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> intra_list_distance(np.array([[0, 1], [0, 2]]), vectors)
    0.5
    """
    distances = intra_list_distances(lists, vectors)
    return float(distances.mean()) if len(distances) else None


def intra_list_distances(lists: np.ndarray | torch.Tensor, vectors: torch.Tensor) -> np.ndarray:
    """``intra_list_distance`` of each list: float [L] (empty when a list has fewer than 2 items)."""
    lists = torch.as_tensor(np.asarray(lists), dtype=torch.long)
    if lists.shape[0] == 0 or lists.shape[1] < 2:
        return np.zeros(0)
    unit = torch.nn.functional.normalize(vectors.float(), dim=-1)[lists]  # [L, k, d]
    cosine = unit @ unit.transpose(1, 2)  # [L, k, k]
    k = lists.shape[1]
    # The diagonal adds 1 − cos(x, x) = 0 (up to rounding), so the sum is over pairs of two items.
    return ((1.0 - cosine).sum((1, 2)) / (k * (k - 1))).double().numpy()


def set_counts(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Per class, the true positives, false positives and false negatives of multi-label
    predictions: ``predicted`` and ``actual`` are [T, C] bool; returns [3, C] int64.

    Counts add up over batches (and processes), so the F1s of a whole split need no more
    memory than one batch's sets.
    """
    predicted, actual = np.asarray(predicted, bool), np.asarray(actual, bool)
    return np.stack([(predicted & actual).sum(0), (predicted & ~actual).sum(0), (~predicted & actual).sum(0)]).astype(np.int64)


def set_f1(counts: np.ndarray) -> tuple[float | None, float | None]:
    """Micro and macro F1 of multi-label predictions from :func:`set_counts`' [3, C] counts.

    Micro pools every (target, class) decision; macro is the mean F1 over the classes that
    occur among the true sets (as :func:`macro_f1`). None when no true set has a class.

    >>> set_f1(np.array([[1, 0], [1, 0], [0, 1]]))  # class 0: 1 TP, 1 FP; class 1: 1 FN
    (0.5, 0.3333333333333333)
    """
    tp, fp, fn = (np.asarray(c, np.int64) for c in counts)
    occurring = (tp + fn) > 0
    if not occurring.any():
        return None, None
    micro = 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum())
    per_class = 2 * tp[occurring] / (2 * tp[occurring] + fp[occurring] + fn[occurring])
    return float(micro), float(per_class.mean())
