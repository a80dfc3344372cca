"""Trains in every process of ``accelerate launch`` for test_multiprocess_training.py and
records what this process did in LOG_DIR/process-<index>.json: its share of each batch (the
first target position of each window, which names the window), a hash of its weights at
each validation, the checkpoints it wrote, and whether it encoded the dataset.

    multiprocess_train.py DATASET OUT SETTINGS_JSON LOG_DIR [--copy-after N COPY]

``--copy-after N COPY`` copies the run folder to COPY once epoch N's checkpoints are
written: the folder as a run interrupted during epoch N + 1 leaves it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

from timgen_model import encoded_cache, training
from timgen_model.config import load_run_config


def weights_hash(network) -> str:
    digest = hashlib.sha256()
    for name, tensor in network.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("dataset", "out", "settings", "log_dir"):
        parser.add_argument(name)
    parser.add_argument("--copy-after", nargs=2, metavar=("EPOCH", "COPY"))
    args = parser.parse_args()
    index = int(os.environ.get("RANK", "0"))
    record: dict = {"epochs": [], "weights": [], "checkpoints": [], "encoded": False}
    write_entry = encoded_cache._write_entry
    epoch_batches, process_share = training.epoch_batches, training.process_share
    evaluate_network, save_checkpoint = training.evaluate_network, training.save_checkpoint

    def recording_encoding(*args, **kwargs):
        record["encoded"] = True
        return write_entry(*args, **kwargs)

    def recording_batches(*args, **kwargs):
        record["epochs"].append([])
        return epoch_batches(*args, **kwargs)

    def recording_share(windows, batch, process_index, num_processes):
        chunk, weight = process_share(windows, batch, process_index, num_processes)
        starts = chunk.targets[:, 0].tolist() if weight else []  # weight 0: a stand-in, not a share
        record["epochs"][-1].append({"windows": starts, "weight": weight})
        return chunk, weight

    def recording_evaluation(network, data, split, **kwargs):
        if "step" in kwargs:  # the validation after an epoch (the final evaluation passes no step)
            record["weights"].append(weights_hash(network))
        return evaluate_network(network, data, split, **kwargs)

    def recording_save(checkpoint, path):
        record["checkpoints"].append([Path(path).name, checkpoint.epoch])
        written = save_checkpoint(checkpoint, path)
        if args.copy_after and Path(path).name == training.LAST and checkpoint.epoch == int(args.copy_after[0]):
            shutil.copytree(Path(path).parent, args.copy_after[1])
        return written

    encoded_cache._write_entry = recording_encoding
    training.epoch_batches, training.process_share = recording_batches, recording_share
    training.evaluate_network, training.save_checkpoint = recording_evaluation, recording_save
    try:
        config = load_run_config(None, json.loads(args.settings))
        result = training.train(args.dataset, Path(args.out), config)
        record.update(history=result.history, metrics=result.metrics, main_process=result.main_process)
    finally:
        Path(args.log_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.log_dir) / f"process-{index}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
