"""Train one LensKit rating model on a timgen-data RecBole export and write its scores for our test targets.

Runs inside the LensKit venv that ``benchmarks/peers.py`` made (it imports nothing of ours).
It trains on the ratings of our train and validation splits (what is known before a test
target; LensKit's models here have no early stopping to spend a validation split on),
then predicts every item for each test target's user and writes ``scores.npy`` (float32
[targets, items], columns in the order of ``--items``, NaN where it has no prediction),
``keys.tsv`` (user and target item per row) and ``result.json``.

    python lenskit_runner.py --export DIR --name NAME --model als --epochs 10 --items items.txt --out DIR
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

DAMPING = 5.0  # LensKit's default for BiasedMF, used for Bias too


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--model", choices=["als", "bias"], required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--items", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from lenskit.als import BiasedMFScorer
    from lenskit.basic import BiasScorer
    from lenskit.data import ItemList, from_interactions_df

    folder = args.export / args.name
    known = pd.concat([_read(folder / f"{args.name}.{s}.inter") for s in ("train", "valid")])
    known = known[known["rating"] != ""]
    ratings = pd.DataFrame({"user_id": known["user_id"], "item_id": known["item_id"],
                            "rating": known["rating"].astype(float)})
    data = from_interactions_df(ratings, user_col="user_id", item_col="item_id", rating_col="rating")
    if args.model == "als":
        scorer, name = BiasedMFScorer(epochs=args.epochs, damping=DAMPING), "ALS BiasedMF"
    else:
        scorer, name = BiasScorer(damping=DAMPING), f"Bias (damping {DAMPING:g})"
    started = time.perf_counter()
    scorer.train(data)
    seconds = time.perf_counter() - started

    ours = np.array([line for line in args.items.read_text(encoding="utf-8").splitlines() if line], dtype=object)
    test = _read(folder / f"{args.name}.test.inter")
    candidates = ItemList(item_ids=ours)
    scores = np.full((len(test), len(ours)), np.nan, dtype=np.float32)
    by_user: dict[str, np.ndarray] = {}
    for row, user in enumerate(test["user_id"]):
        if user not in by_user:
            by_user[user] = np.asarray(scorer(query=user, items=candidates).scores(), dtype=np.float32)
        scores[row] = by_user[user]
    np.save(args.out / "scores.npy", scores)
    (args.out / "keys.tsv").write_text("".join(f"{u}\t{i}\n" for u, i in zip(test["user_id"], test["item_id"])),
                                       encoding="utf-8")
    (args.out / "result.json").write_text(json.dumps({
        "model": name, "library": f"LensKit {version('lenskit')}",
        "epochs": args.epochs if args.model == "als" else None, "seconds": seconds, "predicts_ratings": True,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
