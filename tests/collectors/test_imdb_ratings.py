"""An IMDb review with a rating is a rating on IMDb's 1–10 scale: stored as ``rate`` with the
review as its text, labelled by the movie scenario as it is given, and the scale reported."""

from __future__ import annotations

from sqlalchemy import select

from timgen_data.collectors.imdb.items import ReviewItem, TitleItem
from timgen_data.collectors.imdb.names import NAMESPACE
from timgen_data.collectors.imdb.page_records import save_batch
from timgen_data.collectors.imdb.store import merge_items, save_users_scoped
from timgen_data.collectors.records import ItemRecord, UserRecord
from timgen_data.collectors.save import save_interactions
from timgen_data.labeling import label_store
from timgen_data.store import load_cursor, models

MARCH_15 = 1584230400  # 2020-03-15T00:00:00Z


def review(review_id: str, user: str, value: float | None, ts: int = MARCH_15, tconst: str = "tt0133093"):
    return ReviewItem(review_id=review_id, tconst=tconst, page_url=f"https://x/title/{tconst}/reviews/",
                      position=1, user_id=user, headline=f"headline {review_id}", text=f"body {review_id}",
                      ts=ts, value=value)


def title(tconst: str, genre: str) -> TitleItem:
    return TitleItem(tconst=tconst, url=f"https://x/title/{tconst}/", name=f"title {tconst}", genres=[genre])


def stored(store) -> list[tuple]:
    with store.begin() as conn:
        users = {r.id: r.external_id for r in conn.execute(select(models.users))}
        return sorted((users[r.user_id], r.action, r.value, r.text)
                      for r in conn.execute(select(models.interactions)))


def test_rated_reviews_are_ratings_with_their_text_and_unrated_ones_stay_comments(sqlite_store):
    reviews = [review("rw1", "ur1", 9.0), review("rw2", "ur2", None), review("rw3", "ur3", 1.0)]
    with sqlite_store.begin() as conn:
        save_batch(conn, [title("tt0133093", "Action")], reviews, [], source_id=None)
    assert stored(sqlite_store) == [
        ("ur1", "rate", 9.0, "headline rw1\nbody rw1"),
        ("ur2", "comment", None, "headline rw2\nbody rw2"),
        ("ur3", "rate", 1.0, "headline rw3\nbody rw3"),
    ]


def test_the_movie_scenario_labels_the_ratings_on_their_1_to_10_scale(sqlite_store):
    reviews = [review("rw1", "ur1", 9.0), review("rw2", "ur2", None), review("rw3", "ur3", 1.0),
               review("rw4", "ur1", 10.0, tconst="tt0114709")]
    with sqlite_store.begin() as conn:
        save_batch(conn, [title("tt0133093", "Action"), title("tt0114709", "Animation")], reviews, [],
                   source_id=None)
    report = label_store(sqlite_store, "movie")
    assert report.labeled == 3  # the comment without a rating gets no movie label
    assert (report.score_min, report.score_max) == (1.0, 10.0)  # not rescaled
    assert report.rating_scales == {NAMESPACE: [1.0, 10.0]}
    with sqlite_store.begin() as conn:
        labels = sorted((r.score, r["class"]) for r in conn.execute(select(models.labels)).mappings())
        assert load_cursor(conn, "label", "movie")["rating_scales"] == {NAMESPACE: [1.0, 10.0]}
    assert labels == [(1.0, "Action"), (9.0, "Action"), (10.0, "Animation")]


def test_a_review_stored_as_a_comment_before_becomes_that_rating_in_place(sqlite_store):
    with sqlite_store.begin() as conn:  # what earlier versions stored for a rated review
        items = merge_items(conn, NAMESPACE, [ItemRecord("tt0133093", "title", None, ["Action"], {})])
        users = save_users_scoped(conn, NAMESPACE, [UserRecord("ur1", {})])
        save_interactions(conn, [(users["ur1"], items["tt0133093"], MARCH_15, "comment", 9.0, None, None, None,
                                  None, None, "headline rw1\nbody rw1")])
        [old_id] = conn.execute(select(models.interactions.c.id)).scalars()
    for _ in range(2):  # the crawl seeing it again, twice, changes it once
        with sqlite_store.begin() as conn:
            save_batch(conn, [], [review("rw1", "ur1", 9.0)], [], source_id=None)
    assert stored(sqlite_store) == [("ur1", "rate", 9.0, "headline rw1\nbody rw1")]
    with sqlite_store.begin() as conn:
        assert list(conn.execute(select(models.interactions.c.id)).scalars()) == [old_id]
