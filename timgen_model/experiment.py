"""The three experiments of the paper's summary on one split, side by side with real baselines.

The paper (arXiv 2509.04330) plans no experiment and states no number. A third-party summary
of it lists three (static vs dynamic, modality ablation, latent map), with no number either;
the pass/fail targets say where each comes from (``source``).

Rating baselines (global mean, user+item biases, biased MF) are tuned on validation and refit
on train + validation before the test evaluation, so they use every interaction the sequence
models see as history. Network variants (TIMGen, its average-pooling and modality ablations,
SASRec-style) each train into their own run folder with the same settings and seed. The
experiment folder is written beside its place and swapped in when everything has finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from timgen_common.output_folder import OutputFolder, Protected, protected_folders
from timgen_common.progress import SILENT, Progress
from timgen_model.baselines import BiasedMF, Biases, GlobalMean, RatingData, default_mf_grid, tune_biased_mf
from timgen_model.encoded_cache import load_encoded
from timgen_model.review_vectors import attach_review_vectors, wants_review_vectors
from timgen_model.encoding import EncodedDataset
from timgen_model.evaluation import TOP_K, seen_mask
from timgen_model.metrics import mae, ranking_metrics, rmse, target_ranks
from timgen_model.model import NUM_RESERVED_ITEMS
from timgen_model.plots import plot_metric_comparison
from timgen_model.training import train
from timgen_model.variants import masked_variant, variant_config

RESULTS_JSON = "experiment.json"
RESULTS_MARKDOWN = "experiment.md"
COMPARISON_PNG = "comparison.png"
COLUMNS = ("rmse", "mae", "accuracy", "macro_f1", "class_set_micro_f1", "class_set_macro_f1", "hr@10", "ndcg@10",
           "hr@10_unseen", "ndcg@10_unseen")


@dataclass
class ExperimentResult:
    out_dir: Path
    rows: list[dict[str, Any]]
    targets: list[dict[str, Any]] = field(default_factory=list)


# -- rating baselines ---------------------------------------------------------------------
def _user_index(data: EncodedDataset) -> dict[str, int]:
    users: dict[str, int] = {}
    for split in data.splits.values():
        for user in split.user_ids:
            users.setdefault(user, len(users))
    return users


def rating_data(data: EncodedDataset, split_name: str, users: dict[str, int], *, targets_only: bool) -> tuple[RatingData, np.ndarray, np.ndarray]:
    """(ratings, their flat positions, their rows) of a split; ``targets_only`` keeps is_target positions."""
    split = data.splits[split_name]
    rows = split.row_of_position
    keep = np.isfinite(split.scores) & (split.is_target if targets_only else True)
    positions = np.flatnonzero(keep)
    user_of_row = np.array([users[u] for u in split.user_ids], dtype=np.int64)
    ratings = RatingData(
        users=user_of_row[rows[positions]], items=split.items[positions].astype(np.int64),
        scores=split.scores[positions].astype(np.float32), num_users=len(users),
        num_items=len(data.vocabularies.items),
    )
    return ratings, positions, rows[positions]


def _concat(a: RatingData, b: RatingData) -> RatingData:
    return RatingData(np.r_[a.users, b.users], np.r_[a.items, b.items], np.r_[a.scores, b.scores],
                      a.num_users, a.num_items)


def evaluate_rating_model(model, data: EncodedDataset, split_name: str, users: dict[str, int]) -> dict[str, Any]:
    targets, positions, rows = rating_data(data, split_name, users, targets_only=True)
    predicted = model.predict(targets.users, targets.items)
    metrics: dict[str, Any] = {"targets": len(targets.scores), "rmse": rmse(predicted, targets.scores),
                               "mae": mae(predicted, targets.scores), "accuracy": None, "macro_f1": None}
    ranking = {f"{m}@{TOP_K}{s}": None for m in ("hr", "ndcg") for s in ("", "_unseen")}
    all_ranks, unseen_ranks = [], []
    for start in range(0, len(positions), 512):
        sl = slice(start, start + 512)
        scores = model.item_scores(targets.users[sl])
        if scores is None:
            break
        logits = torch.as_tensor(scores, dtype=torch.float32).clone()
        logits[:, :NUM_RESERVED_ITEMS] = float("-inf")
        items = torch.as_tensor(targets.items[sl])
        exclude = seen_mask(data.splits[split_name], rows[sl], positions[sl], logits.shape[1])
        all_ranks.append(target_ranks(logits, items).numpy())
        unseen_ranks.append(target_ranks(logits, items, exclude).numpy())
    if all_ranks:
        ranking = ranking_metrics(np.concatenate(all_ranks), np.concatenate(unseen_ranks), TOP_K)
    metrics.update(ranking)
    return metrics


def rating_baselines(data: EncodedDataset, seed: int = 0) -> list[dict[str, Any]]:
    users = _user_index(data)
    train_r, _, _ = rating_data(data, "train", users, targets_only=False)
    valid_r, _, _ = rating_data(data, "validation", users, targets_only=True)
    both = _concat(train_r, valid_r)
    rows = []
    for factory in (GlobalMean, Biases):
        started = time.perf_counter()
        validation = evaluate_rating_model(factory().fit(train_r), data, "validation", users)
        test = evaluate_rating_model(factory().fit(both), data, "test", users)
        rows.append({"model": factory.name, "kind": "rating baseline", "validation": validation, "test": test,
                     "seconds": time.perf_counter() - started})
    started = time.perf_counter()
    tuned, search = tune_biased_mf(train_r, valid_r, [c.model_copy(update={"seed": seed}) for c in default_mf_grid()])
    validation = evaluate_rating_model(tuned, data, "validation", users)
    best_epoch = 1 + int(np.nanargmin([h["validation_rmse"] for h in tuned.history]))
    refit = BiasedMF(tuned.config.model_copy(update={"epochs": best_epoch})).fit(both)
    test = evaluate_rating_model(refit, data, "test", users)
    rows.append({"model": BiasedMF.name, "kind": "rating baseline", "validation": validation, "test": test,
                 "seconds": time.perf_counter() - started,
                 "config": tuned.config.model_dump(), "search": search})
    return rows


# -- the experiment -----------------------------------------------------------------------
def network_variants(data: EncodedDataset, include_masked: bool = True) -> list[str]:
    names = ["timgen", "timgen-mean-pooling", "sasrec"]
    # What users wrote is a modality of its own (review), where the training split has any.
    modalities = [*data.catalogue.modalities, *(["review"] if data.splits["train"].has_texts else [])]
    if modalities:
        names.insert(1, "timgen-paper-fusion")  # where there is content to fuse, both fusions are compared
    if include_masked:
        names += [masked_variant(m) for m in modalities]
    return names


# Where a target comes from. Neither text states a number: a threshold is this project's.
FROM_SUMMARY = ("the paper's summary (its experiment 1, static vs dynamic), direction only; "
                "the paper plans no experiment and states no number")
FROM_PROJECT = "this project's bar; neither the paper nor its summary names this baseline or a number"


def target_checks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pass/fail lines on the test split, each with where its target comes from (``source``)."""
    test = {row["model"]: row["test"] for row in rows}

    def check(name, ok, detail, source):
        return {"target": name, "met": bool(ok) if ok is not None else None, "detail": detail, "source": source}

    def versus(a: float, b: float) -> str:
        """Two figures with as many decimals as it takes to tell them apart (up to 8), so a
        comparison's 'yes' or 'no' never stands beside two equal-looking numbers."""
        digits = next((d for d in range(4, 9) if f"{a:.{d}f}" != f"{b:.{d}f}"), 8)
        return f"{a:.{digits}f} vs {b:.{digits}f}"

    checks = []
    t, mf = test.get("timgen"), test.get("biased-mf")
    if t and mf and t["rmse"] is not None and mf["rmse"] is not None:
        ratio = t["rmse"] / mf["rmse"]
        checks.append(check("TIMGen RMSE ≤ 0.97 × biased-MF RMSE", ratio <= 0.97,
                            f"{t['rmse']:.4f} / {mf['rmse']:.4f} = {ratio:.3f}", FROM_PROJECT))
    pool = test.get("timgen-mean-pooling")
    if t and pool:
        checks.append(check("TIMGen RMSE < mean-pooling RMSE", t["rmse"] < pool["rmse"],
                            versus(t["rmse"], pool["rmse"]), FROM_SUMMARY))
        checks.append(check("TIMGen NDCG@10 > mean-pooling NDCG@10", t["ndcg@10"] > pool["ndcg@10"],
                            versus(t["ndcg@10"], pool["ndcg@10"]), FROM_SUMMARY))
    sas = test.get("sasrec")
    if t and sas:
        checks.append(check("TIMGen NDCG@10 ≥ SASRec-style NDCG@10", t["ndcg@10"] >= sas["ndcg@10"],
                            versus(t["ndcg@10"], sas["ndcg@10"]), FROM_PROJECT))
    return checks


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_markdown(rows: list[dict[str, Any]], checks: list[dict[str, Any]], source: str) -> str:
    lines = [f"# Experiment on {source} (test split)", "",
             "| model | " + " | ".join(COLUMNS) + " | seconds |",
             "|---|" + "---:|" * (len(COLUMNS) + 1)]
    for row in rows:
        cells = [_fmt(row["test"].get(c)) for c in COLUMNS]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + f" | {row['seconds']:.0f} |")
    if checks:
        lines += ["", "The paper plans no experiment and states no number; each target says where it comes from.",
                  "", "| target | from | met | figures |", "|---|---|---|---|"]
        lines += [f"| {c['target']} | {c['source']} | {'yes' if c['met'] else 'no'} | {c['detail']} |" for c in checks]
    return "\n".join(lines) + "\n"


def run_experiment(
    dataset: str | Path,
    out_dir: Path,
    *,
    config_path: Path | None = None,
    overrides: list[str] | None = None,
    variants: list[str] | None = None,
    include_rating_baselines: bool = True,
    progress: Progress = SILENT,
    on_model: Callable[[dict[str, Any]], None] | None = None,
    protect: Iterable[Protected] | None = None,
) -> ExperimentResult:
    """Train every variant and baseline on the same split; write experiment.json / .md / .png.

    ``out_dir`` may be new, empty, or an earlier experiment, which is replaced once this one
    has finished (an interrupted experiment leaves it as it was); anything else is refused,
    as are the data dir and the store's folder (``protect``, by default as the CLI resolves them).

    >>> run_experiment("out/ml-100k", Path("runs/ml100k-exp")).rows[0]["model"]  # doctest: +SKIP
    'global-mean'
    """
    out_dir = Path(out_dir)
    folder = OutputFolder(out_dir, "experiment", protect=protect if protect is not None else protected_folders(),
                          what="experiment", fix="choose a new or empty folder such as runs/ml100k-exp",
                          force_option=None, written_before=_experiment_before_markers)
    data = load_encoded(dataset, progress=progress)
    base = variant_config("timgen", config_path, overrides).model
    if wants_review_vectors(base.review_encoder):  # encoded once, for every variant that reads texts
        data = attach_review_vectors(data, dataset, base.review_encoder, progress=progress)
    with folder.staged() as staging:
        rows: list[dict[str, Any]] = []
        if include_rating_baselines:
            for row in rating_baselines(data):
                rows.append(row)
                if on_model:
                    on_model(row)
        for name in variants or network_variants(data):
            config = variant_config(name, config_path, overrides)
            started = time.perf_counter()
            result = train(data, staging / name, config, variant=name, progress=progress, protect=())
            row = {"model": name, "kind": "network", "validation": result.metrics["validation"],
                   "test": result.metrics["test"], "seconds": time.perf_counter() - started,
                   "best_epoch": result.best_epoch, "run_dir": str(out_dir / name)}
            rows.append(row)
            if on_model:
                on_model(row)
        checks = target_checks(rows)
        summary = {"dataset": {"source": data.source, "fingerprint": data.fingerprint}, "rows": rows,
                   "targets": checks}
        (staging / RESULTS_JSON).write_text(json.dumps(summary, indent=2, default=str) + "\n")
        (staging / RESULTS_MARKDOWN).write_text(render_markdown(rows, checks, data.source))
        plot_metric_comparison([{"model": r["model"], **r["test"]} for r in rows], ["rmse", "ndcg@10", "hr@10"],
                               staging / COMPARISON_PNG, title=f"Test split of {data.source}")
    return ExperimentResult(out_dir, rows, checks)


def _experiment_before_markers(folder: Path) -> bool:
    """An experiment folder an earlier version wrote (no marker): its experiment.json and experiment.md."""
    try:
        summary = json.loads((folder / RESULTS_JSON).read_text())
    except (OSError, ValueError):
        return False
    return (folder / RESULTS_MARKDOWN).is_file() and isinstance(summary, dict) and {
        "dataset", "rows", "targets"} <= summary.keys()
