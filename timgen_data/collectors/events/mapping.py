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

A MovieLens-style ``.dat`` log (``::`` between fields, no header) with its item file::

    name = "movietweetings"
    format = "csv"
    delimiter = "::"
    names = ["user_id", "movie_id", "rating", "rating_timestamp"]
    rating_scale = [0, 10]         # recorded for the labels: the ratings' own scale

    [item_ids]
    format = "tt%07d"              # 120735 → tt0120735, IMDb's form
    link = "imdb"                  # so `align links` joins them to IMDb directly

    [items]                        # the titles and genres, beside the log
    path = "movies.dat"            # relative to this mapping file
    delimiter = "::"
    names = ["movie_id", "title", "genres"]
    id = "movie_id"
    title = "title"                # "Title (1999)" → title "Title", year 1999
    genres = "genres"              # "Crime|Drama" → categories Crime, Drama
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from timgen_data.collectors.records import ACTIONS
from timgen_data.errors import ConfigError
from timgen_data.timeline import parse_zone
from timgen_data.toml_config import read_toml, validate_toml

# Named time formats; anything else must be a strftime pattern.
TIME_FORMATS = ("auto", "iso8601", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# printf-style id formats: one %d (a whole number, with optional zero padding and width) or %s.
_ID_FORMAT = re.compile(r"^(?:[^%]|%%)*%(?P<spec>0?\d*d|s)(?:[^%]|%%)*$")
# Where ids may point to: the sources ``align links`` links to (their items are link targets).
LINK_TARGETS = ("imdb", "youtube")


class MappingError(ConfigError):
    """The mapping names a column a log file does not have."""


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


def _known_encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"{value!r} is not a text encoding Python knows (e.g. \"utf-8\", \"latin-1\")") from None
    return value


def _distinct_names(value: list[str] | None) -> list[str] | None:
    if value is not None:
        doubled = sorted({n for n in value if value.count(n) > 1})
        if doubled:
            raise ValueError(f"names {', '.join(map(repr, doubled))} appear twice; each column needs its own name")
    return value


class ItemIds(_Strict):
    """Turning the log's item ids into a source's own form, and linking them there."""

    format: str | None = Field(None, description="printf-style: 'tt%07d' makes 120735 tt0120735")
    link: Literal[LINK_TARGETS] | None = Field(None, description="the formatted ids are this source's ids")

    @field_validator("format")
    @classmethod
    def _printf(cls, value: str | None) -> str | None:
        if value is not None and not _ID_FORMAT.match(value):
            raise ValueError(f"{value!r} must hold one %d (a number, e.g. 'tt%07d': 120735 → tt0120735) or one %s "
                             "(the id as written, e.g. 'sku-%s'); write a literal % as %%")
        return value

    def apply(self, raw: str) -> str:
        """``raw`` in the source's form; ValueError when ``format`` needs a number and ``raw`` is none."""
        if self.format is None:
            return raw
        if _ID_FORMAT.match(self.format)["spec"] == "s":
            return self.format % raw
        if not (raw.isascii() and raw.isdigit()):
            raise ValueError(raw)
        return self.format % int(raw)


class ItemFile(_Strict):
    """A delimited text file of the items (``movies.dat``): titles, years and genres by item id."""

    path: str = Field(min_length=1, description="relative to the mapping file")
    delimiter: str = Field(",", min_length=1)
    names: list[str] | None = Field(None, min_length=1, description="the columns in order, when there is no header")
    encoding: str = "utf-8"
    id: str = Field(min_length=1, description="the column holding the item id the log uses")
    title: str | None = Field(None, min_length=1, description="'Title (1999)': the year goes to the year")
    genres: str | None = Field(None, min_length=1, description="'Crime|Drama': the categories, first is primary")
    genre_separator: str = Field("|", min_length=1)

    check_encoding = field_validator("encoding")(_known_encoding)
    check_names = field_validator("names")(_distinct_names)

    def used(self) -> dict[str, str]:
        """Our field → the file's column (the reader's item, title and category)."""
        fields = {"item": self.id, "title": self.title, "category": self.genres}
        return {ours: theirs for ours, theirs in fields.items() if theirs is not None}


class EventMapping(_Strict):
    name: str = "platform"
    format: Literal["auto", "csv", "jsonl", "parquet"] = "auto"
    # One character goes through Arrow's CSV parser (quotes understood); longer ones ("::")
    # split each line as written, as MovieLens-style .dat files need.
    delimiter: str = Field(",", min_length=1)
    names: list[str] | None = Field(None, min_length=1, description="the columns in order, when there is no header")
    encoding: str = "utf-8"
    on_error: Literal["stop", "skip"] = "stop"
    rating_scale: tuple[float, float] | None = Field(None, description="[lowest, highest] of the value column")
    columns: Columns
    time: TimeSpec = TimeSpec()
    action: ActionSpec = ActionSpec()
    scale: Scale = Scale()
    item_ids: ItemIds = ItemIds()
    items: ItemFile | None = None

    check_encoding = field_validator("encoding")(_known_encoding)
    check_names = field_validator("names")(_distinct_names)

    @field_validator("rating_scale")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (np.isfinite(value).all() and value[0] < value[1]):
            raise ValueError(f"rating_scale must be [lowest, highest] with lowest < highest, not {list(value)}")
        return value

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
        if self.rating_scale is not None and self.columns.value is None:
            raise ValueError("rating_scale needs columns.value: the column holding the ratings")
        if self.names is not None and self.format not in ("auto", "csv"):
            raise ValueError(f"names lists the columns of a delimited text file; format = {self.format!r} files "
                             "name their own columns")
        if len(self.delimiter) > 1 and self.format not in ("auto", "csv"):
            raise ValueError(f"delimiter applies to delimited text, not format = {self.format!r}")
        return self

    @property
    def namespace(self) -> str:
        return f"events-{self.name}"

    def fingerprint(self) -> str:
        """Changes with any setting that changes what a file stores, so a changed mapping re-reads it."""
        data = self.model_dump()
        # Settings added later count only when set, so a mapping written before them keeps its
        # fingerprint (and its files' cursors: nothing is read again after an upgrade).
        for key, unset in _LATER_SETTINGS.items():
            if data[key] == unset:
                del data[key]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


_LATER_SETTINGS = {"names": None, "encoding": "utf-8", "rating_scale": None, "item_ids": ItemIds().model_dump(),
                   "items": None}


def load_mapping(path: Path, *, name: str | None = None) -> EventMapping:
    """Read and validate a mapping TOML file; ``name`` (from ``--name``) overrides its ``name``.

    >>> load_mapping(Path("mapping.toml")).namespace  # doctest: +SKIP
    'events-shop'
    """
    data = read_toml(path, "mapping file", "--mapping")
    if name is not None:
        data["name"] = name
    items = data.get("items")
    if isinstance(items, dict) and isinstance(items.get("path"), str):
        # An item file named in the mapping lies beside it, wherever the command runs.
        items["path"] = str(Path(path).parent / Path(items["path"]).expanduser())
    return validate_toml(
        EventMapping, data, path, "mapping file",
        lambda problems: f"{problems}. A mapping needs [columns] user, item and time, and either columns.action or "
                         "action.fixed (see `timgen-data collect events --help`)")
