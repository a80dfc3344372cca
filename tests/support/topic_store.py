"""A small store whose items fall into two topics, with ratings enough to label and build.

Text encoders are checked on it: items of one topic should come out closer to each other
than to the other topic's.
"""

from __future__ import annotations

import json

from timgen_data.store import fetch_rows, upsert_rows

NAMESPACE = "films"
# (external id, title, description, genres, topic)
ITEMS = [
    ("s1", "Star Voyage", "A starship crew explores distant galaxies and fights alien invaders.", ["Sci-Fi"], "space"),
    ("s2", "Orbit", "Astronauts stranded on a space station try to fly their rocket back to Earth.", ["Sci-Fi"],
     "space"),
    ("s3", "Red Planet", "Explorers land on Mars and search for signs of alien life.", ["Sci-Fi", "Adventure"],
     "space"),
    ("c1", "The Baker's Daughter", "A young pastry chef opens a bakery and bakes bread and cakes for the village.",
     ["Comedy"], "cooking"),
    ("c2", "Kitchen Rivals", "Two cooks in a Paris restaurant compete over recipes, sauces and soups.", ["Comedy"],
     "cooking"),
    ("c3", "Sweet Recipes", "A grandmother teaches her grandson to cook pasta and bake pies in her kitchen.",
     ["Drama"], "cooking"),
]
USERS = 4


def seed_topic_store(store) -> None:
    """Users, the items above (title, description as text, genres as categories) and one rating per user and item."""
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"],
                    [(NAMESPACE, f"u{u}", "{}") for u in range(USERS)], conflict=["source", "external_id"])
        upsert_rows(conn, "items", ["source", "external_id", "title", "text", "year", "category", "categories",
                                    "attributes"],
                    [(NAMESPACE, ext, title, text, 2000, genres[0], json.dumps(genres), "{}")
                     for ext, title, text, genres, _ in ITEMS], conflict=["source", "external_id"])
        users = dict(fetch_rows(conn, "SELECT external_id, id FROM users"))
        items = dict(fetch_rows(conn, "SELECT external_id, id FROM items"))
        rows = [(users[f"u{u}"], items[ext], 1_000_000 + 100 * (u * len(ITEMS) + i), "rate", float(1 + (u + i) % 5),
                 None, "", "", "", None) for u in range(USERS) for i, (ext, *_) in enumerate(ITEMS)]
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "value", "duration", "device",
                                           "platform", "geo", "source_id"], rows,
                    conflict=["user_id", "item_id", "ts", "action"])
