"""``label`` streams whole users in chunks: its labels equal those of the formulas applied to
the whole interactions table at once (what ``label`` did before it streamed), to the bit,
whatever the chunk size, on SQLite and PostgreSQL; incremental runs still read only the
users with new interactions.

(The video formula sums watch times in time order, so that a group's score depends on that
group alone; pandas' grouped sum, used before, could change its last bit with the rows
around it, and no chunked run could match it.)"""

from __future__ import annotations

import random

import pandas as pd
import pyarrow as pa
import pytest

import timgen_data.labeling.run as run
import timgen_data.labeling.user_chunks as user_chunks
from support.event_logs import WEIGHTS, add_events, event_log
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.errors import StoreError
from timgen_data.labeling import (
    EcommerceWeights, ScoreWeights, VideoWeights, compute_labels, label_store, video_labels,
)
from timgen_data.labeling.scenarios import VIDEO_ACTIONS
from timgen_data.labeling.user_chunks import ItemCategories, whole_users
from timgen_data.store import fetch_rows, id_map
from timgen_data.store.query import fetch_frame

# One long session of views of one video, stored latest first: its watched time is a float sum
# whose last bit depends on the order of its terms (the index gives them in time order).
BINGE = [("binge", "p0", 100 - 10 * k, "view", v, 600.0)
         for k, v in enumerate((6.658, 11.56, 32.087, 73.091, 33.04))]


def one_pass_labels(store, scenario: str) -> dict[int, tuple[float, str | None]]:
    """The formulas over the whole interactions table in one frame, as ``label`` computed them
    before it streamed (rows in id order, categories mapped from the items)."""
    columns = ["id", "user_id", "item_id", "ts", "action", "value", "duration"]
    with store.begin() as conn:
        frame = fetch_frame(conn, f"SELECT {', '.join(columns)} FROM interactions ORDER BY id", columns)
        categories = dict(fetch_rows(conn, "SELECT id, category FROM items"))
    frame["category"] = frame["item_id"].map(categories)
    labels = compute_labels(scenario, frame, WEIGHTS)
    return {int(i): (float(s), c if isinstance(c, str) else None)
            for i, s, c in zip(labels["interaction_id"], labels["score"], labels["class"])}


def stored_labels(store, scenario: str) -> dict[int, tuple[float, str | None]]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT interaction_id, score, class FROM labels WHERE scenario = :s", {"s": scenario})
    return {int(i): (float(s), c) for i, s, c in rows}


class Recorded:
    """A progress that notes the total and every step."""

    def __init__(self):
        self.total, self.steps = None, []

    def start(self, task, total=None, unit=""):
        self.total = total

    def advance(self, task, amount=1):
        self.steps.append(amount)

    def finish(self, task):
        pass


@pytest.mark.parametrize("scenario", ["ecommerce", "video", "movie"])
def test_streamed_labels_equal_one_pass_labels_with_any_chunk_size(store, monkeypatch, scenario):
    add_events(store, event_log(range(12), seed=3) + BINGE)
    expected = one_pass_labels(store, scenario)
    assert len({cls for _, cls in expected.values()}) > 2 and len(expected) > 20  # the log exercises the formula
    monkeypatch.setattr(run, "CHUNK_ROWS", 7)  # every user spans two batches or more
    reads = []
    read = user_chunks._read
    monkeypatch.setattr(user_chunks, "_read", lambda *args: reads.append(args[2]["after"]) or read(*args))
    progress = Recorded()
    report = label_store(store, scenario, WEIGHTS, progress=progress)
    assert stored_labels(store, scenario) == expected  # exact: every float to the bit
    assert report.labeled == len(expected) and report.considered == progress.total == sum(progress.steps)
    assert len(progress.steps) > 5
    assert len(reads) > 1 and reads == sorted(reads)  # the read went on in new queries, after the users done

    monkeypatch.setattr(run, "CHUNK_ROWS", 200_000)  # everything in one chunk, after new weights
    other = ScoreWeights(ecommerce=EcommerceWeights(gamma=9.0), video=VideoWeights(lambda2=4.0))
    label_store(store, scenario, other)
    label_store(store, scenario, WEIGHTS)
    assert stored_labels(store, scenario) == expected


def test_real_movielens_labels_equal_one_pass_labels(sqlite_store, monkeypatch, tmp_path, shared_data):
    store = sqlite_store  # PostgreSQL runs the same reads on the logs above; collecting 100,000 ratings there is slow
    collect_movielens(store, "100k", data_dir=tmp_path, from_file=shared_data / "ml-100k")
    expected = one_pass_labels(store, "movie")
    monkeypatch.setattr(run, "CHUNK_ROWS", 4_999)  # some 20 chunks, users cut at many batch ends
    report = label_store(store, "movie")
    assert report.labeled == len(expected) == 100_000
    assert stored_labels(store, "movie") == expected


def test_incremental_run_reads_only_users_with_new_interactions(store, monkeypatch):
    first = event_log(range(10), seed=5)
    add_events(store, first)
    monkeypatch.setattr(run, "CHUNK_ROWS", 7)
    monkeypatch.setattr(user_chunks, "SEGMENT_CHUNKS", 8)
    label_store(store, "video", WEIGHTS)
    with store.begin() as conn:  # a mark on an untouched user's label: a recomputation would erase it
        [(marked,)] = fetch_rows(conn, """SELECT MIN(l.interaction_id) FROM labels l JOIN interactions i
                                          ON i.id = l.interaction_id JOIN users u ON u.id = i.user_id
                                          WHERE u.external_id = 'u9'""")
        conn.exec_driver_sql(f"UPDATE labels SET score = -1 WHERE interaction_id = {marked}")

    # New views for three users (one of them new), and a click for another: video gives clicks
    # no label, so that user has nothing to wait for.
    later = [e for e in event_log(range(12), seed=6, start=10**6, actions=VIDEO_ACTIONS) if e[0] in ("u1", "u4", "u11")]
    later.append(("u2", "p0", 2 * 10**6, "click", None, None))
    add_events(store, later)
    report = label_store(store, "video", WEIGHTS)

    assert not report.recomputed_all
    with store.begin() as conn:
        [(of_changed_users,)] = fetch_rows(conn, """SELECT COUNT(*) FROM interactions i JOIN users u ON u.id = i.user_id
                                                    WHERE u.external_id IN ('u1', 'u4', 'u11')""")
    assert report.considered == of_changed_users
    expected = one_pass_labels(store, "video")
    got = stored_labels(store, "video")
    assert got[marked][0] == -1
    assert {k: v for k, v in got.items() if k != marked} == {k: v for k, v in expected.items() if k != marked}


def test_a_video_score_depends_on_its_own_group_alone():
    columns = ["id", "user_id", "item_id", "ts", "action", "value", "duration", "category"]
    binge = pd.DataFrame([(10 + k, 2, 7, ts, "view", value, 600.0, "Music")
                          for k, (_, _, ts, _, value, _) in enumerate(BINGE)], columns=columns)
    other = pd.DataFrame([(1, 1, 7, 0, "view", 1.0, 600.0, "Music")], columns=columns)
    alone = video_labels(binge, WEIGHTS.video)
    among_others = video_labels(pd.concat([other, binge], ignore_index=True), WEIGHTS.video)
    assert among_others["score"].tolist()[1:] == alone["score"].tolist()  # to the bit
    watched, expected = 0.0, {}
    for k, value in sorted(enumerate(BINGE), key=lambda b: b[1][2]):  # added in time order, each up to its own time
        watched += value[4]
        expected[10 + k] = WEIGHTS.video.lambda1 * (watched / 600.0)
    assert dict(zip(alone["interaction_id"], alone["score"])) == expected


def test_item_categories_find_items_stored_after_they_were_read(sqlite_store):
    add_events(sqlite_store, [("u1", "p1", 0, "click", None, None)])
    categories = ItemCategories(sqlite_store)
    add_events(sqlite_store, [("u1", "p2", 5, "click", None, None), ("u1", "p5", 9, "click", None, None)])
    with sqlite_store.begin() as conn:
        ids = [i for _, i in sorted(id_map(conn, "items", "shop").items())]
    assert categories.of(pd.Series(ids)).tolist()[:2] == ["Cp1", "Cp2"]
    assert pd.isna(categories.of(pd.Series(ids)).tolist()[2])  # p5 has no category


def test_whole_users_never_splits_a_user_and_keeps_every_row():
    rng = random.Random(1)
    users = sorted(rng.randrange(40) for _ in range(500))
    cuts = sorted(rng.sample(range(1, 500), 60))
    batches = [pa.record_batch({"user_id": users[a:b], "row": list(range(a, b))})
               for a, b in zip([0, *cuts], [*cuts, 500])]
    tables = list(whole_users(batches))
    assert [r for t in tables for r in t["row"].to_pylist()] == list(range(500))
    seen = [set(t["user_id"].to_pylist()) for t in tables]
    assert all(not a & b for k, a in enumerate(seen) for b in seen[k + 1:])  # no user in two tables


def test_whole_users_refuses_rows_out_of_user_order():
    with pytest.raises(StoreError, match="order"):
        list(whole_users([pa.record_batch({"user_id": [1, 2]}), pa.record_batch({"user_id": [1]})]))
