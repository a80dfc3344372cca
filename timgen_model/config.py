"""Typed configuration of a training run: the model, the loss weights, the training loop.

Every section rejects unknown keys, so a typo is an error, never a silently ignored value.
A run config is read from TOML / JSON / YAML and then overridden by ``section.key=value``
strings (what ``--set`` on the command line passes).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from timgen_model.errors import ModelConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(Section):
    """The network. Switches turn TIMGen into its ablations and the SASRec-style baseline."""

    embedding_size: int = Field(64, ge=4, description="width of every embedding and of the Transformer")
    num_layers: int = Field(2, ge=1, description="Transformer layers")
    num_heads: int = Field(2, ge=1, description="attention heads")
    feedforward_size: int = Field(256, ge=4, description="Transformer feed-forward width")
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    attention_dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="dropout on the Transformer's attention weights (SASRec's and RecBole's "
        "regularizer); 0 skips its Bernoulli draw per (head, query, key), the slowest op of a step on CPU",
    )
    max_len: int = Field(200, ge=2, description="steps per window")
    norm_first: bool = Field(
        True, description="pre-layer-norm Transformer (each sublayer's input normalized, plus a final norm); "
        "false: post-layer-norm, as BERT and RecBole's SASRec (each sublayer's residual sum normalized)",
    )
    init_std: float = Field(0.05, gt=0.0, description="standard deviation of the embeddings' initial weights "
                            "(RecBole's SASRec: 0.02)")
    latent_size: int = Field(64, ge=2, description="size of the latent interest vector ℓ")
    temporal: Literal["transformer", "mean"] = Field(
        "transformer", description="'mean' replaces the Transformer by causal average pooling (the static ablation)"
    )
    time_features: bool = Field(True, description="sinusoidal absolute time, log(1+Δt) embedding, weekday sin/cos")
    calendar_features: bool = Field(
        True, description="with time_features: hour of day and day of year (sin/cos), season and holiday (table "
        "lookups), and the weekday, all on the user's local clock (UTC where the dataset gives no offset); off: "
        "the weekday in UTC only, as earlier checkpoints were trained",
    )
    interaction_features: bool = Field(
        True, description="action, device, platform, geo, class and score of each past interaction"
    )
    position_embedding: bool = Field(
        True, description="learned position in the window; orders steps that share a timestamp (bulk ratings)"
    )
    fusion: Literal["paper", "query", "none"] = Field(
        # 'query' stays the default: with 'paper' the temporal model no longer beats its mean-pooling
        # ablation on drifting interests (tests/model/test_training.py); see docs/model.md.
        "query", description="multimodal fusion: 'paper' (each modality's causal self-attention over its own "
        "sequence, Q_m = x^m W_Q^m), 'query' (attention from z_t over each modality's history), 'none' "
        "(z_final = z_t); true and false, the older spellings, mean 'query' and 'none'",
    )
    fusion_residual: bool = Field(
        True, description="fusion='paper' only: h_m = x_t^m + Attention(Q_m, K_m, V_m), the step's own vector "
        "kept beside its context as in a Transformer layer; false: h_m = Attention(...) alone",
    )
    review_text: bool = Field(
        True, description="what users wrote (reviews, comments, posts) as the interaction-level 'review' "
        "modality, where the dataset has any",
    )
    text_buckets: int = Field(1 << 14, ge=2, description="hash buckets of the review text's word 1-2-grams")
    review_encoder: str = Field(
        "hashed", description="how the review text is read: 'hashed' (learned hashed word 1-2-grams) or a "
        "pretrained text encoder as `align features` names it, e.g. 'hf:all-minilm-l6-v2' (pip install "
        "'timgen-data[text]'), whose vectors, computed once per dataset, the model projects to its width",
    )
    masked_modalities: list[Literal["item", "text", "image", "video", "audio", "review"]] = Field(
        default_factory=list, description="modalities treated as absent everywhere (the modality ablation)"
    )
    vae: bool = Field(True, description="variational latent; off makes ℓ a deterministic projection")
    decoder: Literal["mlp", "linear"] = Field(
        "mlp", description="G's query from ℓ: a two-layer MLP, or one linear map (SASRec and RecBole score the "
        "last state against the item embeddings directly)",
    )
    item_bias: bool = Field(True, description="a learned per-item term in the ranking logits (popularity); "
                            "false: logits are query · item vector only, as in SASRec")
    gap_buckets: int = Field(48, ge=2, description="buckets of the log(1+Δt) embedding")
    class_target: Literal["set", "primary"] = Field(
        "set", description="'set': the next item's class set (its genres), a sigmoid per class with binary "
        "cross-entropy; 'primary': the interaction's single class, softmax with cross-entropy"
    )

    @field_validator("fusion", mode="before")
    @classmethod
    def _fusion_switch(cls, value):
        # Configs and checkpoints from before the paper's fusion said fusion=true/false.
        if isinstance(value, bool):
            return "query" if value else "none"
        return value

    @field_validator("review_encoder")
    @classmethod
    def _review_encoder_named(cls, value: str):
        if value != "hashed" and not (value.startswith("hf:") and len(value) > 3):
            raise ValueError(f"{value!r} is neither 'hashed' nor 'hf:<model folder, packaged alias or Hub id>' "
                             "(e.g. hf:all-minilm-l6-v2)")
        return value

    @model_validator(mode="after")
    def _heads_divide_width(self):
        if self.embedding_size % self.num_heads:
            raise ValueError(f"embedding_size ({self.embedding_size}) must be divisible by num_heads ({self.num_heads})")
        return self


class LossConfig(Section):
    """Loss = reconstruction + β·KL + λ1·MSE(score) + λ2·CE(class) (BCE over the class set by default)."""

    reconstruction: float = Field(1.0, ge=0.0, description="weight of next-item cross-entropy over all items")
    negatives: int = Field(
        0, ge=0, description="0: softmax over the whole catalogue; N > 0: sampled softmax against N negatives "
        "shared by the batch (training only; evaluation always ranks every item)",
    )
    beta: float = Field(
        0.001, ge=0.0, description="final weight of KL(q(ℓ) ‖ N(0, I)); 0.01 cost ~20 % NDCG@10 on MovieLens"
    )
    kl_anneal_steps: int = Field(1000, ge=0, description="steps over which β rises linearly from 0")
    score: float = Field(0.5, ge=0.0, description="λ1, weight of the score MSE (on standardized scores)")
    classification: float = Field(0.5, ge=0.0, description="λ2, weight of the class (set) cross-entropy")

    def beta_at(self, step: int) -> float:
        if self.kl_anneal_steps == 0:
            return self.beta
        return self.beta * min(1.0, step / self.kl_anneal_steps)


class TrainConfig(Section):
    epochs: int = Field(60, ge=1, description="upper bound; early stopping usually ends sooner")
    batch_size: int = Field(128, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(2e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    grad_clip: float = Field(1.0, gt=0.0, description="max gradient norm")
    windows: Literal["disjoint", "overlapping"] = Field(
        "disjoint", description="training windows: 'disjoint' cuts each history into windows of max_len; "
        "'overlapping' starts one every max_len/2 steps and counts only its newer half, so every target but "
        "a history's first max_len/2 is predicted from at least max_len/2 steps (as evaluated), at twice the work",
    )
    patience: int = Field(6, ge=1, description="epochs without validation improvement before stopping")
    monitor: Literal["loss", "rmse", "ndcg@10"] = Field("loss", description="validation figure for early stopping")
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = Field("auto", description="auto: bf16/fp16 on CUDA, none on CPU")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's choice)")


class RunConfig(Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ModelConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix == ".json":
            return json.loads(text)
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text) or {}
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ModelConfigError(f"config file {path} does not parse: {exc}") from exc
    raise ModelConfigError(f"config file {path}: use .toml, .json or .yaml")


def _parse_value(text: str) -> Any:
    # JSON first so lists, numbers and booleans work; anything else stays a string.
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings to a nested config dict."""
    data = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise ModelConfigError(f"--set {item!r}: write section.key=value, e.g. train.epochs=20 or model.dropout=0.1")
        data.setdefault(parts[0], {})[parts[1]] = _parse_value(value.strip())
    return data


def validate_run_config(data: dict[str, Any], origin: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ModelConfigError(f"{origin} is invalid: {problems}") from exc


def load_run_config(path: Path | None = None, overrides: list[str] | None = None, base: RunConfig | None = None) -> RunConfig:
    """A run config from an optional file plus overrides, on top of ``base`` (defaults if None).

    >>> load_run_config(None, ["train.epochs=5", "model.temporal=mean"]).train.epochs
    5
    """
    data = (base or RunConfig()).model_dump()
    origin = "config"
    if path is not None:
        file_data = _read_file(Path(path))
        for section, values in file_data.items():
            if not isinstance(values, dict):
                raise ModelConfigError(f"{path}: top-level key {section!r} must be a section (model, loss or train)")
            data.setdefault(section, {}).update(values)
        origin = str(path)
    if overrides:
        data = apply_overrides(data, overrides)
    return validate_run_config(data, origin)
