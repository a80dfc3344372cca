"""Scaling benchmark: each step's time and peak memory on ML-25M-shaped archives of growing size.

For each size it generates (or reuses, under ``--workdir``) an archive in the 25m
release's layout with ML-25M's skew (``scale_corpus.py``), then runs every step in a child
process of its own, through the real CLI (``python -m timgen_data``), on a fresh data dir:

- floor: pyarrow's streaming CSV reader plus one raw ``sqlite3`` executemany of the same
  rows, in one transaction, into schema.sql's ``interactions`` table (``floor.py``); it
  reads in blocks, so its memory is what a bounded ingest needs;
- collect: ``collect movielens --variant 25m --from-file ARCHIVE --md5 <its own md5>``
  (extract, parse, store);
- label: ``label --scenario movie``;
- build: ``build OUT --min-interactions 5`` (leave-last-out, Parquet, card, plot);
- export: ``export OUT --dataset <built> --format recbole``.

With ``--engines local,spark`` the store is also copied right after ``collect`` and
``label`` and ``build`` run again on the copy with ``--engine spark --spark-master
local[2]``; their figures include the JVM (a child of the command).

Wall seconds come from the clock around each child, CPU seconds (user + system) and peak
RSS from ``os.wait4``'s accounting of that child and what it waited for. It prints a
markdown table per run (per row: CPU microseconds, peak bytes, CPU time against the
floor's) and, across sizes, CPU seconds per million ratings and the growth of the peak.

To measure other code (an earlier commit checked out elsewhere), point ``PYTHONPATH`` at
it: the children run from the work folder, so they import what ``PYTHONPATH`` names first.

    python benchmarks/scale.py [--sizes 1M,5M,25M] [--steps floor,collect,label,build,export]
                               [--workdir DIR] [--engines local,spark]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # scale_corpus.py and floor.py, beside this script

from scale_corpus import FOLDER, Archive, ScaleSpec, ensure_archive  # noqa: E402

STEPS = ("floor", "collect", "label", "build", "export")
NEEDS = {"label": "collect", "build": "label", "export": "build"}
ENGINES = ("local", "spark")
SPARK_STEPS = ("label", "build")


@dataclass(frozen=True)
class Measure:
    step: str
    rows: int
    wall_s: float
    cpu_s: float
    peak_bytes: int


def parse_size(text: str) -> int:
    """ "1M" -> 1_000_000, "500k" -> 500_000, "20000" -> 20_000."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = round(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 1M, 500k, 20000)") from None
    if value < 1_000:
        raise argparse.ArgumentTypeError(f"{text!r}: a size needs at least 1,000 ratings")
    return value


def label_size(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return f"{rows:,}"


def run_child(step: str, rows: int, argv: list[str], cwd: Path, log: Path, *, tree: bool = False) -> Measure:
    """Run ``argv`` to its end; its wall time, CPU time and peak RSS (it and what it waited for).

    ``tree``: also count the processes it started and left behind (Spark's JVM). This
    process becomes their reaper, so their CPU time comes from the kernel's accounting as
    they are reaped; the peak is that of the whole tree's RSS summed, sampled every 0.1 s.
    """
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        start = time.perf_counter()
        sampler = TreeSampler() if tree else None
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024
        if sampler:
            orphans_cpu, tree_peak = sampler.finish()
            cpu, peak = cpu + orphans_cpu, max(peak, tree_peak)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(f"{step} at {label_size(rows)} failed (exit {proc.returncode}); end of {log}:\n"
                         + "\n".join(tail))
    return Measure(step, rows, wall, cpu, peak)


class TreeSampler:
    """The summed RSS of every descendant, sampled on a thread; orphans reaped at the end."""

    def __init__(self) -> None:
        import ctypes
        import threading

        import psutil

        # PR_SET_CHILD_SUBREAPER: descendants whose parent exits are reparented to us, not init
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
        self._me = psutil.Process()
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            total = 0
            for member in self._me.children(recursive=True):
                try:
                    total += member.memory_info().rss
                except Exception:  # gone between listing and reading
                    continue
            self.peak = max(self.peak, total)

    def finish(self) -> tuple[float, int]:
        """Reap what the command left running (waiting for it to end): their CPU seconds, the peak."""
        cpu = 0.0
        while True:
            try:
                _, _, usage = os.wait4(-1, 0)
            except ChildProcessError:
                break
            cpu += usage.ru_utime + usage.ru_stime
        self._stop.set()
        self._thread.join()
        return cpu, self.peak


def step_argv(step: str, archive: Archive, run: Path, engine: str = "local") -> list[str]:
    data = run / ("data" if engine == "local" else f"{engine}-data")
    cli = [sys.executable, "-m", "timgen_data", "--data-dir", str(data)]
    spark = ["--engine", "spark", "--spark-master", "local[2]"] if engine == "spark" else []
    if step == "floor":
        return [sys.executable, str(Path(__file__).resolve()), "--floor-child",
                str(archive.folder / "ratings.csv"), str(run / "floor.sqlite")]
    if step == "collect":
        return [*cli, "collect", "movielens", "--variant", "25m", "--from-file", str(archive.path),
                "--md5", archive.md5]
    if step == "label":
        return [*cli, "label", "--scenario", "movie", *spark]
    if step == "build":
        out = run / ("dataset" if engine == "local" else f"{engine}-dataset")
        return [*cli, "build", str(out), "--min-interactions", "5", *spark]
    return [*cli, "export", str(run / "export"), "--dataset", str(run / "dataset"), "--format", "recbole",
            "--name", "bench"]


def copy_store(run: Path, engine: str) -> None:
    """The collected store, copied for another engine's steps (SQLite's log folded in first)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(run / "data" / "store.sqlite")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    target = run / f"{engine}-data"
    target.mkdir()
    shutil.copyfile(run / "data" / "store.sqlite", target / "store.sqlite")


def measure_size(rows: int, steps: list[str], work: Path, log, engines: tuple[str, ...] = ("local",)) -> list[Measure]:
    archive = ensure_archive(work / f"corpus-{rows}", ScaleSpec(rows), log)
    run = work / f"run-{rows}"
    if run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True)
    results = []
    for step in steps:
        log(f"{label_size(rows)}: {step} ...")
        result = run_child(step, rows, step_argv(step, archive, run), run, run / "steps.log")
        log(f"{label_size(rows)}: {step} {result.wall_s:.1f} s wall, {result.cpu_s:.1f} s CPU, "
            f"peak {result.peak_bytes / 1e9:.2f} GB")
        results.append(result)
        if step == "collect":
            for engine in engines[1:]:
                copy_store(run, engine)
    for engine in engines[1:]:
        for step in (s for s in steps if s in SPARK_STEPS):
            name = f"{step} ({engine})"
            log(f"{label_size(rows)}: {name} ...")
            result = run_child(name, rows, step_argv(step, archive, run, engine), run, run / "steps.log", tree=True)
            log(f"{label_size(rows)}: {name} {result.wall_s:.1f} s wall, {result.cpu_s:.1f} s CPU, "
                f"peak {result.peak_bytes / 1e9:.2f} GB")
            results.append(result)
    return results


def code_under_test(cwd: Path) -> str:
    """Where the children import timgen_data from, and its commit."""
    where = "import os, timgen_data; print(os.path.dirname(timgen_data.__file__))"
    found = subprocess.run([sys.executable, "-c", where], cwd=cwd, capture_output=True, text=True)
    package = Path(found.stdout.strip() or "?")
    commit = subprocess.run(["git", "-C", str(package), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    return f"{package.parent} ({commit or 'not a git checkout'})"


def gigabytes(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def run_table(measures: list[Measure]) -> str:
    floors = {m.rows: m for m in measures if m.step == "floor"}
    lines = ["| ratings | step | wall s | CPU s | peak RSS | CPU µs/row | peak bytes/row | CPU × floor |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for m in measures:
        floor = floors.get(m.rows)
        ratio = f"{m.cpu_s / floor.cpu_s:.2f}" if floor and m.step != "floor" else "–"
        lines.append(f"| {label_size(m.rows)} | {m.step} | {m.wall_s:.1f} | {m.cpu_s:.1f} | "
                     f"{gigabytes(m.peak_bytes)} | {m.cpu_s / m.rows * 1e6:.2f} | {m.peak_bytes / m.rows:,.0f} | "
                     f"{ratio} |")
    return "\n".join(lines)


def growth_table(measures: list[Measure], sizes: list[int]) -> str:
    """Across sizes: CPU s per million ratings at each, peak RSS at each, and how the peak grows."""
    first, last = label_size(sizes[0]), label_size(sizes[-1])
    names = " / ".join(label_size(s) for s in sizes)
    lines = [f"| step | CPU s per M ratings ({names}) | peak RSS ({names}) | peak {last} ÷ {first} | "
             f"added bytes per added row |",
             "|---|---:|---:|---:|---:|"]
    by_key = {(m.step, m.rows): m for m in measures}
    for step in dict.fromkeys(m.step for m in measures):
        row = [by_key[step, s] for s in sizes]
        per_m = " / ".join(f"{m.cpu_s / m.rows * 1e6:.1f}" for m in row)
        peaks = " / ".join(gigabytes(m.peak_bytes) for m in row)
        added = (row[-1].peak_bytes - row[0].peak_bytes) / (row[-1].rows - row[0].rows)
        lines.append(f"| {step} | {per_m} | {peaks} | {row[-1].peak_bytes / row[0].peak_bytes:.2f} | {added:,.0f} |")
    return "\n".join(lines)


def floor_child(ratings_csv: Path, db_path: Path) -> None:
    """The floor, in its own process: stream ratings.csv in blocks into a raw executemany."""
    from itertools import tee
    from operator import itemgetter

    import pyarrow as pa
    import pyarrow.csv as pacsv
    from floor import insert_ratings

    types = {"userId": pa.int64(), "movieId": pa.int64(), "rating": pa.float64(), "timestamp": pa.int64()}
    reader = pacsv.open_csv(ratings_csv, read_options=pacsv.ReadOptions(block_size=4 << 20),
                            convert_options=pacsv.ConvertOptions(column_types=types))
    rows = (row for batch in reader for row in zip(*(column.to_pylist() for column in batch.columns)))
    # zip in insert_ratings takes one from each copy in turn, so tee buffers a single row.
    users, items, ratings, ts = tee(rows, 4)
    insert_ratings(db_path, map(itemgetter(0), users), map(itemgetter(1), items), map(itemgetter(3), ts),
                   map(itemgetter(2), ratings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,5M", help="ratings per archive, comma-separated (default 1M,5M; "
                                                          "e.g. 1M,5M,25M or 20000)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"which of {','.join(STEPS)} (default all)")
    parser.add_argument("--workdir", type=Path, help="keep archives, stores and outputs here (default: a "
                                                     "temporary folder); archives there are reused")
    parser.add_argument("--engines", default="local", help="local, or local,spark: label and build also on Spark "
                                                           "(local[2]) from a copy of the collected store")
    parser.add_argument("--floor-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_child:
        floor_child(*args.floor_child)
        return
    try:
        sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        parser.error(f"--steps takes some of {','.join(STEPS)}, not {args.steps!r}")
    missing = [f"{s} needs {NEEDS[s]}" for s in steps if s in NEEDS and NEEDS[s] not in steps]
    if missing:
        parser.error("; ".join(missing))
    steps = [s for s in STEPS if s in steps]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or engines[0] != "local" or any(e not in ENGINES for e in engines):
        parser.error(f"--engines takes local, then any of {','.join(ENGINES[1:])}, not {args.engines!r}")
    if len(engines) > 1 and "collect" not in steps:
        parser.error("--engines with spark needs the collect step (its store is copied)")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="timgen-scale-") as tmp:
        work = (args.workdir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        code = code_under_test(work)
        log(f"code under test: {code}")
        # What every step pays before its first row: the interpreter and the CLI's imports.
        startup = run_child("startup", 1, [sys.executable, "-m", "timgen_data", "--help"], work,
                            work / "startup.log")
        measures = []
        for rows in sizes:
            measures.extend(measure_size(rows, steps, work, log, tuple(engines)))
    corpora = ", ".join(f"{label_size(s)}: {ScaleSpec(s).users:,} users, {ScaleSpec(s).catalog:,} movies"
                        for s in sizes)
    print(f"Engines {', '.join(engines)}; code {code}; {os.cpu_count()} CPUs; archives in the {FOLDER} layout ({corpora}); "
          f"CLI start-up (`--help`) {startup.cpu_s:.1f} s CPU, peak {gigabytes(startup.peak_bytes)}, included in "
          "every step's figures.\n")
    print(run_table(measures))
    if len(sizes) > 1:
        print()
        print(growth_table(measures, sizes))


if __name__ == "__main__":
    main()
