"""The PNGs of a run: loss curves, modality weights α over one user's history, and the 2-D map
of users' latent ℓ coloured by each user's dominant class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from timgen_model.encoding import EncodedDataset
from timgen_model.generation import modality_weights_over_history
from timgen_model.modality_weights import alpha_by_user, alpha_variation
from timgen_model.plots import (
    plot_latent_map, plot_loss_curves, plot_modality_weight_variation, plot_modality_weights,
)
from timgen_model.vocab import PAD

LOSS_CURVES = "loss_curves.png"
MODALITY_WEIGHTS = "modality_weights.png"
LATENT_MAP = "latent_map.png"
MODALITY_WEIGHT_VARIATION = "modality_weight_variation.png"
MODALITY_WEIGHT_STATISTICS = "modality_weights.json"
# α's variation is measured over at most this many test users (one forward pass per 128).
_VARIATION_USERS = 2000


def dominant_classes(data: EncodedDataset, split: str, rows: np.ndarray) -> list[str]:
    """Each row's most frequent class over its history ("" classes ignored; ties → lowest index)."""
    encoded = data.splits[split]
    tokens = data.vocabularies.classes.tokens
    names = []
    for row in rows:
        classes = encoded.classes[encoded.offsets[row] : encoded.offsets[row + 1]]
        classes = classes[classes != PAD]
        names.append(tokens[int(np.bincount(classes).argmax())] if len(classes) else "(none)")
    return names


def longest_history_row(data: EncodedDataset, split: str, max_len: int) -> int:
    """The user whose newest window is fullest: the most informative α plot."""
    lengths = np.minimum(np.diff(data.splits[split].offsets), max_len)
    return int(np.argmax(lengths))


def write_run_reports(model, data: EncodedDataset, test_result, history: list[dict], out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    plots = {"loss_curves": plot_loss_curves(history, out_dir / LOSS_CURVES)}
    split = "test"
    if data.splits[split].num_rows:
        row = longest_history_row(data, split, model.config.max_len)
        alpha, modalities, stamps = modality_weights_over_history(model, data, split, row)
        if alpha is not None:
            plots["modality_weights"] = plot_modality_weights(
                alpha, list(modalities), out_dir / MODALITY_WEIGHTS, timestamps=stamps,
                title=f"Modality weights α over user {data.splits[split].user_ids[row]}'s history",
            )
            alphas, names = alpha_by_user(model, data, split, max_rows=_VARIATION_USERS)
            users = data.splits[split].user_ids[: len(alphas)]
            plots["modality_weight_variation"] = plot_modality_weight_variation(
                alphas, names, out_dir / MODALITY_WEIGHT_VARIATION, user_labels=users,
            )
            statistics = {"split": split, "users": len(alphas), "modalities": alpha_variation(alphas, names)}
            (out_dir / MODALITY_WEIGHT_STATISTICS).write_text(json.dumps(statistics, indent=2) + "\n")
    if len(test_result.rows) >= 2:
        # One point per user: ℓ at the user's last test target.
        last = np.unique(test_result.rows[::-1], return_index=True)[1]
        last = len(test_result.rows) - 1 - last
        rows = test_result.rows[last]
        plots["latent_map"] = plot_latent_map(
            test_result.latent[last], dominant_classes(data, split, rows), out_dir / LATENT_MAP, seed=0,
        )
    return plots
