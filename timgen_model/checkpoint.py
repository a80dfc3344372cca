"""Self-describing checkpoints: weights, optimizer, config, vocabularies, data spec, dataset
fingerprint and step, so ``evaluate``, ``generate`` and ``train --resume`` need nothing else."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from timgen_model.config import RunConfig, validate_run_config
from timgen_model.encoding import Vocabularies
from timgen_model.errors import CheckpointError
from timgen_model.model import DataSpec, TIMGen

CHECKPOINT_FORMAT_VERSION = 1
# Model switches added within format 1, and the value that rebuilds the network of a
# checkpoint saved before each existed.
_BEFORE_ADDED = {"calendar_features": False, "class_target": "primary", "review_encoder": "hashed"}
BEST = "checkpoint.pt"
LAST = "last.pt"


@dataclass
class Checkpoint:
    config: RunConfig
    spec: DataSpec
    vocabularies: Vocabularies
    titles: list[str]
    dataset_source: str
    dataset_fingerprint: str
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None = None
    step: int = 0
    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    variant: str = "timgen"
    rng_state: dict[str, Any] = field(default_factory=dict)

    def build_model(self) -> TIMGen:
        model = TIMGen(self.config.model, self.spec)
        model.load_state_dict(self.model_state)
        return model


def save_checkpoint(checkpoint: Checkpoint, path: Path) -> Path:
    """Write atomically (temp file + rename) so an interrupted save never leaves a broken file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "variant": checkpoint.variant,
        "config": checkpoint.config.model_dump(),
        "spec": checkpoint.spec.to_json(),
        "vocabularies": checkpoint.vocabularies.to_json(),
        "titles": checkpoint.titles,
        "dataset": {"source": checkpoint.dataset_source, "fingerprint": checkpoint.dataset_fingerprint},
        "model_state": checkpoint.model_state,
        "optimizer_state": checkpoint.optimizer_state,
        "step": checkpoint.step,
        "epoch": checkpoint.epoch,
        "history": checkpoint.history,
        "best": checkpoint.best,
        "rng_state": checkpoint.rng_state,
    }
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        torch.save(payload, temp)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: Path) -> Checkpoint:
    path = Path(path)
    if path.is_dir():
        path = path / BEST
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; train first with `timgen-data train DATASET --out RUN_DIR`")
    try:
        # weights_only: a checkpoint is data, never code to unpickle.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({exc}); train again") from exc
    version = payload.get("format_version")
    if version != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}, this version reads {CHECKPOINT_FORMAT_VERSION}; retrain it"
        )
    for name, before in _BEFORE_ADDED.items():
        payload["config"].setdefault("model", {}).setdefault(name, before)
    return Checkpoint(
        config=validate_run_config(payload["config"], str(path)),
        spec=DataSpec(**payload["spec"]),
        vocabularies=Vocabularies.from_json(payload["vocabularies"]),
        titles=payload["titles"],
        dataset_source=payload["dataset"]["source"],
        dataset_fingerprint=payload["dataset"]["fingerprint"],
        model_state=payload["model_state"],
        optimizer_state=payload["optimizer_state"],
        step=payload["step"],
        epoch=payload["epoch"],
        history=payload["history"],
        best=payload["best"],
        variant=payload["variant"],
        rng_state=payload.get("rng_state", {}),
    )
