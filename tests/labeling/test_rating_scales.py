"""The movie scenario keeps each rating on its source's scale and records the scales it holds."""

from __future__ import annotations

import csv

from timgen_data.collectors.imdb.pipelines import RATING_RANGE as IMDB_RANGE
from timgen_data.collectors.movielens.ratings import RATING_RANGE as MOVIELENS_RANGE
from timgen_data.labeling.rating_scales import describe_scales
from timgen_data.sources import SOURCES, source_of_namespace
from timgen_data.store import load_cursor
from timgen_data.store.query import fetch_rows


def test_the_registry_scales_are_the_ones_the_collectors_check():
    assert SOURCES["movielens"].rating_scale == MOVIELENS_RANGE
    assert SOURCES["imdb"].rating_scale == IMDB_RANGE == (1.0, 10.0)
    assert source_of_namespace("movielens-25m") is SOURCES["movielens"]
    assert source_of_namespace("no-such-namespace") is None


def test_ml100k_scores_are_its_ratings_on_the_movielens_scale(ml100k_labelled, shared_data):
    with (shared_data / "ml-100k" / "u.data").open(newline="") as f:
        ratings = [float(row[2]) for row in csv.reader(f, delimiter="\t")]
    with ml100k_labelled.begin() as conn:
        state = load_cursor(conn, "label", "movie")
        [(low, high, count)] = fetch_rows(
            conn, "SELECT MIN(score), MAX(score), COUNT(*) FROM labels WHERE scenario = 'movie'")
    assert (low, high, count) == (min(ratings), max(ratings), len(ratings))  # unchanged, none rescaled
    # ML-100K rates in whole stars 1–5 (its README), the scale its collect records over the
    # MovieLens-wide 0.5–5 of the registry.
    assert all(r == int(r) for r in ratings)
    assert state["rating_scales"] == {"movielens-100k": [1.0, 5.0]}
    scale = state["rating_scales"]["movielens-100k"]
    assert scale[0] <= min(ratings) and max(ratings) <= scale[1]


def test_scales_read_as_one_line():
    assert describe_scales({"imdb": [1.0, 10.0], "events-x": None}) == "imdb 1–10, events-x unknown"
