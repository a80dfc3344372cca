"""How the modality weights α move: over each user's steps and from one user to another.

α is read over each user's newest window (what ``generate`` reads). Per modality:
``mean``; ``std_within_user``, the standard deviation over a user's steps averaged over
users (does α follow the history?); ``std_across_users``, the standard deviation of the
users' mean α (does α differ by user?). The start step, which has no content, is left out.
"""

from __future__ import annotations

import numpy as np
import torch

from timgen_model.batches import SplitTensors, Windows, history_window
from timgen_model.encoding import EncodedDataset

_ROWS_PER_BATCH = 128


@torch.no_grad()
def alpha_by_user(model, data: EncodedDataset, split: str, *, max_rows: int | None = None) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """α [T_u, M] over each row's newest window (start step left out), and the modality names;
    ([], ()) when the network fuses nothing."""
    model.eval()
    encoded_split = data.splits[split]
    rows = np.arange(encoded_split.num_rows if max_rows is None else min(max_rows, encoded_split.num_rows))
    tensors = SplitTensors(encoded_split, data.score_mean, data.score_std)
    device = next(model.parameters()).device
    found: list[np.ndarray] = []
    modalities: tuple[str, ...] = ()
    for low in range(0, len(rows), _ROWS_PER_BATCH):
        parts = [history_window(encoded_split, int(r), model.config.max_len) for r in rows[low: low + _ROWS_PER_BATCH]]
        windows = Windows(*(np.concatenate([getattr(w, f) for w in parts]) for f in ("inputs", "targets", "evaluate", "rows")))
        encoded = model(tensors.batch(windows).to(device))
        if encoded.alpha is None:
            return [], ()
        modalities = encoded.modalities
        alpha = encoded.alpha.float().cpu().numpy()
        real = windows.inputs[:, : alpha.shape[1]] >= 0  # real interactions: not the start step, not padding
        found.extend(alpha[k][real[k]] for k in range(len(parts)))
    return found, modalities


def alpha_variation(alphas: list[np.ndarray], modalities: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per modality: mean α, its std over steps within a user (averaged over users with two
    steps or more) and its std across users' means.

    >>> alpha_variation([np.array([[0.5, 0.5], [0.7, 0.3]]), np.array([[0.6, 0.4]])], ("item", "text"))["item"]
    {'mean': 0.6, 'std_within_user': 0.1, 'std_across_users': 0.0, 'min': 0.5, 'max': 0.7}
    """
    used = [a for a in alphas if len(a)]
    if not used:
        return {}
    steps = np.concatenate(used)
    within = [a.std(0) for a in used if len(a) >= 2]
    means = np.stack([a.mean(0) for a in used])
    result = {}
    for m, name in enumerate(modalities):
        result[name] = {
            "mean": round(float(steps[:, m].mean()), 4),
            "std_within_user": round(float(np.mean([w[m] for w in within])) if within else 0.0, 4),
            "std_across_users": round(float(means[:, m].std()), 4),
            "min": round(float(steps[:, m].min()), 4),
            "max": round(float(steps[:, m].max()), 4),
        }
    return result
