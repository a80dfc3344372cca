"""The class set of an interaction as a multi-label target: the loss and the sets a head predicts.

An interaction's class set is its item's (the items config's ``classes``: a movie's genres,
a product's categories): every scenario takes an interaction's class from its item, so the
set needs no column of its own in ``interactions`` (that would repeat each item's list on
every one of its interactions). The catalogue holds the sets in CSR form
(:class:`~timgen_model.encoding.ItemCatalogue`); a batch's targets are gathered from it here.

The reserved classes (padding, unknown) are never a target nor a prediction.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from timgen_model.vocab import RESERVED

FIRST_CLASS = len(RESERVED)  # class indices below this one are reserved


def class_set_targets(offsets: torch.Tensor, members: torch.Tensor, items: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[T, C] 1.0 where class c is in the set of ``items[t]`` (offsets/members: the catalogue's CSR)."""
    starts, ends = offsets[items], offsets[items + 1]
    lengths = ends - starts
    dense = torch.zeros(len(items), num_classes, device=items.device)
    total = int(lengths.sum())
    if total:
        rows = torch.repeat_interleave(torch.arange(len(items), device=items.device), lengths)
        first = torch.repeat_interleave(starts - (torch.cumsum(lengths, 0) - lengths), lengths)
        dense[rows, members[first + torch.arange(total, device=items.device)]] = 1.0
    dense[:, :FIRST_CLASS] = 0.0
    return dense


def class_set_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Binary cross-entropy per class, summed over the classes and averaged over the targets
    that have a class set (so its size compares with a softmax cross-entropy); None when none has.

    logits, targets: [T, C].
    """
    has = targets.sum(1) > 0
    if not has.any():
        return None
    per_class = F.binary_cross_entropy_with_logits(logits[has, FIRST_CLASS:].float(), targets[has, FIRST_CLASS:],
                                                   reduction="none")
    return per_class.sum(1).mean()


def predicted_sets(logits: torch.Tensor, target: str) -> torch.Tensor:
    """[T, C] bool: the classes a head predicts. A set head predicts each class whose sigmoid
    passes 0.5 and always its most likely one (every set it is scored on has a class, and most
    genres are rarer than 1 in 2, so a threshold alone often predicts nothing); a primary head
    predicts its one most likely class."""
    logits = logits.float()
    best = logits[:, FIRST_CLASS:].argmax(1) + FIRST_CLASS
    chosen = logits > 0 if target == "set" else torch.zeros_like(logits, dtype=torch.bool)
    chosen[torch.arange(len(logits), device=logits.device), best] = True
    chosen[:, :FIRST_CLASS] = False
    return chosen


def true_sets(offsets: np.ndarray, members: np.ndarray, items: np.ndarray, num_classes: int) -> np.ndarray:
    """[T, C] bool: the class set of each of ``items`` (numpy twin of :func:`class_set_targets`)."""
    return class_set_targets(torch.as_tensor(offsets), torch.as_tensor(members), torch.as_tensor(items, dtype=torch.long),
                             num_classes).numpy() > 0


def class_prior_logits(offsets: np.ndarray, members: np.ndarray, items: np.ndarray, is_target: np.ndarray,
                       num_classes: int, chunk: int = 1 << 22) -> np.ndarray | None:
    """[C] log-odds of each class among the class sets of the training targets (``items`` where
    ``is_target``, read a chunk at a time); None when no target has a class set.

    A set head whose biases start here predicts the classes' base rates from the first step.
    Started at 0 instead, every class begins at probability 1/2, and the summed binary
    cross-entropy (≈ 0.69 × C) and its gradient swamp the other losses until the biases have
    moved down to the base rates; under gradient clipping that also slows the score and ranking
    heads (the prior initialisation of Lin et al. 2017, "Focal Loss for Dense Object Detection").
    """
    num_items = len(offsets) - 1
    counts = np.zeros(num_items, np.int64)
    for start in range(0, len(items), chunk):
        part = np.asarray(items[start:start + chunk])[np.asarray(is_target[start:start + chunk], bool)]
        counts += np.bincount(part, minlength=num_items)[:num_items]
    lengths = np.diff(offsets)
    with_set = int(counts[lengths > 0].sum())
    if not with_set:
        return None
    per_class = np.bincount(members, weights=np.repeat(counts, lengths), minlength=num_classes)[:num_classes]
    rate = np.clip(per_class / with_set, 1e-4, 1 - 1e-4)
    logits = np.log(rate / (1 - rate))
    logits[:FIRST_CLASS] = logits[FIRST_CLASS:].min() if num_classes > FIRST_CLASS else 0.0
    return logits.astype(np.float32)
