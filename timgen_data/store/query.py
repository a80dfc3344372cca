"""Reading many rows fast: the driver's own cursor, skipping SQLAlchemy's Row objects.

Bulk reads (a whole interactions table for labeling or building) spend most of their
time building per-row objects; plain driver tuples are several times cheaper.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from sqlalchemy import Connection

_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


def fetch_rows(conn: Connection, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    """Run ``sql`` (``:name`` placeholders) and return plain tuples."""
    if conn.dialect.name == "postgresql":
        sql = _NAMED.sub(r"%(\1)s", sql)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql, params or {})
        return [tuple(row) for row in cursor.fetchall()] if conn.dialect.name == "postgresql" else cursor.fetchall()
    finally:
        cursor.close()


def in_clause(prefix: str, values: list[str]) -> tuple[str, dict[str, str]]:
    """Placeholders and parameters for ``IN (...)`` over ``values``.

    >>> in_clause("s", ["a", "b"])
    (':s0, :s1', {'s0': 'a', 's1': 'b'})
    """
    params = {f"{prefix}{k}": v for k, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params), params


def fetch_frame(conn: Connection, sql: str, columns: list[str], params: dict[str, Any] | None = None) -> pd.DataFrame:
    """``fetch_rows`` as a DataFrame with the given column names."""
    rows = fetch_rows(conn, sql, params)
    if not rows:
        return pd.DataFrame({c: [] for c in columns})
    return pd.DataFrame.from_records(rows, columns=columns)
