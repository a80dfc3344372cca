"""The TOML mapping from a platform's log columns to the store's interaction fields.

A mapping is validated in whole when it is loaded (unknown keys, unknown actions,
unknown zones, a missing user/item/time column are all errors), and against each file's
columns before anything is stored, so a typo never half-loads a log::

    name = "shop"                  # users and items go to namespace events-shop
    on_error = "stop"              # or "skip": a bad row is rejected and reported

    [columns]                      # our field = your column
    user = "customer_id"
    item = "sku"
    time = "event_time"
    action = "event"

    [time]
    format = "%Y-%m-%d %H:%M:%S"   # or auto, iso8601, epoch_s, epoch_ms, epoch_us, epoch_ns
    zone = "Europe/Berlin"         # for times written without an offset

    [action.values]                # your value = our action
    page_view = "click"
    add_to_cart = "cart"
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from timgen_data.collectors.records import ACTIONS
from timgen_data.timeline import parse_zone
from timgen_data.toml_config import read_toml, validate_toml

# Named time formats; anything else must be a strftime pattern.
TIME_FORMATS = ("auto", "iso8601", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Strict):
    """Which of the file's columns holds each of our fields (user, item and time are required)."""

    user: str = Field(min_length=1)
    item: str = Field(min_length=1)
    time: str = Field(min_length=1)
    action: str | None = Field(None, min_length=1)
    value: str | None = Field(None, min_length=1, description="rating, watched seconds, amount …")
    duration: str | None = Field(None, min_length=1, description="the item's length (video seconds)")
    device: str | None = Field(None, min_length=1)
    platform: str | None = Field(None, min_length=1)
    geo: str | None = Field(None, min_length=1)
    category: str | None = Field(None, min_length=1, description="the item's class, stored on the item")
    title: str | None = Field(None, min_length=1, description="the item's title, stored on the item")
    text: str | None = Field(None, min_length=1, description="what the user wrote: a review, comment or post")

    def used(self) -> dict[str, str]:
        """Our field → the file's column, for the fields mapped."""
        return {field: column for field, column in self.model_dump().items() if column is not None}


class TimeSpec(_Strict):
    format: str = Field("auto", min_length=1)
    zone: str = "UTC"

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in TIME_FORMATS and "%" not in value:
            raise ValueError(f"{value!r} is neither one of {', '.join(TIME_FORMATS)} nor a strftime pattern "
                             "such as '%Y-%m-%d %H:%M:%S'")
        return value

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            parse_zone(value)
        except Exception as exc:  # the timeline's own error names the zone and the fix
            raise ValueError(str(exc)) from None
        return value


class ActionSpec(_Strict):
    fixed: str | None = Field(None, description="every row is this action (a log of one kind)")
    values: dict[str, str] = Field(default_factory=dict, description="your value → our action")
    unmapped: Literal["error", "skip"] = "error"

    @field_validator("fixed")
    @classmethod
    def _fixed_known(cls, value: str | None) -> str | None:
        if value is not None and value not in ACTIONS:
            raise ValueError(f"{value!r} is not an action; use one of {', '.join(ACTIONS)}")
        return value

    @field_validator("values")
    @classmethod
    def _targets_known(cls, values: dict[str, str]) -> dict[str, str]:
        wrong = {theirs: ours for theirs, ours in values.items() if ours not in ACTIONS}
        if wrong:
            shown = ", ".join(f"{k!r} = {v!r}" for k, v in wrong.items())
            raise ValueError(f"{shown}: the right-hand side must be one of {', '.join(ACTIONS)}")
        return values


class Scale(_Strict):
    """Factors that bring numbers to our units (seconds): 0.001 for milliseconds."""

    value: float = Field(1.0, gt=0.0)
    duration: float = Field(1.0, gt=0.0)


class EventMapping(_Strict):
    name: str = "platform"
    format: Literal["auto", "csv", "jsonl", "parquet"] = "auto"
    delimiter: str = Field(",", min_length=1, max_length=1)
    on_error: Literal["stop", "skip"] = "stop"
    columns: Columns
    time: TimeSpec = TimeSpec()
    action: ActionSpec = ActionSpec()
    scale: Scale = Scale()

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must be letters, digits, '_', '.' or '-' (it names the namespace)")
        return value

    @model_validator(mode="after")
    def _one_action_source(self) -> EventMapping:
        if (self.columns.action is None) == (self.action.fixed is None):
            raise ValueError("give exactly one of columns.action (the column holding the event type) and "
                             "action.fixed (one action for every row)")
        if self.action.values and self.columns.action is None:
            raise ValueError("action.values needs columns.action: the column whose values it maps")
        return self

    @property
    def namespace(self) -> str:
        return f"events-{self.name}"

    def fingerprint(self) -> str:
        """Changes with any setting that changes what a file stores, so a changed mapping re-reads it."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]


def load_mapping(path: Path, *, name: str | None = None) -> EventMapping:
    """Read and validate a mapping TOML file; ``name`` (from ``--name``) overrides its ``name``.

    >>> load_mapping(Path("mapping.toml")).namespace  # doctest: +SKIP
    'events-shop'
    """
    data = read_toml(path, "mapping file", "--mapping")
    if name is not None:
        data["name"] = name
    return validate_toml(
        EventMapping, data, path, "mapping file",
        lambda problems: f"{problems}. A mapping needs [columns] user, item and time, and either columns.action or "
                         "action.fixed (see `timgen-data collect events --help`)")
