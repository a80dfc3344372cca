"""The relational store: ``schema.sql``, its SQLAlchemy mirror, opening, bulk writes."""

from timgen_data.store import models
from timgen_data.store.bulk import id_map, ids_of, to_json, upsert_rows
from timgen_data.store.engine import Store, schema_sql, schema_statements
from timgen_data.store.query import fetch_frame, fetch_rows, in_clause
from timgen_data.store.state import (
    LABEL_CURSOR,
    label_run_unfinished,
    load_cursor,
    rating_scales,
    save_cursor,
    save_rating_scale,
)
from timgen_data.store.stats import store_stats

__all__ = [
    "LABEL_CURSOR",
    "Store",
    "fetch_frame",
    "fetch_rows",
    "id_map",
    "ids_of",
    "in_clause",
    "label_run_unfinished",
    "load_cursor",
    "models",
    "rating_scales",
    "save_cursor",
    "save_rating_scale",
    "schema_sql",
    "schema_statements",
    "store_stats",
    "to_json",
    "upsert_rows",
]
