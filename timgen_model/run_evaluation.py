"""A trained run evaluated again on one split, the metrics kept beside its checkpoint as
``evaluation-<split>.json`` (so a later look needs no GPU and no data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timgen_model.checkpoint import load_checkpoint
from timgen_model.evaluation import Diversity, evaluate_network
from timgen_model.generation import load_run_data


@dataclass
class RunEvaluation:
    variant: str
    metrics: dict[str, Any]  # variant, split, epoch, then the split's metrics: what the file holds
    path: Path  # the evaluation-<split>.json written


def evaluation_path(run_dir: Path, split: str) -> Path:
    return Path(run_dir) / f"evaluation-{split}.json"


def evaluate_run(run_dir: Path, split: str = "test", dataset: str | Path | None = None,
                 diversity: Diversity | None = None) -> RunEvaluation:
    """Evaluate the run's best checkpoint on ``split`` (full ranking) and write the metrics into the run folder.

    ``dataset`` is for a dataset that moved since training; it must have the same fingerprint.
    ``diversity``: also measure how diverse the lists of several draws of ℓ are.

    >>> evaluate_run(Path("runs/ml100k")).metrics["ndcg@10"]  # doctest: +SKIP
    0.0712
    """
    checkpoint = load_checkpoint(run_dir)
    data = load_run_data(checkpoint, dataset)
    result = evaluate_network(checkpoint.build_model(), data, split, loss_weights=checkpoint.config.loss,
                              batch_size=checkpoint.config.train.eval_batch_size, diversity=diversity)
    metrics = {"variant": checkpoint.variant, "split": split, "epoch": checkpoint.epoch, **result.metrics}
    return RunEvaluation(checkpoint.variant, metrics, write_evaluation(run_dir, split, metrics))


def write_evaluation(run_dir: Path, split: str, metrics: dict[str, Any]) -> Path:
    """``metrics`` as ``<run_dir>/evaluation-<split>.json`` (indented, one trailing newline)."""
    path = evaluation_path(run_dir, split)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return path
