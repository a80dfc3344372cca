"""One training epoch on one process and on several (``torchrun``, DDP on CPU with gloo):
wall time, CPU seconds and the largest process's peak RSS, each run a child process.

The corpus is the tests' drifting histories (users x 202 steps, 18 genres x 200 items),
encoded once before the timed runs so they all read the same memory-mapped cache.
``--pythonpath`` runs the one-process case with another checkout (e.g. a worktree of an
earlier commit) for a before/after comparison in the same session.

    python benchmarks/multiprocess_training.py --users 5000 --processes 1 2 [--pythonpath /tmp/old]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from support.contract import drifting_histories, write_contract  # noqa: E402
from train_speed import LENGTH, SHAPE  # noqa: E402

from timgen_model.encoded_cache import load_encoded  # noqa: E402


# Each case runs under its own small parent, whose children's peak RSS is that case's alone.
_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": done.returncode, "stderr": done.stderr[-3000:], "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_gb": usage.ru_maxrss / 1024**2}))  # the largest one process (KiB on Linux)
"""


def run_child(command: list[str], env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    report = json.loads(done.stdout.splitlines()[-1])
    if report.pop("rc"):
        raise SystemExit(f"{' '.join(command)} failed:\n{report['stderr']}")
    report.pop("stderr")
    return {"wall_s": wall, **report}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--negatives", type=int, default=256)
    parser.add_argument("--pythonpath", help="also run one process with this checkout first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        histories, genres = drifting_histories(users=args.users, steps=LENGTH + 2, genres=18, items_per_genre=200)
        corpus = write_contract(Path(tmp) / "corpus", histories, genres)
        del histories
        rows = args.users * (LENGTH + 2)
        load_encoded(corpus)  # the cache every run maps
        settings = [arg for s in SHAPE + ["train.epochs=1", f"loss.negatives={args.negatives}"]
                    for arg in ("--set", s)]
        cases = ([("before, 1 process", 1, args.pythonpath)] if args.pythonpath else []) + [
            (f"after, {n} process{'es' if n > 1 else ''}", n, None) for n in args.processes]
        for number, (name, processes, pythonpath) in enumerate(cases):
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
            if pythonpath:
                env["PYTHONPATH"] = pythonpath
            launcher = ([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                         "--master_port", str(29600 + number)] if processes > 1 else [sys.executable])
            command = launcher + ["-m", "timgen_data", "--data-dir", f"{tmp}/data{number}", "train", str(corpus),
                                  "--out", f"{tmp}/run{number}", "--device", "cpu", *settings]
            figures = run_child(command, env)
            metrics = json.loads((Path(tmp) / f"run{number}" / "metrics.json").read_text())
            print(json.dumps({"case": name, "interactions": rows, **{k: round(v, 2) for k, v in figures.items()},
                              "cpu_s_per_m_rows": round(figures["cpu_s"] / rows * 1e6, 2),
                              "test_ndcg@10": round(metrics["test"]["ndcg@10"], 4)}), flush=True)


if __name__ == "__main__":
    main()
