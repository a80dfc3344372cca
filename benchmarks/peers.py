"""RecBole and LensKit side by side with our models: the same split, the same test targets, our metric code.

    python benchmarks/peers.py --dataset out/ml-100k [--epochs 2] [--cache DIR] [--run runs/ml100k-exp]

1. Makes one venv per peer under ``--cache`` (default ``~/.cache/timgen-peers``; never the
   project's venv) with pinned releases: RecBole 1.2.1 (on torch 2.13.0 with numpy < 2 and
   pandas < 2.2, which it needs) and LensKit 2025.8.x. A venv is made once and reused.
2. Exports the dataset with ``timgen-data export --format recbole`` (our split as benchmark
   files, sequential ones included) into the cache.
3. Trains, each in its own venv (``benchmarks/peer_runners/``): RecBole SASRec and BPR
   (trained on our train split, early-stopped on our validation split), LensKit ALS
   BiasedMF and Bias (damping 5; trained on train + validation ratings). Each peer scores
   every item for each of our test targets and writes the scores to a file.
4. Reads those files here and evaluates them with our metric code (``timgen_model.metrics``):
   full ranking over all items, with and without the items the user had before the target,
   ties counted against the target as for our models; RMSE where the peer predicts ratings.
   A target a peer did not score counts as a miss.
5. Prints one table, with our rows from an ``experiment`` folder (``--run``) when given.

A benchmark, not a test: it installs from the package index and trains for minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timgen_data.dataset.export import export_dataset  # noqa: E402
from timgen_model.metrics import ranking_metrics, rmse, target_ranks  # noqa: E402

RUNNERS = Path(__file__).resolve().parent / "peer_runners"
TORCH = "torch==2.13.0"  # a CPU build where one is on the pip's find-links; never an unpinned torch
VENVS = {
    # Installed in this order: torch and RecBole's numpy/pandas caps first, RecBole without its
    # dependencies (it requires ray and plotly for tuning and plots only), then what it imports.
    "recbole": [[TORCH, "numpy<2", "pandas<2.2"], ["--no-deps", "recbole==1.2.1"],
                ["numpy<2", "pandas<2.2", "scipy", "tqdm", "colorlog==4.7.2", "colorama==0.4.4", "scikit-learn",
                 "pyyaml", "tensorboard", "thop", "tabulate", "texttable", "psutil"]],
    "lenskit": [[TORCH], ["lenskit==2025.8.*"]],
}
PEERS = {  # name → (venv, runner, model argument)
    "SASRec": ("recbole", "recbole_runner.py", "SASRec"),
    "BPR": ("recbole", "recbole_runner.py", "BPR"),
    "ALS BiasedMF": ("lenskit", "lenskit_runner.py", "als"),
    "Bias": ("lenskit", "lenskit_runner.py", "bias"),
}
PEERS_VENV = {runner: venv for venv, runner, _ in PEERS.values()}
K = 10


@dataclass
class Targets:
    """Our test targets, in the export's order, and what each user had before them."""

    items: list[str]  # every item id, in the column order peers score them
    keys: list[tuple[str, str]]  # (user, target item) per target
    ratings: np.ndarray  # the target's rating (NaN where none)
    seen: list[list[str]]  # per target, the items before it in the user's order


def read_targets(folder: Path, name: str) -> Targets:
    """The test targets of a RecBole export (``<name>.test.inter``) with each user's items before the target,
    from the export's full ``<name>.inter`` (the dataset's order)."""
    items = [line.split("\t")[0] for line in _lines(folder / f"{name}.item")]
    history: dict[str, list[str]] = {}
    for line in _lines(folder / f"{name}.inter"):
        user, item = line.split("\t")[:2]
        history.setdefault(user, []).append(item)
    keys, ratings, seen = [], [], []
    used: dict[tuple[str, str], int] = {}
    for line in _lines(folder / f"{name}.test.inter"):
        user, item, rating = line.split("\t")[:3]
        # The n-th test row of (user, item) is the n-th time the user has that item.
        n = used.get((user, item), 0)
        used[(user, item)] = n + 1
        position = [p for p, i in enumerate(history[user]) if i == item][n]
        keys.append((user, item))
        ratings.append(float(rating) if rating else np.nan)
        seen.append(history[user][:position])
    return Targets(items, keys, np.array(ratings, dtype=float), seen)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[1:]


def peer_metrics(scores: np.ndarray, keys: list[tuple[str, str]], targets: Targets,
                 predicts_ratings: bool = False) -> dict[str, float | int | None]:
    """Our metrics of a peer's ``scores`` ([rows, items], row r for target ``keys[r]``).

    NaN scores (no prediction) rank below every item; a target without a row is a miss.
    """
    column = {item: c for c, item in enumerate(targets.items)}
    row_of: dict[tuple[str, str], list[int]] = {}
    for r, key in enumerate(keys):
        row_of.setdefault(key, []).append(r)
    taken: dict[tuple[str, str], int] = {}
    rows, present = [], []
    for key in targets.keys:
        n = taken.get(key, 0)
        taken[key] = n + 1
        found = row_of.get(key, [])
        rows.append(found[n] if n < len(found) else -1)
        present.append(n < len(found) and key[1] in column)
    rows_arr, present_arr = np.array(rows, dtype=np.int64), np.array(present, dtype=bool)
    logits = np.full((len(targets.keys), len(targets.items)), -np.inf, dtype=np.float32)
    logits[present_arr] = scores[rows_arr[present_arr]]
    logits = np.nan_to_num(logits, nan=-np.inf)
    target_columns = np.array([column.get(item, 0) for _, item in targets.keys], dtype=np.int64)
    exclude = torch.zeros(logits.shape, dtype=torch.bool)
    for t, items in enumerate(targets.seen):
        exclude[t, [column[i] for i in items if i in column]] = True
    logits_t, targets_t = torch.from_numpy(logits), torch.from_numpy(target_columns)
    ranks_all = target_ranks(logits_t, targets_t).numpy()
    ranks_unseen = target_ranks(logits_t, targets_t, exclude).numpy()
    # A target not scored is a miss at any cut-off, however few the items.
    ranks_all[~present_arr] = ranks_unseen[~present_arr] = np.iinfo(np.int64).max // 2
    metrics: dict[str, float | int | None] = {"targets": len(targets.keys), "missing": int((~present_arr).sum())}
    metrics.update(ranking_metrics(ranks_all, ranks_unseen, K))
    metrics["rmse"] = None
    if predicts_ratings:
        predicted = logits[np.arange(len(target_columns)), target_columns]
        known = present_arr & np.isfinite(predicted) & np.isfinite(targets.ratings)
        metrics["rmse"] = rmse(predicted[known], targets.ratings[known])
    return metrics


def ensure_venv(cache: Path, name: str) -> Path:
    """The venv's python, made (once per pinned set of requirements) under ``cache``."""
    folder = cache / "venvs" / name
    python = folder / "bin" / "python"
    wanted = json.dumps(VENVS[name])
    ready = folder / ".installed"
    if ready.exists() and ready.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    for step in VENVS[name]:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *step], check=True)
    ready.write_text(wanted)
    return python


def run_peer(python: Path, runner: str, model: str, export: Path, name: str, epochs: int, items: Path,
             out: Path) -> dict:
    """Train and score one peer into ``out``; a finished run of the same model, epochs and export is reused,
    so an interrupted benchmark goes on where it stopped."""
    stamp = json.dumps({"runner": runner, "model": model, "epochs": epochs, "venv": VENVS[PEERS_VENV[runner]],
                        "export": _digest(export / name)}, sort_keys=True)
    if (out / "stamp.json").exists() and (out / "stamp.json").read_text() == stamp:
        return json.loads((out / "result.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    (out / "stamp.json").unlink(missing_ok=True)
    command = [str(python), str(RUNNERS / runner), "--export", str(export), "--name", name, "--model", model,
               "--epochs", str(epochs), "--items", str(items), "--out", str(out)]
    # RecBole writes its log folders into the working directory: keep them in the cache.
    subprocess.run(command, check=True, cwd=out, env={**os.environ, "PYTHONPATH": ""})
    (out / "stamp.json").write_text(stamp)
    return json.loads((out / "result.json").read_text())


def _digest(folder: Path) -> str:
    """The export's files, by content: a run is reused only on the same data."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.suffix in (".inter", ".item", ".user"):
            digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def our_rows(run: Path) -> list[dict]:
    """Rows of an ``experiment`` folder (its experiment.json), in this table's shape."""
    summary = json.loads((run / "experiment.json").read_text())
    rows = []
    for row in summary["rows"]:
        test = row.get("test") or {}
        rows.append({"model": row["model"], "library": "timgen (ours)", **test,
                     "epochs": row.get("best_epoch"), "seconds": row.get("seconds")})
    return rows


def render(rows: list[dict]) -> str:
    def cell(value, digits=4):
        return "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = [f"| model | library | RMSE | NDCG@{K} all | HR@{K} all | NDCG@{K} unseen | HR@{K} unseen | epochs "
             "| training s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['library']} | {cell(r.get('rmse'))} | {cell(r.get(f'ndcg@{K}'))} | "
                     f"{cell(r.get(f'hr@{K}'))} | {cell(r.get(f'ndcg@{K}_unseen'))} | "
                     f"{cell(r.get(f'hr@{K}_unseen'))} | {cell(r.get('epochs'))} | {cell(r.get('seconds'), 0)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="a folder written by `timgen-data build`")
    parser.add_argument("--epochs", type=int, default=10, help="RecBole epochs (at most) and ALS iterations")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "timgen-peers",
                        help="venvs, the export and the peers' outputs (never inside the project)")
    parser.add_argument("--run", type=Path, help="an `experiment` folder whose rows join the table")
    parser.add_argument("--models", nargs="+", choices=sorted(PEERS), default=list(PEERS))
    args = parser.parse_args()
    cache = args.cache.resolve()
    if Path(__file__).resolve().parents[1] in [cache, *cache.parents]:
        parser.error(f"--cache {cache} is inside the project; give a folder outside it")
    report = export_dataset(args.dataset, cache / "exports", "recbole", force=True)
    name, export = report.path.name, report.path.parent
    targets = read_targets(report.path, name)
    items = cache / "exports" / f"{name}.items.txt"
    items.write_text("".join(i + "\n" for i in targets.items), encoding="utf-8")
    rows = []
    for model in args.models:
        venv, runner, argument = PEERS[model]
        python = ensure_venv(cache, venv)
        out = cache / "runs" / name / f"{model.replace(' ', '-')}-e{args.epochs}"
        started = time.perf_counter()
        result = run_peer(python, runner, argument, export, name, args.epochs, items, out)
        scores = np.load(out / "scores.npy")
        keys = [tuple(line.split("\t")) for line in (out / "keys.tsv").read_text(encoding="utf-8").splitlines()]
        metrics = peer_metrics(scores, keys, targets, predicts_ratings=bool(result.get("predicts_ratings")))
        rows.append({"model": result["model"], "library": result["library"], **metrics,
                     "epochs": result.get("epochs"), "seconds": result["seconds"]})
        print(f"{result['model']} ({result['library']}): {time.perf_counter() - started:.0f} s wall, "
              f"{metrics['missing']} of {metrics['targets']} targets not scored", file=sys.stderr)
    if args.run:
        rows = our_rows(args.run) + rows
    print(render(rows))


if __name__ == "__main__":
    main()
