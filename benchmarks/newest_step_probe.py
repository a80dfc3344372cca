"""How much a trained run's test ranking owes to the newest history step.

Evaluates each run's best checkpoint on the test split twice: as is, and with each test
history's newest step (under leave-last-out, the validation interaction) removed, so the test
target is predicted from the very history the validation target was. A model that reads the
newest step well gains from it; the gap between its validation figure and the second test
figure is how much harder the target after next is than the next one.

    python benchmarks/newest_step_probe.py --dataset out/ml-100k runs/ml100k-exp/timgen runs/ml100k-exp/sasrec
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timgen_model.checkpoint import BEST, load_checkpoint  # noqa: E402
from timgen_model.encoded_cache import load_encoded  # noqa: E402
from timgen_model.encoding import EncodedSplit  # noqa: E402
from timgen_model.evaluation import evaluate_network  # noqa: E402
from timgen_model.model import TIMGen  # noqa: E402

FIGURES = ("ndcg@10", "ndcg@10_unseen", "hr@10", "rmse")


def without_newest_step(split: EncodedSplit) -> EncodedSplit:
    """``split`` with the step before each row's last one removed (in memory: ML-100K-sized splits)."""
    if split.has_texts or split.review_index is not None:
        raise SystemExit("this probe handles datasets without texts only")
    offsets = np.asarray(split.offsets)
    keep = np.ones(offsets[-1], bool)
    keep[offsets[1:] - 2] = False
    changed = {}
    for field in dataclasses.fields(split):
        value = getattr(split, field.name)
        if field.name == "offsets":
            changed[field.name] = np.r_[0, np.cumsum(np.diff(offsets) - 1)]
        elif field.name == "text_offsets" and len(value):
            changed[field.name] = np.zeros(int(keep.sum()) + 1, value.dtype)  # no texts: all empty
        elif isinstance(value, np.ndarray) and len(value) == offsets[-1]:
            changed[field.name] = np.asarray(value)[keep]
    return dataclasses.replace(split, **changed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    print("| run | test as is | test without the newest step | validation |")
    print("|---|---|---|---|")
    for run in args.runs:
        checkpoint = load_checkpoint(run / BEST)
        data = load_encoded(args.dataset, checkpoint.vocabularies)
        model = TIMGen(checkpoint.config.model, checkpoint.spec)
        model.load_state_dict(checkpoint.model_state, strict=False)
        test = data.splits["test"]
        if np.any(np.diff(np.asarray(test.offsets)) < 2):
            raise SystemExit(f"{args.dataset}: a test history has no step before its target")
        cells = []
        for split in (test, without_newest_step(test), data.splits["validation"]):
            data.splits["probe"] = split
            metrics = evaluate_network(model, data, "probe").metrics
            shown = [k for k in FIGURES if metrics.get(k) is not None
                     and (k != "rmse" or checkpoint.config.loss.score > 0)]  # an untrained score head's RMSE says nothing
            cells.append(" · ".join(f"{k} {metrics[k]:.4f}" for k in shown))
        print(f"| {run} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
