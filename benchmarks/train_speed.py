"""Training speed of TIMGen, measured side by side in one run.

1. Steps per second on one batch (batch 128, length 200, width 64, 2 layers, 2 heads, an
   ML-1M-sized catalogue of 3,706 items): a full TIMGen training step (all five layers, the
   four losses, backward, AdamW) against a bare ``nn.TransformerEncoder`` forward + backward
   of the same size, once with PyTorch's default dropout placement and once with TIMGen's
   (no dropout on attention weights). TIMGen is timed twice: next-item softmax over the whole
   catalogue (the default), and sampled softmax against ``--negatives`` shared negatives.
   Target: ratio >= 0.6.
2. Wall time of one training epoch over an ML-1M-sized synthetic corpus (6,040 users x 200
   steps) through the real ``train`` entry point, with sampled negatives. Target: <= 60 s on
   a 2-core CPU.

    python benchmarks/train_speed.py [--steps 5] [--users 6040] [--negatives 256] [--skip-epoch]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn

from timgen_contract.features import INTERACTIONS_FEATURES, ITEMS_FEATURES, arrow_schema
from timgen_model.batches import SplitTensors, training_windows
from timgen_model.config import load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.training import TrainingObjective, build_network, train

BATCH, LENGTH, WIDTH, LAYERS, HEADS = 128, 200, 64, 2, 2
ITEMS = 3706
SHAPE = [f"model.embedding_size={WIDTH}", f"model.num_layers={LAYERS}", f"model.num_heads={HEADS}",
         f"model.max_len={LENGTH}", f"model.feedforward_size={4 * WIDTH}", f"model.latent_size={WIDTH}",
         f"train.batch_size={BATCH}"]


def synthetic_corpus(folder: Path, users: int, steps: int, items: int, seed: int = 0) -> Path:
    """Leave-last-out splits of random histories with genre classes and 1-5 scores."""
    rng = np.random.default_rng(seed)
    item_ids = np.array([str(i) for i in range(items)], dtype=object)
    genres = np.array([f"g{i % 18}" for i in range(items)], dtype=object)
    (folder / "interactions").mkdir(parents=True)
    (folder / "items").mkdir()
    histories = rng.integers(0, items, size=(users, steps))
    stamps = 1_000_000_000 + np.cumsum(rng.integers(60, 86_400, size=(users, steps)), axis=1)
    scores = rng.integers(1, 6, size=(users, steps)).astype(np.float32)
    for split, cut in (("train", 2), ("validation", 1), ("test", 0)):
        n = steps - cut
        rows = {
            "user_id": [str(u) for u in range(users)],
            "item_ids": [item_ids[h[:n]].tolist() for h in histories],
            "timestamps": [s[:n].tolist() for s in stamps],
            "actions": [["rate"] * n] * users, "devices": [[""] * n] * users, "platforms": [[""] * n] * users,
            "geos": [[""] * n] * users, "scores": [s[:n].tolist() for s in scores],
            "classes": [genres[h[:n]].tolist() for h in histories], "values": [s[:n].tolist() for s in scores], "texts": [[""] * n] * users,
            "is_target": [[True] * n if split == "train" else [False] * (n - 1) + [True]] * users,
        }
        pq.write_table(pa.Table.from_pydict(rows, schema=arrow_schema(INTERACTIONS_FEATURES)),
                       folder / "interactions" / f"{split}-00000-of-00001.parquet")
    item_rows = {"item_id": item_ids.tolist(), "title": item_ids.tolist(), "text": [None] * items,
                 "class": genres.tolist(), "classes": [[g] for g in genres], "year": [2000] * items,
                 **{f"{m}_emb": [None] * items for m in ("text", "image", "video", "audio")}}
    pq.write_table(pa.Table.from_pydict(item_rows, schema=arrow_schema(ITEMS_FEATURES)),
                   folder / "items" / "train-00000-of-00001.parquet")
    return folder


def steps_per_second(step, repeats: int) -> float:
    step()  # warm-up: allocator, kernels
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    return repeats / (time.perf_counter() - started)


def bare_encoder(attention_dropout: bool) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(WIDTH, HEADS, 4 * WIDTH, 0.2, activation="gelu", batch_first=True,
                                       norm_first=True)
    if not attention_dropout:
        layer.self_attn.dropout = 0.0
        layer.dropout = nn.Identity()
    return nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False).train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model")
    parser.add_argument("--users", type=int, default=6040, help="users in the epoch corpus")
    parser.add_argument("--negatives", type=int, default=256, help="sampled negatives (0: full softmax)")
    parser.add_argument("--skip-epoch", action="store_true", help="only the same-batch comparison")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    with tempfile.TemporaryDirectory() as tmp:
        folder = synthetic_corpus(Path(tmp) / "batch", users=BATCH, steps=LENGTH + 2, items=ITEMS)
        data = encode_dataset(read_contract(folder))
        split = data.splits["train"]
        batch = SplitTensors(split, data.score_mean, data.score_std).batch(training_windows(split, LENGTH))
        assert tuple(batch.items.shape) == (BATCH, LENGTH)

        def timgen_step(negatives: int):
            torch.manual_seed(0)
            config = load_run_config(None, SHAPE + [f"loss.negatives={negatives}"])
            model = build_network(config, data).train()
            objective = TrainingObjective(model, config.loss)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

            def step():
                loss, _ = objective(batch, 100)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
            return step

        x = torch.randn(BATCH, LENGTH, WIDTH)
        causal = torch.ones(LENGTH, LENGTH, dtype=torch.bool).triu(1)
        results = {}
        for name, encoder in (("bare encoder, PyTorch dropout", bare_encoder(True)),
                              ("bare encoder, TIMGen dropout", bare_encoder(False))):
            def bare_step(encoder=encoder):
                encoder(x, mask=causal, is_causal=True).sum().backward()
            results[name] = steps_per_second(bare_step, args.steps)
        timgen = {"TIMGen, full softmax": timgen_step(0),
                  f"TIMGen, {args.negatives} negatives": timgen_step(args.negatives)}
        for name, step in timgen.items():
            results[name] = steps_per_second(step, args.steps)

        print(f"\nOne batch ({BATCH} x {LENGTH}, width {WIDTH}, {LAYERS} layers, {HEADS} heads, {ITEMS} items)")
        for name, rate in results.items():
            print(f"  {name:32s} {rate:6.3f} steps/s  ({1 / rate:5.2f} s/step)")
        for mine in timgen:
            for name in ("bare encoder, PyTorch dropout", "bare encoder, TIMGen dropout"):
                ratio = results[mine] / results[name]
                print(f"  {mine} / {name:30s} {ratio:5.2f}  (target >= 0.6: {'met' if ratio >= 0.6 else 'missed'})")

        if args.skip_epoch:
            return
        corpus = synthetic_corpus(Path(tmp) / "ml1m", users=args.users, steps=LENGTH + 2, items=ITEMS)
        epoch_config = load_run_config(None, SHAPE + ["train.epochs=1", f"loss.negatives={args.negatives}"])
        result = train(corpus, Path(tmp) / "run", epoch_config)
        timing = result.timings[0]
        print(f"\nOne epoch, {args.users} users x {LENGTH} steps ({args.users * LENGTH:,} training positions), "
              f"{args.negatives} sampled negatives")
        print(f"  training      {timing['seconds_train']:7.1f} s  (target <= 60 s: "
              f"{'met' if timing['seconds_train'] <= 60 else 'missed'})")
        print(f"  validation    {timing['seconds_validation']:7.1f} s")


if __name__ == "__main__":
    main()
