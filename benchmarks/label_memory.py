"""``label`` peak memory and CPU per million ratings, on stores of growing size.

For each size it generates an ML-1M-layout archive of that many ratings (``demo/corpus.py``,
about 154 ratings a user as in ML-25M), collects it with ``collect_movielens`` (its own md5,
since it is not the published release) into a SQLite store, then labels a fresh copy of
that store (scenario movie) in a child process and reads the child's CPU seconds and peak
RSS from ``os.wait4``. Stores are kept under ``--workdir`` and reused by later runs.

To measure other code (an earlier commit checked out elsewhere), point ``PYTHONPATH`` at
it: the children run from the work folder, so they import what ``PYTHONPATH`` names first.
Collecting uses the same code; reuse a work folder to label the same stores with both.

    python benchmarks/label_memory.py [--sizes 1M,5M] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

_COLLECT = """
import shutil
import sys
from pathlib import Path
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.demo.corpus import CorpusSpec, generate_corpus, zip_release
from timgen_data.downloads.checksums import file_digests
from timgen_data.store import Store

ratings, work = int(sys.argv[1]), Path(sys.argv[2])
spec = CorpusSpec(users=max(ratings // 154, 10), items=min(59_047, max(ratings // 270, 1_000)), ratings=ratings,
                  seed=1, layout="1m")
corpus = generate_corpus(work / "generated", spec)
archive = zip_release(corpus.folder, work / "ml-1m.zip")
store = Store.open(f"sqlite:///{work / 'store.partial.sqlite'}")
collect_movielens(store, "1m", data_dir=work / "data", from_file=archive, expected_md5=file_digests(archive)[1])
store.dispose()
shutil.rmtree(work / "generated")
"""
_LABEL = """
import sys
from timgen_data.labeling import label_store
from timgen_data.store import Store

store = Store.open(f"sqlite:///{sys.argv[1]}")
report = label_store(store, "movie")
store.dispose()
print(report.considered)
"""


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return round(float(text[:-1] if scale > 1 else text) * scale)


def run_child(code: str, *args: str, cwd: Path) -> tuple[str, float, int]:
    """Run ``code`` in a child Python: its output, CPU seconds (it and what it waited for) and
    peak RSS in bytes, from ``os.wait4`` (a plain ``subprocess`` run would reap it first)."""
    pid = os.fork()
    if pid == 0:  # the child: its output in a file of the work folder, then the code
        os.chdir(cwd)
        with open(cwd / "child.out", "w") as out:
            os.dup2(out.fileno(), 1)
            os.execv(sys.executable, [sys.executable, "-c", code, *args])
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"child failed (exit {os.waitstatus_to_exitcode(status)}); see the output above")
    return (cwd / "child.out").read_text(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,5M", help="ratings per store, comma-separated (default 1M,5M)")
    parser.add_argument("--workdir", type=Path, help="keep the stores here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.workdir or Path(tmp)).absolute()
        print("| ratings | label CPU s | CPU s per M | peak RSS GB | wall s |")
        print("|---:|---:|---:|---:|---:|")
        for size in (parse_size(s) for s in args.sizes.split(",")):
            folder = work / f"ml-{size}"
            folder.mkdir(parents=True, exist_ok=True)
            store = folder / "store.sqlite"
            if not store.exists():
                run_child(_COLLECT, str(size), str(folder), cwd=folder)
                (folder / "store.partial.sqlite").rename(store)
            copy = folder / "label.sqlite"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
            shutil.copy(store, copy)
            start = time.perf_counter()
            out, cpu, peak = run_child(_LABEL, str(copy), cwd=folder)
            wall = time.perf_counter() - start
            rows = int(out.split()[-1])
            print(f"| {rows:,} | {cpu:.1f} | {cpu / rows * 1e6:.2f} | {peak / 1e9:.2f} | {wall:.1f} |", flush=True)
            copy.unlink()


if __name__ == "__main__":
    main()
