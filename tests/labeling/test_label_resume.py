"""``label`` killed between chunks (a real SIGKILL) and run again: the labels end up exactly
those of one clean run, whether the killed run was switching weights, the first ever, or an
incremental one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support.cli_process import assert_fails_in_one_line, invoke_cli
from timgen_data.labeling import EcommerceWeights, ScoreWeights, label_store
from timgen_data.store import Store, fetch_rows, id_map, upsert_rows

WEIGHTS_A = ScoreWeights()
WEIGHTS_B = ScoreWeights(ecommerce=EcommerceWeights(alpha=0.5, beta=7.0, gamma=11.0, delta=3.0, session_gap=60))
ACTIONS = ("click", "cart", "purchase", "comment")

# Run in a child process: label with tiny chunks and kill itself once the first is committed.
_KILLER = """
import os, signal, sys
import timgen_data.labeling.run as run
from timgen_data.labeling import ScoreWeights, label_store
from timgen_common.progress import SilentProgress
from timgen_data.store import Store

class KillAfterFirstChunk(SilentProgress):
    def advance(self, task, amount=1):
        os.kill(os.getpid(), signal.SIGKILL)

run.CHUNK_ROWS = 5
label_store(Store.open(sys.argv[1]), "ecommerce", ScoreWeights.model_validate_json(sys.argv[2]),
            progress=KillAfterFirstChunk())
"""


def events(users: range, start: int = 0) -> list[tuple[str, str, int, str]]:
    """A small shop log: each user clicks, carts, buys and comments on a few items over two sessions."""
    log = []
    for u in users:
        for k in range(6):
            item = f"p{(u + k) % 4}"
            ts = start + u * 10 + k * (45 if k % 2 else 400)  # gaps both under and over B's session gap
            log.append((f"u{u}", item, ts, ACTIONS[(u + k) % len(ACTIONS)]))
    return log


def add_events(url: str, log: list[tuple[str, str, int, str]]) -> None:
    store = Store.open(url)
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"],
                    [("shop", u, "{}") for u in sorted({e[0] for e in log})], conflict=["source", "external_id"])
        upsert_rows(conn, "items", ["source", "external_id", "category", "categories", "attributes"],
                    [("shop", i, f"C{i}", f'["C{i}"]', "{}") for i in sorted({e[1] for e in log})],
                    conflict=["source", "external_id"])
        users, items = id_map(conn, "users", "shop"), id_map(conn, "items", "shop")
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action"],
                    [(users[u], items[i], ts, a) for u, i, ts, a in log], conflict=["user_id", "item_id", "ts", "action"])
    store.dispose()


def labels(url: str) -> dict[tuple[str, str, int, str], tuple[float, str]]:
    store = Store.open(url)
    with store.begin() as conn:
        rows = fetch_rows(conn, """
            SELECT u.external_id, i.external_id, x.ts, x.action, l.score, l.class
            FROM labels l JOIN interactions x ON x.id = l.interaction_id
            JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id
            WHERE l.scenario = 'ecommerce'""")
    store.dispose()
    return {(u, i, ts, a): (score, cls) for u, i, ts, a, score, cls in rows}


def label(url: str, weights: ScoreWeights):
    store = Store.open(url)
    try:
        return label_store(store, "ecommerce", weights)
    finally:
        store.dispose()


def clean_run(tmp_path: Path, log, weights: ScoreWeights) -> dict:
    """The labels one uninterrupted run writes for ``log``."""
    url = f"sqlite:///{tmp_path / 'clean.sqlite'}"
    add_events(url, log)
    label(url, weights)
    return labels(url)


def label_killed_after_first_chunk(url: str, weights: ScoreWeights) -> None:
    killed = subprocess.run([sys.executable, "-c", _KILLER, url, weights.model_dump_json()], capture_output=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]


def test_a_run_killed_while_switching_weights_is_recomputed_by_the_next(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    log = events(range(6))
    add_events(url, log)
    label(url, WEIGHTS_A)
    with_a = labels(url)
    assert with_a == clean_run(tmp_path, log, WEIGHTS_A)

    label_killed_after_first_chunk(url, WEIGHTS_B)
    mixed = labels(url)
    changed = [key for key in with_a if mixed[key] != with_a[key]]
    assert 0 < len(changed) < len(with_a)  # the killed run left labels of both weights
    built = invoke_cli("--db", url, "build", tmp_path / "out", "--scenario", "ecommerce", data_dir=tmp_path / "data")
    assert_fails_in_one_line(built, 2, "NothingToDoError", "stopped before it finished", "label --scenario ecommerce")
    assert not (tmp_path / "out").exists()  # mixed labels never reach a dataset

    result = invoke_cli("--db", url, "label", "--scenario", "ecommerce")  # the default weights: A again
    assert result.returncode == 0, result.stderr
    assert "yes (an earlier run stopped before it finished)" in result.stdout
    assert labels(url) == with_a


def test_a_killed_first_run_is_completed_by_the_next(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    log = events(range(6))
    add_events(url, log)
    label_killed_after_first_chunk(url, WEIGHTS_B)
    assert 0 < len(labels(url)) < len(log)

    report = label(url, WEIGHTS_B)
    assert report.recomputed_all and report.recompute_reason == "an earlier run stopped before it finished"
    assert labels(url) == clean_run(tmp_path, log, WEIGHTS_B)


def test_a_killed_incremental_run_is_recomputed_by_the_next(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    first, later = events(range(6)), events(range(6), start=5)  # the same users, new events in their sessions
    add_events(url, first)
    label(url, WEIGHTS_B)
    add_events(url, later)
    label_killed_after_first_chunk(url, WEIGHTS_B)

    report = label(url, WEIGHTS_B)
    assert report.recompute_reason == "an earlier run stopped before it finished"
    assert labels(url) == clean_run(tmp_path, first + later, WEIGHTS_B)
    assert label(url, WEIGHTS_B).recompute_reason is None  # and the run after that is incremental again
