"""E-commerce and video scores are causal: a step's score depends on no event after its time."""

from __future__ import annotations

import random

import pandas as pd

from timgen_data.labeling import EcommerceWeights, VideoWeights, ecommerce_labels, video_labels
from timgen_data.labeling.scenarios import ECOMMERCE_ACTIONS, VIDEO_ACTIONS

COLUMNS = ["id", "user_id", "item_id", "ts", "action", "value", "duration", "category"]
SHOP = EcommerceWeights(alpha=1.0, beta=2.0, gamma=4.0, delta=0.5, session_gap=600)
TV = VideoWeights(lambda1=1.0, lambda2=0.5, lambda3=0.25, lambda4=2.0, session_gap=600)


def by_hand(rows: list[tuple], scenario: str) -> dict[int, float]:
    """Each row's score from the rows of its engagement at or before its second, one row at a time."""
    actions = ECOMMERCE_ACTIONS if scenario == "ecommerce" else VIDEO_ACTIONS
    gap = SHOP.session_gap if scenario == "ecommerce" else TV.session_gap
    rows = sorted((r for r in rows if r[4] in actions), key=lambda r: (r[1], r[3], r[0]))
    session, previous, number = {}, None, -1
    for r in rows:  # a session starts at a user's first event and after each idle gap
        if previous is None or previous[1] != r[1] or r[3] - previous[3] > gap:
            number += 1
        session[r[0]], previous = number, r
    scores = {}
    for r in rows:
        seen = [o for o in rows if (o[1], o[2], session[o[0]]) == (r[1], r[2], session[r[0]]) and o[3] <= r[3]]
        had = {o[4] for o in seen}
        if scenario == "ecommerce":
            scores[r[0]] = (SHOP.alpha * ("click" in had) + SHOP.beta * ("cart" in had)
                            + SHOP.gamma * ("purchase" in had) + SHOP.delta * ("comment" in had))
            continue
        watched = 0.0
        for o in seen:  # already in time then id order
            if o[4] == "view":
                watched += 0.0 if o[5] is None else o[5]
        lengths = [o[6] for o in seen if o[4] == "view" and o[6] is not None]
        length = max(lengths) if lengths else None
        fraction = min(max(watched / length, 0.0), 1.0) if length else 0.0
        scores[r[0]] = (TV.lambda1 * fraction + TV.lambda2 * ("like" in had) + TV.lambda3 * ("comment" in had)
                        + TV.lambda4 * ("share" in had))
    return scores


def labelled(rows: list[tuple], scenario: str) -> dict[int, float]:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    result = ecommerce_labels(frame, SHOP) if scenario == "ecommerce" else video_labels(frame, TV)
    return dict(zip(result["interaction_id"].tolist(), result["score"].tolist()))


def test_a_click_does_not_carry_the_purchase_that_follows_it():
    # Every user clicks ten items and buys the even ones later in the session: a click score
    # that counted the purchase would tell the purchase apart perfectly.
    rows, next_id = [], 1
    for user in range(5):
        for item in range(10):
            ts = 1000 * user + 20 * item
            rows.append((next_id, user, item, ts, "click", None, None, "C"))
            next_id += 1
            if item % 2 == 0:
                rows += [(next_id, user, item, ts + 5, "cart", None, None, "C"),
                         (next_id + 1, user, item, ts + 9, "purchase", None, None, "C")]
                next_id += 2
    scores = labelled(rows, "ecommerce")
    assert scores == by_hand(rows, "ecommerce")
    clicks = {r[2] % 2 == 0: scores[r[0]] for r in rows if r[4] == "click"}
    assert clicks == {True: SHOP.alpha, False: SHOP.alpha}  # the same score, bought or not
    purchases = {scores[r[0]] for r in rows if r[4] == "purchase"}
    assert purchases == {SHOP.alpha + SHOP.beta + SHOP.gamma}


def test_events_of_the_same_second_count_for_each_other_in_either_id_order():
    # A view and a like stamped alike: both see both, whichever was stored first.
    for first, second in (("view", "like"), ("like", "view")):
        rows = [(1, 1, 1, 0, "view", 30.0, 120.0, "M"),
                (2, 1, 1, 60, first, 60.0 if first == "view" else None, 120.0 if first == "view" else None, "M"),
                (3, 1, 1, 60, second, 60.0 if second == "view" else None, 120.0 if second == "view" else None, "M"),
                (4, 1, 1, 90, "share", None, None, "M")]
        scores = labelled(rows, "video")
        assert scores == by_hand(rows, "video")
        assert scores[1] == 0.25 and scores[2] == scores[3] == 0.75 + 0.5 and scores[4] == 0.75 + 0.5 + 2.0


def random_log(rng: random.Random, actions: tuple[str, ...], start_id: int, start_ts: int, end_ts: int, n: int):
    rows, used = [], set()
    for k in range(n):
        user, item, ts, action = rng.randrange(3), rng.randrange(3), rng.randrange(start_ts, end_ts), rng.choice(actions)
        if (user, item, ts, action) in used:  # the store's key: one event of an action per second
            continue
        used.add((user, item, ts, action))
        view = action == "view"
        rows.append((start_id + k, user, item, ts, action, round(rng.uniform(0, 90), 3) if view else None,
                     rng.choice((60.0, 120.0, 0.0, None)) if view else None, "C"))
    return rows


def test_changing_only_later_events_never_changes_an_earlier_score():
    rng = random.Random(16)
    for trial in range(60):
        scenario, actions = (("ecommerce", ECOMMERCE_ACTIONS), ("video", VIDEO_ACTIONS))[trial % 2]
        cutoff = rng.randrange(200, 2000)
        # Seconds on a coarse grid, so that events of one second are common.
        early = [r[:3] + (r[3] * 10,) + r[4:] for r in random_log(rng, actions, 0, 0, cutoff // 10 + 1, 40)]
        early = [r for r in early if r[3] <= cutoff]
        later = [r[:3] + (r[3] * 10,) + r[4:] for r in random_log(rng, actions, 1000, cutoff // 10 + 1, 400, 40)]
        other_later = [r[:3] + (r[3] * 10,) + r[4:] for r in random_log(rng, actions, 5000, cutoff // 10 + 1, 400, 25)]
        assert all(r[3] > cutoff for r in later + other_later)
        with_later = labelled(early + later, scenario)
        assert with_later == by_hand(early + later, scenario)
        with_other = labelled(early + other_later, scenario)
        alone = labelled(early, scenario)
        assert {i: with_later[i] for i in alone} == alone
        assert {i: with_other[i] for i in alone} == alone
