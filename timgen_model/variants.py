"""Named network variants: TIMGen, its ablations, and the SASRec-style baseline.

A variant is a list of config overrides applied on top of the defaults and below the user's
own config, so ``--set`` can still change anything (the width, the epochs).
"""

from __future__ import annotations

from pathlib import Path

from timgen_model.config import RunConfig, load_run_config
from timgen_model.errors import ModelConfigError

VARIANTS: dict[str, list[str]] = {
    "timgen": [],
    # The static-vs-dynamic experiment of the paper's summary (the paper plans none): the
    # Transformer replaced by average pooling.
    "timgen-mean-pooling": ["model.temporal=mean", "model.position_embedding=false"],
    # The other fusion: attention from z_t over each modality's history instead of the paper's
    # per-modality self-attention.
    "timgen-paper-fusion": ["model.fusion=paper"],
    # Same Transformer, item ids only, next-item loss only (Kang & McAuley 2018, with full softmax).
    "sasrec": [
        "model.time_features=false", "model.interaction_features=false", "model.position_embedding=true",
        "model.fusion=none", "model.vae=false", "loss.score=0", "loss.classification=0", "model.review_text=false",
    ],
}
# The same network with RecBole 1.2.1's SASRec recipe (its SASRec.yaml and overall.yaml): dropout
# 0.5 on states and attention weights, the newest 50 items, post-layer-norm, N(0, 0.02) embeddings,
# the last state scored against the item embeddings without a per-item bias, Adam at 1e-3, early
# stopping on validation NDCG@10 after 10 epochs without progress. Every-prefix training becomes
# overlapping windows. For comparing with RecBole on one split (docs/model.md, "Against RecBole's SASRec").
VARIANTS["sasrec-recbole"] = VARIANTS["sasrec"] + [
    "model.dropout=0.5", "model.attention_dropout=0.5", "model.max_len=50", "model.norm_first=false",
    "model.init_std=0.02", "model.decoder=linear", "model.item_bias=false",
    "train.learning_rate=0.001", "train.windows=overlapping", "train.monitor=ndcg@10", "train.patience=10",
]


def masked_variant(modality: str) -> str:
    return f"timgen-without-{modality}"


def variant_overrides(name: str) -> list[str]:
    if name in VARIANTS:
        return VARIANTS[name]
    if name.startswith("timgen-without-"):
        return [f'model.masked_modalities=["{name.removeprefix("timgen-without-")}"]']
    raise ModelConfigError(f"unknown variant {name!r}; choose {', '.join(VARIANTS)} or timgen-without-<modality>")


def variant_config(name: str, path: Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Defaults → the variant's switches → the user's file → the user's overrides.

    >>> variant_config("sasrec").model.fusion
    'none'
    """
    base = load_run_config(None, variant_overrides(name))
    return load_run_config(path, overrides, base=base)
