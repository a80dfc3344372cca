"""Peak memory and CPU time of encoding a dataset and of one training epoch, per dataset size.

Each dataset folder (written by ``timgen-data build``) is measured in child processes:

- encode: the dataset encoded for training (``load_encoded``, its cache removed first, so the
  encoding is measured, not a cache hit; code without the cache: ``encode_dataset``);
- train: ``python -m timgen_data train DATASET --out RUN --epochs 1 --set loss.negatives=256``
  from no cache, so it includes the encoding.

CPU seconds (user + system) and peak RSS come from ``os.wait4``'s accounting of each child.
To measure other code (an earlier commit checked out elsewhere), point ``PYTHONPATH`` at it.

    python benchmarks/train_memory.py DATASET [DATASET ...] [--steps encode,train] [--ratings 1M,5M]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENCODE = """
import sys
try:
    from timgen_model.encoded_cache import load_encoded
except ImportError:  # code from before the encoded cache
    from timgen_model.contract import read_contract
    from timgen_model.encoding import encode_dataset
    def load_encoded(folder):
        return encode_dataset(read_contract(folder))
print(load_encoded(sys.argv[1]).fingerprint)
"""


def run(command: list[str], cwd: str) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS bytes) of ``command`` in a child process working in ``cwd``
    (not this checkout, which would shadow ``PYTHONPATH``)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{child.stderr.read().decode()[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--steps", default="encode,train")
    parser.add_argument("--ratings", help="ratings per dataset, e.g. 1M,5M, for CPU s per million")
    args = parser.parse_args()
    ratings = [float(r.upper().rstrip("M")) for r in args.ratings.split(",")] if args.ratings else []
    print("| dataset | step | wall s | CPU s | CPU s per M ratings | peak RSS GB |")
    print("|---|---|---:|---:|---:|---:|")
    for number, dataset in enumerate(args.datasets):
        for step in args.steps.split(","):
            shutil.rmtree(dataset / ".cache", ignore_errors=True)
            with tempfile.TemporaryDirectory() as tmp:
                if step == "encode":
                    command = [sys.executable, "-c", ENCODE, str(dataset.resolve())]
                else:
                    command = [sys.executable, "-m", "timgen_data", "train", str(dataset.resolve()), "--out", f"{tmp}/run",
                               "--epochs", "1", "--set", "loss.negatives=256"]
                wall, cpu, peak = run(command, tmp)
            per_million = f"{cpu / ratings[number]:.1f}" if number < len(ratings) else "–"
            print(f"| {dataset} | {step} | {wall:.0f} | {cpu:.1f} | {per_million} | {peak / 1e9:.2f} |", flush=True)


if __name__ == "__main__":
    main()
