"""Generated platform logs with every action, written straight into a store (Spark tests).

Each user has 9–30 events on a few items, of every action, with watch times and lengths that
do not add up exactly in floats, gaps both under and over the session gap, and the users'
events interleaved so that ids do not follow users; one item has no category.
"""

from __future__ import annotations

import random

from timgen_data.labeling import EcommerceWeights, ScoreWeights, VideoWeights
from timgen_data.store import id_map, upsert_rows

ACTIONS = ("click", "cart", "purchase", "comment", "view", "like", "share", "rate")
# Short session gaps, so the generated logs have several sessions per user and item.
WEIGHTS = ScoreWeights(ecommerce=EcommerceWeights(alpha=0.3, beta=1.7, gamma=3.1, delta=0.9, session_gap=300),
                       video=VideoWeights(lambda1=1.3, lambda2=0.7, lambda3=0.2, lambda4=1.1, session_gap=300))
Event = tuple[str, str, int, str, "float | None", "float | None"]
# One long session of views of one video, stored latest first: its watched time is a float sum
# whose last bit depends on the order of its terms; long enough for numpy to sum it pairwise.
BINGE = [("binge", "p0", 1000 - 10 * k, "view", round(3.3 + 7.77 * k, 3), 600.0) for k in range(40)]


def event_log(users: range, seed: int, start: int = 0, actions: tuple[str, ...] = ACTIONS) -> list[Event]:
    rng = random.Random(seed)
    log = []
    for u in users:
        ts = start + rng.randrange(1000)
        for _ in range(rng.randrange(9, 31)):
            ts += rng.choice((5, 60, 200, 400, 5000))
            action = rng.choice(actions)
            value = round(rng.uniform(0.1, 90.0), 3) if action in ("view", "rate") else None
            duration = rng.choice((60.0, 0.0, None, 47.3, -5.0)) if action == "view" else None
            log.append((f"u{u}", f"p{rng.randrange(6)}", ts, action, value, duration))
    rng.shuffle(log)
    return log


def add_events(store, log: list[Event]) -> None:
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"],
                    [("shop", u, "{}") for u in sorted({e[0] for e in log})], conflict=["source", "external_id"])
        upsert_rows(conn, "items", ["source", "external_id", "category", "categories", "attributes"],
                    [("shop", i, None if i == "p5" else f"C{i}", "[]", "{}") for i in sorted({e[1] for e in log})],
                    conflict=["source", "external_id"])
        users, items = id_map(conn, "users", "shop"), id_map(conn, "items", "shop")
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "value", "duration"],
                    [(users[u], items[i], ts, a, v, d) for u, i, ts, a, v, d in log],
                    conflict=["user_id", "item_id", "ts", "action"])
