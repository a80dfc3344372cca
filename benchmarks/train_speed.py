"""Training speed of TIMGen, measured side by side in one run.

1. Seconds per training step on one batch (batch 128, length 200, width 64, 2 layers,
   2 heads, an ML-1M-sized catalogue of 3,706 items): a full TIMGen training step (all five
   layers, the four losses, backward, gradient clipping, AdamW) against a bare
   ``nn.TransformerEncoder`` step of the same size, like for like: item and position
   embeddings, the same input norm and dropout placement (dropout on the residual stream, none
   on attention weights), the same next-item loss (softmax over the whole catalogue, or
   against the same number of shared sampled negatives), the same clipping and AdamW, the
   same batch, window and threads. Each round times one step of every model in turn and the
   medians are compared, so load from other jobs on the machine falls on all of them alike;
   CPU seconds are shown beside wall seconds (on a loaded machine, ``--threads 1`` and the CPU
   ratio are the steadiest figure). Target: TIMGen / bare >= 0.8 (steps per second).
2. Wall time of one training epoch over an ML-1M-sized synthetic corpus (6,040 users x 200
   steps) through the real ``train`` entry point, with sampled negatives. Target: <= 60 s on
   a 2-core CPU.

``--modalities text=384,image=512`` gives the catalogue content vectors of those sizes (four
in five items have each), as the demo's data has; without it items are ids only, as MovieLens.

    python benchmarks/train_speed.py [--rounds 5] [--threads N] [--users 6040] [--negatives 256] [--modalities SPEC]
                                     [--skip-epoch]
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
import torch.nn.functional as F
from torch import nn

from timgen_contract.features import INTERACTIONS_FEATURES, ITEMS_FEATURES, arrow_schema
from timgen_model.batches import SplitTensors, training_windows
from timgen_model.config import load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.model import NUM_RESERVED_ITEMS
from timgen_model.training import TrainingObjective, build_network, train

BATCH, LENGTH, WIDTH, LAYERS, HEADS, DROPOUT = 128, 200, 64, 2, 2, 0.2
ITEMS = 3706
SHAPE = [f"model.embedding_size={WIDTH}", f"model.num_layers={LAYERS}", f"model.num_heads={HEADS}",
         f"model.max_len={LENGTH}", f"model.feedforward_size={4 * WIDTH}", f"model.latent_size={WIDTH}",
         f"train.batch_size={BATCH}", f"model.dropout={DROPOUT}"]


def synthetic_corpus(folder: Path, users: int, steps: int, items: int, seed: int = 0,
                     modalities: dict[str, int] | None = None) -> Path:
    """Leave-last-out splits of random histories with genre classes and 1-5 scores; items carry
    random content vectors of ``modalities`` (name: size), four in five items each."""
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
            "utc_offsets": [[0] * n] * users, "holidays": [[False] * n] * users,
            "is_target": [[True] * n if split == "train" else [False] * (n - 1) + [True]] * users,
        }
        pq.write_table(pa.Table.from_pydict(rows, schema=arrow_schema(INTERACTIONS_FEATURES)),
                       folder / "interactions" / f"{split}-00000-of-00001.parquet")
    item_rows = {"item_id": item_ids.tolist(), "title": item_ids.tolist(), "text": [None] * items,
                 "class": genres.tolist(), "classes": [[g] for g in genres], "year": [2000] * items,
                 **{f"{m}_emb": [None] * items for m in ("text", "image", "video", "audio")}}
    for m, size in (modalities or {}).items():
        vectors = rng.standard_normal((items, size)).astype(np.float32)
        item_rows[f"{m}_emb"] = [v.tolist() if rng.random() < 0.8 else None for v in vectors]
    pq.write_table(pa.Table.from_pydict(item_rows, schema=arrow_schema(ITEMS_FEATURES)),
                   folder / "items" / "train-00000-of-00001.parquet")
    return folder


def seconds_per_step(steps: dict, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of one step of each model, timed in turn round after round.
    CPU seconds (all threads of this process) hardly move when other jobs load the machine."""
    for step in steps.values():
        step()  # warm-up: allocator, kernels
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: tuple(float(v) for v in np.median(np.array(pairs), axis=0)) for name, pairs in times.items()}


class BareStep(nn.Module):
    """The reference: what any Transformer next-item model must compute, and nothing more.
    Item and position embeddings, TIMGen's input norm and dropout placement, the bare
    ``nn.TransformerEncoder``, a final norm, and the same next-item loss as TIMGen's
    (``sampled_reconstruction`` or the full catalogue softmax)."""

    def __init__(self, items: int):
        super().__init__()
        self.items = nn.Embedding(items, WIDTH, padding_idx=0)
        self.positions = nn.Embedding(LENGTH, WIDTH)
        self.input_norm, self.dropout = nn.LayerNorm(WIDTH), nn.Dropout(DROPOUT)
        layer = nn.TransformerEncoderLayer(WIDTH, HEADS, 4 * WIDTH, DROPOUT, activation="gelu", batch_first=True,
                                           norm_first=True)
        layer.self_attn.dropout = 0.0  # TIMGen's placement: dropout on the residual stream only
        layer.dropout = nn.Identity()
        self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(WIDTH)
        self.bias = nn.Parameter(torch.zeros(items))

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, negatives: int) -> torch.Tensor:
        x = self.items(inputs) + self.positions(torch.arange(inputs.shape[1]))
        x = self.dropout(self.input_norm(x))
        causal = torch.ones(inputs.shape[1], inputs.shape[1], dtype=torch.bool).triu(1)
        query = self.norm(self.encoder(x, mask=causal, is_causal=True)).reshape(-1, WIDTH)
        targets = targets.reshape(-1)
        if not negatives:
            return F.cross_entropy(torch.addmm(self.bias, query, self.items.weight.T), targets)
        sampled = torch.randint(NUM_RESERVED_ITEMS, self.bias.shape[0], (negatives,))
        positive = (query * self.items(targets)).sum(-1) + self.bias[targets]
        negative = torch.addmm(self.bias[sampled], query, self.items(sampled).T)
        negative = negative.masked_fill(sampled.unsqueeze(0) == targets.unsqueeze(1), float("-inf"))
        return F.cross_entropy(torch.cat([positive.unsqueeze(1), negative], dim=1), torch.zeros_like(targets))


def training_step(module: nn.Module, loss):
    """One optimizer step as ``train`` takes it: loss, backward, clipping, AdamW."""
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss().backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
    return step


def parse_modalities(spec: str) -> dict[str, int]:
    return {name: int(size) for name, size in (part.split("=") for part in spec.split(",") if part)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed steps per model (the median counts)")
    parser.add_argument("--users", type=int, default=6040, help="users in the epoch corpus")
    parser.add_argument("--negatives", type=int, default=256, help="sampled negatives (0: full softmax)")
    parser.add_argument("--modalities", default="", help="content vectors of the items, e.g. text=384,image=512")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    parser.add_argument("--skip-epoch", action="store_true", help="only the same-batch comparison")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    modalities = parse_modalities(args.modalities)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    with tempfile.TemporaryDirectory() as tmp:
        folder = synthetic_corpus(Path(tmp) / "batch", users=BATCH, steps=LENGTH + 2, items=ITEMS,
                                  modalities=modalities)
        data = encode_dataset(read_contract(folder))
        split = data.splits["train"]
        batch = SplitTensors(split, data.score_mean, data.score_std).batch(training_windows(split, LENGTH))
        assert tuple(batch.items.shape) == (BATCH, LENGTH) and bool(batch.evaluate.all())

        def timgen_step(negatives: int):
            torch.manual_seed(0)
            config = load_run_config(None, SHAPE + [f"loss.negatives={negatives}"])
            objective = TrainingObjective(build_network(config, data).train(), config.loss)
            return training_step(objective, lambda: objective(batch, 100)[0])

        def bare_step(negatives: int):
            torch.manual_seed(0)
            bare = BareStep(len(data.vocabularies.items)).train()
            return training_step(bare, lambda: bare(batch.items, batch.target_items, negatives))

        softmaxes = {"full softmax": 0, f"{args.negatives} negatives": args.negatives}
        steps = {}
        for softmax, negatives in softmaxes.items():
            steps[f"bare encoder, {softmax}"] = bare_step(negatives)
            steps[f"TIMGen, {softmax}"] = timgen_step(negatives)
        seconds = seconds_per_step(steps, args.rounds)

        shown = ", ".join(f"{m} {size}" for m, size in modalities.items()) or "ids only"
        print(f"\nOne batch ({BATCH} x {LENGTH}, width {WIDTH}, {LAYERS} layers, {HEADS} heads, {ITEMS} items, "
              f"{shown}), median of {args.rounds} rounds")
        for name, (wall, cpu) in seconds.items():
            print(f"  {name:32s} {1 / wall:6.3f} steps/s  ({wall:5.2f} s/step, {cpu:5.2f} CPU s/step)")
        for softmax in softmaxes:
            bare, timgen = seconds[f"bare encoder, {softmax}"], seconds[f"TIMGen, {softmax}"]
            wall, cpu = bare[0] / timgen[0], bare[1] / timgen[1]
            print(f"  TIMGen / bare encoder, {softmax:16s} {wall:5.2f} wall, {cpu:5.2f} CPU  "
                  f"(target >= 0.8: {'met' if min(wall, cpu) >= 0.8 else 'missed'})")

        if args.skip_epoch:
            return
        corpus = synthetic_corpus(Path(tmp) / "ml1m", users=args.users, steps=LENGTH + 2, items=ITEMS,
                                  modalities=modalities)
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
