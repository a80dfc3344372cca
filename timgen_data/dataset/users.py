"""The optional ``users`` config: each user's attributes (age, gender, … as the source gave them).

Sources such as MovieLens describe their users; keeping that lets exports write RecBole's
``.user`` file. Attributes are stored as one JSON text column because sources disagree on
which there are. A dataset whose users have none gets no ``users`` config at all.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection

from timgen_data.store import fetch_rows, in_clause


def users_table(conn: Connection, sources: list[str], user_ids: np.ndarray, prefixed: bool) -> pa.Table | None:
    """``user_id``, ``attributes`` (JSON text) for ``user_ids``; None when none of them has an attribute."""
    marks, names = in_clause("s", sources)
    rows = fetch_rows(conn, f"SELECT source, external_id, attributes FROM users WHERE source IN ({marks})", names)
    attributes = {(f"{source}:{external}" if prefixed else external): text for source, external, text in rows}
    values = [attributes.get(str(u)) or "{}" for u in user_ids]
    if all(v == "{}" for v in values):
        return None
    return pa.table({"user_id": pa.array([str(u) for u in user_ids], pa.string()),
                     "attributes": pa.array(values, pa.string())})
