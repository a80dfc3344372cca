"""Train one RecBole 1.2.1 model on a timgen-data RecBole export and write its scores for our test targets.

Runs inside the RecBole venv that ``benchmarks/peers.py`` made (it imports nothing of ours).
It reads the export's benchmark files, so RecBole trains on our train split, early-stops on
our validation split and never re-splits; then it scores every item for each row of the test
benchmark file and writes:

- ``scores.npy``: float32 [rows, items], columns in the order of ``--items`` (our item ids),
  -inf for an item RecBole does not know;
- ``keys.tsv``: per row, the user and the target item (the row's key on our side);
- ``result.json``: model, library, version, epochs run, training seconds.

    python recbole_runner.py --export DIR --name NAME --model SASRec --epochs 2 --items items.txt --out DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

SEQUENTIAL = {"benchmark_filename": ["train_seq", "valid_seq", "test_seq"],
              "load_col": {"inter": ["user_id", "item_id_list", "item_id"]},
              "alias_of_item_id": ["item_id_list"], "MAX_ITEM_LIST_LENGTH": 50,
              "train_neg_sample_args": None, "loss_type": "CE"}
GENERAL = {"benchmark_filename": ["train", "valid", "test"], "load_col": {"inter": ["user_id", "item_id"]}}
MODELS = {"SASRec": SEQUENTIAL, "GRU4Rec": SEQUENTIAL, "BPR": GENERAL}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--model", choices=sorted(MODELS), required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--items", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import recbole
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    config = Config(model=args.model, dataset=args.name, config_dict={
        **MODELS[args.model], "data_path": str(args.export), "epochs": args.epochs, "seed": 2020,
        "reproducibility": True, "show_progress": False, "use_gpu": False, "checkpoint_dir": str(args.out / "saved"),
        "metrics": ["NDCG", "Hit"], "topk": [10], "valid_metric": "NDCG@10", "state": "WARNING",
        "eval_args": {"mode": "full", "order": "TO", "group_by": "user", "split": {"RS": [0.8, 0.1, 0.1]}},
    })
    logging.getLogger().setLevel(logging.WARNING)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    started = time.perf_counter()
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    seconds = time.perf_counter() - started
    # RecBole 1.2.1 reloads its checkpoint with torch.load's old default; newer torch needs it said.
    state = torch.load(trainer.saved_model_file, map_location="cpu", weights_only=False)
    model.load_state_dict(state["state_dict"])
    model.eval()

    ours = [line for line in args.items.read_text(encoding="utf-8").splitlines() if line]
    column = {item: c for c, item in enumerate(ours)}
    item_tokens = dataset.field2id_token["item_id"]
    user_tokens = dataset.field2id_token["user_id"]
    known = np.array([i for i in range(1, len(item_tokens)) if item_tokens[i] in column])
    columns = np.array([column[item_tokens[i]] for i in known], dtype=np.int64)
    test = test_data._dataset.inter_feat
    scores = np.full((len(test), len(ours)), -np.inf, dtype=np.float32)
    keys = []
    with torch.no_grad():
        for start in range(0, len(test), 256):
            batch = test[start:start + 256].to(config["device"])
            predicted = model.full_sort_predict(batch).reshape(len(batch), -1).cpu().numpy()
            scores[start:start + len(batch), columns] = predicted[:, known]
            keys += [f"{user_tokens[u]}\t{item_tokens[i]}" for u, i in
                     zip(batch["user_id"].tolist(), batch["item_id"].tolist())]
    np.save(args.out / "scores.npy", scores)
    (args.out / "keys.tsv").write_text("".join(k + "\n" for k in keys), encoding="utf-8")
    (args.out / "result.json").write_text(json.dumps({
        "model": args.model, "library": f"RecBole {recbole.__version__}",
        "epochs": args.epochs, "seconds": seconds,  # at most: RecBole stops after 10 epochs without progress
        "best_valid": {k: float(v) for k, v in (trainer.best_valid_result or {}).items()},
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
