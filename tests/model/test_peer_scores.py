"""benchmarks/peers.py's own part: a peer's score file read into our metric code, on a hand-made case.

The peers themselves (RecBole, LensKit) run only in the benchmark, in their own venvs.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

PEERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers.py"


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("benchmark_peers", PEERS)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _export(folder: Path) -> None:
    """A tiny RecBole export: items a-e; user 1 had a, b then test target c; user 2 had d then test target a."""
    folder.mkdir()
    (folder / "t.item").write_text("item_id:token\tmovie_title:token_seq\n" + "".join(f"{i}\t{i}\n" for i in "abcde"))
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    (folder / "t.inter").write_text(inter + "1\ta\t4\t1\n1\tb\t3\t2\n1\tc\t5\t3\n2\td\t2\t1\n2\ta\t1\t2\n")
    (folder / "t.test.inter").write_text(inter + "1\tc\t5\t3\n2\ta\t1\t2\n")


def test_peer_scores_become_our_ranks_and_rmse(peers, tmp_path):
    _export(tmp_path / "t")
    targets = peers.read_targets(tmp_path / "t", "t")
    assert targets.keys == [("1", "c"), ("2", "a")] and targets.seen == [["a", "b"], ["d"]]
    # Rows in another order than ours, as a peer may write them. Columns: a b c d e.
    keys = [("2", "a"), ("1", "c")]
    scores = np.array([[1.5, 9.0, 8.0, 7.0, 1.5],   # user 2: a ties with e (tie counts against a) → rank 4 of all
                       [9.0, 8.0, 4.0, 1.0, np.nan]], dtype=np.float32)  # user 1: c below a, b → rank 2; e no score
    metrics = peers.peer_metrics(scores, keys, targets, predicts_ratings=True)
    # All items: user 1's c is third (rank 2), user 2's a fifth (rank 4: b, c, d above, e tied).
    # Unseen: user 1 loses a, b → c first (rank 0); user 2 loses d → a fourth (rank 3).
    assert metrics["missing"] == 0
    assert metrics["ndcg@10"] == pytest.approx((1 / math.log2(4) + 1 / math.log2(6)) / 2)
    assert metrics["ndcg@10_unseen"] == pytest.approx((1 / math.log2(2) + 1 / math.log2(5)) / 2)
    assert metrics["hr@10"] == metrics["hr@10_unseen"] == 1.0
    assert metrics["rmse"] == pytest.approx(math.sqrt(((4.0 - 5) ** 2 + (1.5 - 1) ** 2) / 2))


def test_a_target_a_peer_did_not_score_is_a_miss(peers, tmp_path):
    _export(tmp_path / "t")
    targets = peers.read_targets(tmp_path / "t", "t")
    scores = np.array([[0.0, 0.0, 9.0, 0.0, 0.0]], dtype=np.float32)  # only user 1, whose c comes first
    metrics = peers.peer_metrics(scores, [("1", "c")], targets)
    assert metrics["missing"] == 1 and metrics["rmse"] is None
    assert metrics["hr@10"] == metrics["ndcg@10"] == 0.5
