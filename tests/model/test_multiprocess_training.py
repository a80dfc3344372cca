"""Training on two processes, launched as a user launches it (``accelerate launch --multi_gpu
--num_processes 2``, which on a machine without a visible GPU runs DDP on CPU with gloo over
127.0.0.1): every process takes its own share of each batch, the gradients are all-reduced
so the processes hold the same weights, only the main process writes the run, ``train
--resume`` on two processes ends exactly where an uninterrupted run ends, and the figures
equal a one-process run's within float rounding.

The processes run ``multiprocess_train.py``, which records what each did.
"""

from __future__ import annotations

import json
import os
import socket
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from support.contract import Histories, drifting_histories, write_contract

from timgen_model.batches import epoch_batches, process_share, training_windows
from timgen_model.checkpoint import BEST, LAST, load_checkpoint
from timgen_model.config import load_run_config
from timgen_model.encoded_cache import load_encoded
from timgen_model.processes import Processes
from timgen_model import training
from timgen_model.training import _restore_rng, train

HELPER = Path(__file__).with_name("multiprocess_train.py")
EPOCHS, BATCH = 3, 14
# No dropout and no latent sample: with them each process draws its own noise, and a run
# could only be compared with a one-process run statistically.
SETTINGS = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=6",
            "model.num_heads=2", "model.dropout=0", "model.vae=false", f"train.batch_size={BATCH}",
            "train.learning_rate=0.01", "train.threads=1", f"train.epochs={EPOCHS}", "train.device=cpu"]
# Relative tolerance of a two-process figure against the one-process one. The same batches,
# each process's loss weighed by its share of the batch's targets, make the all-reduced
# gradient the one-process gradient up to float32 summation order (~1e-7 relative per step);
# after these 9 Adam steps the figures differ by ~1e-8. A window lost or counted twice, or
# shares averaged unweighted, moves the loss by ~1e-3 or more.
TOLERANCE = 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    """``accelerate launch`` with two processes on CPU."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port()), *map(str, args)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def records(log_dir: Path) -> list[dict]:
    return [json.loads((log_dir / f"process-{index}.json").read_text()) for index in (0, 1)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Users with two training windows of different lengths and users with one, so batches mix
    lengths and the epoch ends with a one-window batch (a process without a share)."""
    long, genres = drifting_histories(users=12, steps=12, seed=3)
    short, _ = drifting_histories(users=5, steps=7, seed=4)
    histories = Histories(long.users + [f"short-{u}" for u in short.users], long.items + short.items,
                          long.timestamps + short.timestamps, long.scores + short.scores,
                          long.classes + short.classes)
    return write_contract(tmp_path_factory.mktemp("multiprocess") / "ds", histories, genres)


@pytest.fixture(scope="module")
def two_processes(dataset, tmp_path_factory):
    """A two-process run: its folder, each process's record, and a copy of the folder as
    an interruption during epoch 2 leaves it."""
    work = tmp_path_factory.mktemp("two")
    done = launch(HELPER, dataset, work / "run", json.dumps(SETTINGS), work / "log",
                  "--copy-after", "1", work / "interrupted", cwd=work)
    assert done.returncode == 0, done.stderr[-4000:]
    return work / "run", records(work / "log"), work / "interrupted"


def test_each_process_takes_its_own_share_of_every_batch(dataset, two_processes):
    _, (first, second), _ = two_processes
    windows = training_windows(load_encoded(dataset).splits["train"], 6)
    config = load_run_config(None, SETTINGS)
    assert len(first["epochs"]) == len(second["epochs"]) == EPOCHS
    stand_ins = 0
    for epoch, (mine, theirs) in enumerate(zip(first["epochs"], second["epochs"]), start=1):
        batches = epoch_batches(windows, BATCH, config.train.seed, epoch)  # what one process trains on
        assert len(mine) == len(theirs) == len(batches)
        for a, b, batch in zip(mine, theirs, batches):
            assert not set(a["windows"]) & set(b["windows"])
            assert sorted(a["windows"] + b["windows"]) == sorted(windows.starts[batch].tolist())
            assert a["weight"] + b["weight"] == pytest.approx(2.0)
            stand_ins += (a["weight"] == 0) + (b["weight"] == 0)
        covered = [w for share in mine + theirs for w in share["windows"]]
        assert sorted(covered) == sorted(windows.starts.tolist())  # the epoch, every window once
    assert stand_ins == EPOCHS  # the one-window batch of each epoch left one process a stand-in


def test_processes_hold_the_same_weights_after_every_epoch(two_processes):
    _, (first, second), _ = two_processes
    assert first["weights"] == second["weights"]
    assert len(set(first["weights"])) == EPOCHS  # and training moved them


def test_only_the_main_process_writes_the_run(two_processes):
    run, (first, second), _ = two_processes
    assert first["main_process"] and not second["main_process"]
    assert first["encoded"] and not second["encoded"]  # the other process mapped the main one's cache
    assert second["checkpoints"] == []
    # The last checkpoint after every epoch; the best one after the first and whenever validation improved.
    assert [c for c in first["checkpoints"] if c[0] == LAST] == [[LAST, epoch] for epoch in range(1, EPOCHS + 1)]
    assert [c for c in first["checkpoints"] if c[0] == BEST][:1] == [[BEST, 1]]
    assert {name for name, _ in first["checkpoints"]} == {BEST, LAST}
    for name in ("metrics.json", "loss_curves.png", "modality_weights.png", "latent_map.png"):
        assert (run / name).is_file(), name
    streams = load_checkpoint(run / LAST).rng_state["processes"]
    assert len(streams) == 2 and not torch.equal(streams[0]["torch"], streams[1]["torch"])
    assert first["history"] == second["history"]
    assert all(first["metrics"][split] == second["metrics"][split] for split in ("validation", "test"))


def test_two_processes_give_the_figures_of_one(dataset, two_processes, tmp_path, monkeypatch):
    _, (two, _), _ = two_processes
    monkeypatch.setattr(training, "write_run_reports", lambda *args: {})  # the PNGs are not compared
    one = train(dataset, tmp_path / "one", load_run_config(None, SETTINGS))
    assert len(two["history"]) == len(one.history) == EPOCHS
    for theirs, ours in zip(two["history"], one.history):
        assert theirs == pytest.approx(ours, rel=TOLERANCE)
    for split in ("validation", "test"):
        assert two["metrics"][split] == pytest.approx(one.metrics[split], rel=TOLERANCE)


def test_resume_on_two_processes_ends_where_an_uninterrupted_run_ends(dataset, two_processes, tmp_path):
    clean_run, _, interrupted = two_processes
    run = shutil.copytree(interrupted, tmp_path / "run")
    assert load_checkpoint(run / LAST).epoch == 1 and not (run / "metrics.json").exists()
    resumed = launch("-m", "timgen_data", "--data-dir", tmp_path / "data", "train", dataset, "--out", run,
                     "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert resumed.stdout.count("best epoch") == 1  # the main process reports, once
    final, clean = load_checkpoint(run / LAST), load_checkpoint(clean_run / LAST)
    assert final.epoch == clean.epoch == EPOCHS and final.history == clean.history
    for name, tensor in clean.model_state.items():
        assert torch.equal(final.model_state[name], tensor), name
    metrics = [json.loads((folder / "metrics.json").read_text()) for folder in (run, clean_run)]
    assert metrics[0]["test"] == metrics[1]["test"] and metrics[0]["validation"] == metrics[1]["validation"]
    assert (run / BEST).is_file()


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_shares_split_each_batch_by_targets(dataset, processes):
    windows = training_windows(load_encoded(dataset).splits["train"], 6)
    targets = windows.take(np.arange(len(windows))).evaluate.sum(1)
    for batch in epoch_batches(windows, BATCH, 0, 1):
        shares = [process_share(windows, batch, index, processes) for index in range(processes)]
        taken = [w for chunk, weight in shares if weight for w in chunk.targets[:, 0].tolist()]
        assert sorted(taken) == sorted(windows.starts[batch].tolist())
        assert sum(weight for _, weight in shares) == pytest.approx(processes)
        for chunk, weight in shares:
            if weight:  # its part of the batch's targets, times the number of processes
                own = chunk.evaluate.sum()
                assert weight == pytest.approx(processes * own / targets[batch].sum())
            else:  # a stand-in that still takes part in the all-reduce
                assert len(chunk) == 1 and chunk.evaluate.sum() > 0


def test_each_process_resumes_its_own_random_stream():
    streams = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        streams.append({"torch": torch.get_rng_state()})
    _restore_rng({"torch": streams[0]["torch"], "processes": streams}, Processes(1, 2), torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), streams[1]["torch"])
    torch.manual_seed(7)
    seeded = torch.get_rng_state()
    _restore_rng({"torch": streams[0]["torch"]}, Processes(1, 2), torch.device("cpu"))  # an older checkpoint
    assert torch.equal(torch.get_rng_state(), seeded)
