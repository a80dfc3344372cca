"""What is in the store: row counts per table and per source, for ``timgen-data stats``."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from timgen_data.store import models as m
from timgen_data.store.engine import Store


def store_stats(store: Store) -> dict[str, Any]:
    """Counts per table, interactions per source namespace and action, labels per scenario.

    >>> store_stats(Store.open("sqlite://"))["tables"]["interactions"]
    0
    """
    with store.begin() as conn:
        tables = {
            name: conn.execute(select(func.count()).select_from(m.metadata.tables[name])).scalar_one()
            for name in ("sources", "users", "items", "item_links", "interactions", "assets", "features", "labels")
        }
        per_source = conn.execute(
            select(m.users.c.source, m.interactions.c.action, func.count(), func.min(m.interactions.c.ts),
                   func.max(m.interactions.c.ts))
            .select_from(m.interactions.join(m.users, m.users.c.id == m.interactions.c.user_id))
            .group_by(m.users.c.source, m.interactions.c.action)
            .order_by(m.users.c.source, m.interactions.c.action)
        ).all()
        scenarios = conn.execute(
            select(m.labels.c.scenario, func.count()).group_by(m.labels.c.scenario).order_by(m.labels.c.scenario)
        ).all()
        sources = conn.execute(
            select(m.sources.c.collector, m.sources.c.variant, m.sources.c.namespace, m.sources.c.status,
                   m.sources.c.sha256, m.sources.c.counts).order_by(m.sources.c.id)
        ).all()
    return {
        "store": store.url,
        "tables": tables,
        "interactions": [
            {"source": s, "action": a, "count": n, "first_ts": lo, "last_ts": hi} for s, a, n, lo, hi in per_source
        ],
        "labels": {scenario: n for scenario, n in scenarios},
        "sources": [
            {"collector": c, "variant": v, "namespace": ns, "status": st, "sha256": sha, "counts": json.loads(counts)}
            for c, v, ns, st, sha, counts in sources
        ],
    }
