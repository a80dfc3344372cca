"""Label formulas against hand-computed values, weights validation, store round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from timgen_data.errors import ConfigError, NothingToDoError, UsageError
from timgen_data.labeling import (
    EcommerceWeights, ScoreWeights, VideoWeights, ecommerce_labels, label_store, load_weights, movie_labels,
    video_labels,
)
from timgen_data.store import fetch_rows, id_map, upsert_rows


def frame(rows):
    return pd.DataFrame(rows, columns=["id", "user_id", "item_id", "ts", "action", "value", "duration", "category"])


def test_movie_score_is_the_rating_and_class_the_genre():
    result = movie_labels(frame([
        (1, 1, 10, 100, "rate", 4.5, None, "Drama"),
        (2, 1, 11, 200, "click", None, None, "Comedy"),
    ]))
    assert result.to_dict("records") == [{"interaction_id": 1, "score": 4.5, "class": "Drama"}]


def test_ecommerce_formula_by_hand():
    w = EcommerceWeights(alpha=1, beta=2, gamma=4, delta=0.5, session_gap=1800)
    result = ecommerce_labels(frame([
        # session 1 for (u1, i10): click → cart → purchase → comment: 1, 1 + 2, 1 + 2 + 4, 1 + 2 + 4 + 0.5
        (1, 1, 10, 0, "click", None, None, "Books"),
        (2, 1, 10, 60, "cart", None, None, "Books"),
        (3, 1, 10, 120, "purchase", None, None, "Books"),
        (4, 1, 10, 300, "comment", None, None, "Books"),
        # a click on another item in the same session: 1
        (5, 1, 11, 400, "click", None, None, "Toys"),
        # two hours later a new session for (u1, i10): click + cart = 3
        (6, 1, 10, 7600, "click", None, None, "Books"),
        (7, 1, 10, 7700, "cart", None, None, "Books"),
    ]), w)
    scores = dict(zip(result["interaction_id"], result["score"]))
    assert scores == {1: 1.0, 2: 3.0, 3: 7.0, 4: 7.5, 5: 1.0, 6: 1.0, 7: 3.0}  # each up to its own time
    assert set(result["class"]) == {"Books", "Toys"}


def test_video_formula_by_hand():
    w = VideoWeights(lambda1=1, lambda2=0.5, lambda3=0.25, lambda4=2, session_gap=1800)
    result = video_labels(frame([
        # watched 30, then 30 + 60 of a 120 s video (0.25, 0.75), then liked (+0.5) and shared (+2)
        (1, 1, 10, 0, "view", 30.0, 120.0, "Music"),
        (2, 1, 10, 40, "view", 60.0, 120.0, "Music"),
        (3, 1, 10, 100, "like", None, None, "Music"),
        (4, 1, 10, 110, "share", None, None, "Music"),
        # watched 500 s of a 100 s video: capped at 1, plus a comment: 1 + 0.25
        (5, 2, 11, 0, "view", 500.0, 100.0, "Gaming"),
        (6, 2, 11, 10, "comment", None, None, "Gaming"),
    ]), w)
    scores = dict(zip(result["interaction_id"], result["score"]))
    assert scores == {1: 0.25, 2: 0.75, 3: 1.25, 4: 3.25, 5: 1.0, 6: 1.25}  # each up to its own time


def test_weights_file_validation(tmp_path):
    good = tmp_path / "w.toml"
    good.write_text("[ecommerce]\ngamma = 10\n")
    assert load_weights(good).ecommerce.gamma == 10 and load_weights(good).ecommerce.alpha == 1.0
    typo = tmp_path / "typo.toml"
    typo.write_text("[ecommerce]\ngama = 10\n")
    with pytest.raises(ConfigError, match="gama"):
        load_weights(typo)
    negative = tmp_path / "neg.toml"
    negative.write_text("[video]\nlambda2 = -1\n")
    with pytest.raises(ConfigError, match="lambda2"):
        load_weights(negative)
    with pytest.raises(ConfigError, match="not found"):
        load_weights(tmp_path / "missing.toml")


def _seed_store(store, actions):
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"], [("shop", "u1", "{}")],
                    conflict=["source", "external_id"])
        upsert_rows(conn, "items", ["source", "external_id", "category", "categories", "attributes"],
                    [("shop", "i1", "Books", '["Books"]', "{}")], conflict=["source", "external_id"])
        uid, iid = id_map(conn, "users", "shop")["u1"], id_map(conn, "items", "shop")["i1"]
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "value"],
                    [(uid, iid, ts, action, None) for ts, action in actions],
                    conflict=["user_id", "item_id", "ts", "action"])


def test_label_store_is_incremental_and_follows_weight_changes(store):
    _seed_store(store, [(0, "click"), (10, "purchase")])
    first = label_store(store, "ecommerce")
    assert first.labeled == 2 and first.recomputed_all
    again = label_store(store, "ecommerce")
    assert again.considered == 0 and again.labeled == 0
    changed = label_store(store, "ecommerce", ScoreWeights(ecommerce=EcommerceWeights(gamma=10)))
    assert changed.recomputed_all
    with store.begin() as conn:
        scores = {s for (s,) in fetch_rows(conn, "SELECT score FROM labels WHERE scenario = 'ecommerce'")}
    assert scores == {1.0, 11.0}  # the click, then click + purchase


def test_label_errors(store):
    with pytest.raises(UsageError, match="scenario"):
        label_store(store, "music")
    _seed_store(store, [(0, "click")])
    with pytest.raises(NothingToDoError, match="rate"):
        label_store(store, "movie")
