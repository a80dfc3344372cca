"""The review text read three ways on real user-written text: not at all, learned hashed
n-grams (``model.review_encoder=hashed``) and the real all-MiniLM-L6-v2
(``model.review_encoder=hf:all-minilm-l6-v2``), same split, same settings, same seed.

The real text: MovieLens latest-small's tags (``tags.csv``: what 61 users wrote about the
movies they rated). ``build`` leaves tag interactions out (they carry no rating, so no movie
label), so this script writes a copy of a built dataset whose rating interactions carry the
tags their user wrote about that movie, where the tag was written before the user's next
interaction (so no text tells the model what comes after the step it belongs to).

    python benchmarks/review_encoders.py --dataset out/ml-latest-small \\
        --tags ../shared/data/ml-latest-small/tags.csv --epochs 3

Prints one line per way: seconds (encoding included), validation and test RMSE, NDCG@10, HR@10.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from timgen_model.config import load_run_config
from timgen_model.training import train

WAYS = {"none": ["model.review_text=false"], "hashed": ["model.review_encoder=hashed"],
        "minilm": ["model.review_encoder=hf:all-minilm-l6-v2"]}


def read_tags(path: Path) -> dict[tuple[str, str], list[tuple[int, str]]]:
    tags: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            tags[(row["userId"], row["movieId"])].append((int(row["timestamp"]), row["tag"]))
    return tags


def with_tags(dataset: Path, tags: dict, out: Path) -> tuple[Path, int, int]:
    """A copy of ``dataset`` whose interactions carry their user's tags of the movie as text."""
    shutil.copytree(dataset, out, ignore=shutil.ignore_patterns(".cache", ".timgen-output.json"))
    given = total = 0
    for path in sorted((out / "interactions").glob("*.parquet")):
        table = pq.read_table(path)
        texts = []
        for user, items, stamps in zip(*(table.column(c).to_pylist() for c in ("user_id", "item_ids", "timestamps"))):
            row = []
            for k, item in enumerate(items):
                known_by = stamps[k + 1] if k + 1 < len(items) else stamps[k]
                words = [tag for ts, tag in sorted(tags.get((user, item), [])) if ts <= known_by]
                row.append(", ".join(words))
            given += sum(1 for t in row if t)
            total += len(row)
            texts.append(row)
        column = table.schema.get_field_index("texts")
        table = table.set_column(column, table.schema.field(column), pa.array(texts, table.schema.field(column).type))
        pq.write_table(table, path)
    return out, given, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="a built ML latest-small dataset folder")
    parser.add_argument("--tags", type=Path, required=True, help="the release's tags.csv")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--ways", nargs="*", default=list(WAYS), choices=list(WAYS))
    parser.add_argument("--set", action="append", default=[], help="more section.key=value settings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="review-encoders-") as work:
        dataset, given, total = with_tags(args.dataset, read_tags(args.tags), Path(work) / "dataset")
        print(f"{given} of {total} interactions (all splits' rows) carry a tag as text")
        settings = [f"train.epochs={args.epochs}", f"train.patience={args.epochs}", "train.batch_size=32",
                    "loss.negatives=256", *args.set]
        print("| review text | seconds | validation rmse | test rmse | test ndcg@10 | test hr@10 |")
        print("|---|---:|---:|---:|---:|---:|")
        for way in args.ways:
            started = time.perf_counter()
            result = train(dataset, Path(work) / way, load_run_config(None, settings + WAYS[way]))
            valid, test = result.metrics["validation"], result.metrics["test"]
            print(f"| {way} | {time.perf_counter() - started:.0f} | {valid['rmse']:.4f} | {test['rmse']:.4f} | "
                  f"{test['ndcg@10']:.4f} | {test['hr@10']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
