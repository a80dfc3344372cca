"""The columns and types of the ``interactions`` and ``items`` configs, and their splits.

One row per user in ``interactions`` (each list holds the user's interactions in time
order, ``is_target`` marks the positions a split evaluates); one row per item in
``items``, with one vector column per content modality (null where the item has none).
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

SPLITS = ("train", "validation", "test")
# The label scenarios a dataset's scores and classes come from (recorded in build.json and the card).
SCENARIOS = ("movie", "ecommerce", "video")
# The content modalities, in column order. Everything else about a modality (how its media
# is recognised, decoded and encoded) is the producer's business: timgen_data.modalities.
MODALITIES = ("text", "image", "video", "audio")


def embedding_column(modality: str) -> str:
    """The ``items`` column that holds a modality's vectors.

    >>> embedding_column("image")
    'image_emb'
    """
    return f"{modality}_emb"


EMBEDDING_COLUMNS = tuple(embedding_column(m) for m in MODALITIES)

INTERACTIONS_SCHEMA = pa.schema([
    ("user_id", pa.string()),
    ("item_ids", pa.list_(pa.string())),
    ("timestamps", pa.list_(pa.int64())),
    ("actions", pa.list_(pa.string())),
    ("devices", pa.list_(pa.string())),
    ("platforms", pa.list_(pa.string())),
    ("geos", pa.list_(pa.string())),
    ("scores", pa.list_(pa.float32())),
    ("classes", pa.list_(pa.string())),
    ("values", pa.list_(pa.float32())),
    ("texts", pa.list_(pa.string())),
    ("utc_offsets", pa.list_(pa.int32())),  # minutes the local clock is ahead of UTC; null: unknown (UTC)
    ("holidays", pa.list_(pa.bool_())),  # a public holiday of the geo's country that local day; null: unknown
    ("is_target", pa.list_(pa.bool_())),
])

ITEMS_SCHEMA = pa.schema([
    ("item_id", pa.string()),
    ("title", pa.string()),
    ("text", pa.string()),
    ("class", pa.string()),
    ("classes", pa.list_(pa.string())),
    ("year", pa.int32()),
    *[(column, pa.list_(pa.float32())) for column in EMBEDDING_COLUMNS],
])

# What a reader may count on finding. ``texts`` came within format version 1, so earlier
# version-1 datasets lack it; a missing ``<modality>_emb`` column reads as a modality
# without vectors; the items' ``text`` is read by nothing yet, so a dataset made by hand
# may leave it out; without ``utc_offsets`` times are read in UTC, without ``holidays`` no
# day is known to be one.
OPTIONAL_COLUMNS = frozenset({"texts", "text", "utc_offsets", "holidays", *EMBEDDING_COLUMNS})
REQUIRED_INTERACTION_COLUMNS = tuple(n for n in INTERACTIONS_SCHEMA.names if n not in OPTIONAL_COLUMNS)
REQUIRED_ITEM_COLUMNS = tuple(n for n in ITEMS_SCHEMA.names if n not in OPTIONAL_COLUMNS)


def missing_columns_problem(names: Iterable[str], required: tuple[str, ...], what: str) -> str | None:
    """Why a config (``what``: "items", "interactions/train") with columns ``names`` breaks the
    contract, said with what to do; None when it has every ``required`` column. Each reader
    raises its own error with it.

    >>> missing_columns_problem(["item_id"], ("item_id", "title"), "items").split(";")[0]
    'the items config lacks column(s) title'
    """
    present = set(names)
    missing = [c for c in required if c not in present]
    if not missing:
        return None
    return (f"the {what} config lacks column(s) {', '.join(missing)}; "
            "it does not follow the timgen-data dataset contract (rebuild it with `timgen-data build`)")
