"""Where each pass/fail target of ``experiment`` comes from, in its JSON and its markdown."""

from __future__ import annotations

from timgen_model.experiment import FROM_PROJECT, FROM_SUMMARY, render_markdown, target_checks


def _row(model, rmse, ndcg):
    return {"model": model, "test": {"rmse": rmse, "ndcg@10": ndcg}, "seconds": 1.0}


ROWS = [_row("biased-mf", 1.00, 0.01), _row("timgen", 0.96, 0.05), _row("timgen-mean-pooling", 1.05, 0.06),
        _row("sasrec", None, 0.04)]


def test_every_target_names_its_source():
    checks = {c["target"]: c for c in target_checks(ROWS)}
    assert {name: c["source"] for name, c in checks.items()} == {
        "TIMGen RMSE ≤ 0.97 × biased-MF RMSE": FROM_PROJECT,
        "TIMGen RMSE < mean-pooling RMSE": FROM_SUMMARY,
        "TIMGen NDCG@10 > mean-pooling NDCG@10": FROM_SUMMARY,
        "TIMGen NDCG@10 ≥ SASRec-style NDCG@10": FROM_PROJECT,
    }
    # The figures still decide each line: 0.96 ≤ 0.97 × 1.00; pooling ranks better here.
    assert checks["TIMGen RMSE ≤ 0.97 × biased-MF RMSE"]["met"] is True
    assert checks["TIMGen NDCG@10 > mean-pooling NDCG@10"]["met"] is False
    # The paper states no number, and neither does its summary: no source may claim one.
    assert "no number" in FROM_SUMMARY and "paper plans no experiment" in FROM_SUMMARY
    assert "neither the paper nor its summary" in FROM_PROJECT


def test_markdown_shows_the_source_of_each_target():
    checks = target_checks(ROWS)
    table = render_markdown(ROWS, checks, "demo")
    assert "| target | from | met | figures |" in table
    assert "The paper plans no experiment and states no number" in table
    for c in checks:
        assert f"| {c['target']} | {c['source']} | {'yes' if c['met'] else 'no'} | {c['detail']} |" in table
    assert "claim" not in table


def test_figures_that_decide_a_target_are_shown_until_they_differ():
    rows = [_row("timgen", 1.0, 0.03320140), _row("timgen-mean-pooling", 1.1, 0.03318009), _row("sasrec", None, 0.0332014)]
    checks = {c["target"]: c for c in target_checks(rows)}
    closest = checks["TIMGen NDCG@10 > mean-pooling NDCG@10"]
    assert closest["met"] is True and closest["detail"] == "0.03320 vs 0.03318"  # 0.0332 vs 0.0332 would read as a tie
    assert checks["TIMGen RMSE < mean-pooling RMSE"]["detail"] == "1.0000 vs 1.1000"
    assert checks["TIMGen NDCG@10 ≥ SASRec-style NDCG@10"]["detail"] == "0.03320140 vs 0.03320140"  # equal: met
