"""Platform logs through ``collect events`` and ``label``: the paper's ecommerce and video
formulas checked against hand-computed values, sessions and weights files included."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from timgen_data.cli import cli
from timgen_data.store import Store, fetch_rows

T0 = int(datetime(2026, 5, 4, 10, 0, tzinfo=UTC).timestamp())


def run(data: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--data-dir", str(data), *args])
    assert result.exit_code == 0, result.output
    return result.output


def labels(data: Path, scenario: str) -> dict[tuple[str, str, int, str], tuple[float, str | None]]:
    store = Store.open(f"sqlite:///{data / 'store.sqlite'}")
    try:
        with store.begin() as conn:
            rows = fetch_rows(conn, """
                SELECT u.external_id, i.external_id, x.ts, x.action, l.score, l.class
                FROM labels l JOIN interactions x ON x.id = l.interaction_id
                JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id
                WHERE l.scenario = :s""", {"s": scenario})
    finally:
        store.dispose()
    return {(u, i, ts - T0, a): (score, cls) for u, i, ts, a, score, cls in rows}


def test_click_cart_purchase_comment_log_gets_the_ecommerce_formula(tmp_path):
    minute = 60
    events = [
        # (user, sku, seconds after T0, event, stars, category)
        ("u1", "p1", 0 * minute, "view_item", "", "Beauty"),
        ("u1", "p1", 2 * minute, "add_to_basket", "", "Beauty"),
        ("u1", "p2", 3 * minute, "view_item", "", "Books"),
        ("u1", "p1", 5 * minute, "checkout", "", "Beauty"),
        ("u1", "p1", 9 * minute, "review", "4", "Beauty"),
        ("u1", "p1", 60 * minute, "view_item", "", "Beauty"),  # 51 idle minutes: a new session
        ("u1", "p1", 61 * minute, "add_to_basket", "", "Beauty"),
        ("u2", "p1", -60 * minute, "checkout", "", "Beauty"),  # bought straight away …
        ("u2", "p1", -40 * minute, "review", "5", "Beauty"),  # … reviewed 20 minutes later: another session
        ("u2", "p3", -39 * minute, "logout", "", ""),  # not an interaction: left out by the mapping
    ]
    log = tmp_path / "shop.csv"
    log.write_text("user,sku,ts,event,stars,category\n" + "".join(
        f"{u},{p},{datetime.fromtimestamp(T0 + s, UTC):%d/%m/%Y %H:%M:%S},{e},{v},{c}\n"
        for u, p, s, e, v, c in events))
    (tmp_path / "mapping.toml").write_text("""\
name = "shop"
[columns]
user = "user"
item = "sku"
time = "ts"
action = "event"
value = "stars"
category = "category"
[time]
format = "%d/%m/%Y %H:%M:%S"
[action]
unmapped = "skip"
[action.values]
view_item = "click"
add_to_basket = "cart"
checkout = "purchase"
review = "comment"
""")
    (tmp_path / "weights.toml").write_text(
        "[ecommerce]\nalpha = 1.0\nbeta = 3.0\ngamma = 5.0\ndelta = 0.5\nsession_gap = 600\n")
    data = tmp_path / "data"
    out = run(data, "collect", "events", "--path", str(log), "--mapping", str(tmp_path / "mapping.toml"), "--json")
    assert json.loads(out[out.index("{"):])["skipped"]["action 'logout' not mapped"] == 1
    run(data, "label", "--scenario", "ecommerce", "--weights", str(tmp_path / "weights.toml"))

    # α·click + β·cart + γ·purchase + δ·comment per (user, item, session) up to each event, by hand:
    assert labels(data, "ecommerce") == {  # u1/p1 did all four within ten-minute gaps
        ("u1", "p1", 0, "click"): (1.0, "Beauty"),
        ("u1", "p1", 120, "cart"): (1.0 + 3.0, "Beauty"),
        ("u1", "p1", 300, "purchase"): (1.0 + 3.0 + 5.0, "Beauty"),
        ("u1", "p1", 540, "comment"): (1.0 + 3.0 + 5.0 + 0.5, "Beauty"),
        ("u1", "p2", 180, "click"): (1.0, "Books"),  # same session, other item: its own group
        ("u1", "p1", 3600, "click"): (1.0, "Beauty"),
        ("u1", "p1", 3660, "cart"): (1.0 + 3.0, "Beauty"),
        ("u2", "p1", -3600, "purchase"): (5.0, "Beauty"),
        ("u2", "p1", -2400, "comment"): (0.5, "Beauty"),
    }


def test_watch_time_like_share_log_gets_the_video_formula(tmp_path):
    records = [
        # watched 40 s then 80 s of a 160 s video (0.75), liked and shared
        {"viewer": "a", "video": "v1", "at": T0, "type": "play", "watch_ms": 40_000, "length_ms": 160_000},
        {"viewer": "a", "video": "v1", "at": T0 + 100, "type": "play", "watch_ms": 80_000, "length_ms": 160_000},
        {"viewer": "a", "video": "v1", "at": T0 + 200, "type": "thumbs_up"},
        {"viewer": "a", "video": "v1", "at": T0 + 210, "type": "repost"},
        # watched 300 s of a 200 s video (capped at 1) and replied
        {"viewer": "a", "video": "v2", "at": T0 + 300, "type": "play", "watch_ms": 300_000, "length_ms": 200_000},
        {"viewer": "a", "video": "v2", "at": T0 + 320, "type": "reply"},
        # a like without watching, then two hours later 16 s of the 160 s
        {"viewer": "b", "video": "v1", "at": T0, "type": "thumbs_up"},
        {"viewer": "b", "video": "v1", "at": T0 + 7200, "type": "play", "watch_ms": 16_000, "length_ms": 160_000},
    ]
    log = tmp_path / "views.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "mapping.toml").write_text("""\
name = "tv"
[columns]
user = "viewer"
item = "video"
time = "at"
action = "type"
value = "watch_ms"
duration = "length_ms"
[time]
format = "epoch_s"
[action.values]
play = "view"
thumbs_up = "like"
repost = "share"
reply = "comment"
[scale]
value = 0.001
duration = 0.001
""")
    (tmp_path / "weights.toml").write_text(
        "[video]\nlambda1 = 2.0\nlambda2 = 0.5\nlambda3 = 0.25\nlambda4 = 1.0\nsession_gap = 1800\n")
    data = tmp_path / "data"
    run(data, "collect", "events", "--path", str(log), "--mapping", str(tmp_path / "mapping.toml"))
    run(data, "label", "--scenario", "video", "--weights", str(tmp_path / "weights.toml"))

    # λ1·min(watched / length, 1) + λ2·like + λ3·comment + λ4·share per (user, item, session)
    # up to each event, by hand:
    a_v1 = 2.0 * (40 + 80) / 160
    got = {key: score for key, (score, _) in labels(data, "video").items()}
    assert got == pytest.approx({
        ("a", "v1", 0, "view"): 2.0 * 40 / 160, ("a", "v1", 100, "view"): a_v1,
        ("a", "v1", 200, "like"): a_v1 + 0.5, ("a", "v1", 210, "share"): a_v1 + 0.5 + 1.0,
        ("a", "v2", 300, "view"): 2.0 * 1.0, ("a", "v2", 320, "comment"): 2.0 * 1.0 + 0.25,
        ("b", "v1", 0, "like"): 0.5,
        ("b", "v1", 7200, "view"): 2.0 * 16 / 160,
    })
    assert a_v1 == 1.5
