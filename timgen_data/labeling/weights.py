"""Typed, validated settings for the label formulas, loaded from TOML.

Defaults (documented in README.md):

    [ecommerce]                      [video]
    alpha = 1.0   # click            lambda1 = 1.0   # watch / length, capped at 1
    beta  = 2.0   # add to cart      lambda2 = 0.5   # like
    gamma = 4.0   # purchase         lambda3 = 0.5   # comment
    delta = 1.0   # comment          lambda4 = 1.0   # share
    session_gap = 1800               session_gap = 1800

Unknown keys, negative or infinite weights, and a session gap that is not a whole number
of seconds (``true`` or ``1.5``) are errors, never silently ignored or converted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from timgen_data.toml_config import read_toml, validate_toml


class _Strict(BaseModel):
    # strict fields: TOML's ``true`` is no weight and ``1.5`` no integer; an int is a fine float.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EcommerceWeights(_Strict):
    """y_score = α·click + β·cart + γ·purchase + δ·comment per (user, item, session)."""

    alpha: float = Field(1.0, ge=0.0, strict=True, description="weight of a click")
    beta: float = Field(2.0, ge=0.0, strict=True, description="weight of an add-to-cart")
    gamma: float = Field(4.0, ge=0.0, strict=True, description="weight of a purchase")
    delta: float = Field(1.0, ge=0.0, strict=True, description="weight of a comment")
    session_gap: int = Field(1800, gt=0, strict=True, description="seconds of inactivity that end a session")


class VideoWeights(_Strict):
    """y_score = λ1·(watch/length) + λ2·like + λ3·comment + λ4·share per (user, item, session)."""

    lambda1: float = Field(1.0, ge=0.0, strict=True, description="weight of the watched fraction (capped at 1)")
    lambda2: float = Field(0.5, ge=0.0, strict=True, description="weight of a like")
    lambda3: float = Field(0.5, ge=0.0, strict=True, description="weight of a comment")
    lambda4: float = Field(1.0, ge=0.0, strict=True, description="weight of a share")
    session_gap: int = Field(1800, gt=0, strict=True, description="seconds of inactivity that end a session")


class ScoreWeights(_Strict):
    """All scenario settings; each section optional, defaults as documented above."""

    ecommerce: EcommerceWeights = EcommerceWeights()
    video: VideoWeights = VideoWeights()

    def fingerprint(self) -> str:
        """Changes whenever any weight changes, so stale labels are recomputed."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]


def load_weights(path: Path | None) -> ScoreWeights:
    """Read and validate a weights TOML file (``None`` gives the defaults).

    >>> load_weights(None).ecommerce.gamma
    4.0
    """
    if path is None:
        return ScoreWeights()
    return validate_toml(
        ScoreWeights, read_toml(path, "weights file", "--weights"), path, "weights file",
        lambda problems: f"{problems}; known sections are [ecommerce] alpha/beta/gamma/delta/session_gap and "
                         "[video] lambda1..lambda4/session_gap; weights are finite numbers >= 0, "
                         "session_gap whole seconds > 0")
