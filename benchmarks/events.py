"""Platform-log ingest benchmark: ``collect events`` against the MovieLens collector and the floor.

Generates an ML-1M-sized corpus (1,000,209 ratings by 6,040 users of 3,706 movies), writes
its ratings as a platform log (CSV with a header, and Parquet), and measures in one run:

- events csv / parquet: ``collect_events`` with a mapping (fixed action ``rate``, epoch
  seconds): the column check, the full value check before anything is stored, then the
  batched store with its cursor;
- movielens: ``collect_movielens`` from the same ratings in the release layout;
- floor: pyarrow parse of the CSV plus one raw ``sqlite3`` executemany of the same rows, in
  one transaction, into the same ``interactions`` table (schema.sql's DDL, the store's pragmas).

    python benchmarks/events.py [--workdir DIR] [--ratings N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from floor import insert_ratings, timed  # benchmarks/floor.py, beside this script

from timgen_data.collectors.events import collect_events, load_mapping
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.collectors.movielens.ratings import parse_ratings
from timgen_data.demo.corpus import CorpusSpec, generate_corpus, zip_release
from timgen_data.downloads.checksums import file_digests
from timgen_data.store import Store

ML_1M = CorpusSpec(users=6040, items=3706, ratings=1_000_209, seed=1, layout="1m")
MAPPING = """\
name = "bench"
[columns]
user = "user_id"
item = "item_id"
time = "ts"
value = "rating"
[time]
format = "epoch_s"
[action]
fixed = "rate"
"""


def floor(csv_file: Path, db_path: Path) -> float:
    start = time.perf_counter()
    table = pacsv.read_csv(csv_file)
    insert_ratings(db_path, table["user_id"].to_pylist(), table["item_id"].to_pylist(), table["ts"].to_pylist(),
                   table["rating"].to_pylist())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temporary folder)")
    parser.add_argument("--ratings", type=int, default=ML_1M.ratings, help="corpus size (default: ML-1M's)")
    args = parser.parse_args()
    spec = replace(ML_1M, ratings=args.ratings)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        corpus = generate_corpus(work / "generated", spec)
        archive = zip_release(corpus.folder, work / "ml-1m.zip")
        own_md5 = file_digests(archive)[1]  # a generated release, not the published ML-1M
        table, _ = parse_ratings(corpus.folder / "ratings.dat")
        log = pa.table({"user_id": table["user"], "item_id": table["item"], "rating": table["rating"],
                        "ts": table["ts"]})
        pacsv.write_csv(log, work / "log.csv")
        pq.write_table(log, work / "log.parquet")
        (work / "mapping.toml").write_text(MAPPING)
        mapping = load_mapping(work / "mapping.toml")
        print(f"corpus: {corpus.ratings:,} ratings, {corpus.users:,} users, {corpus.items:,} movies")

        floor_s = floor(work / "log.csv", work / "floor.sqlite")
        results = {}
        for name, run in (
            ("events csv", lambda s: collect_events(s, [str(work / "log.csv")], mapping, data_dir=work / "d1")),
            ("events parquet", lambda s: collect_events(s, [str(work / "log.parquet")], mapping,
                                                        data_dir=work / "d2")),
            ("movielens", lambda s: collect_movielens(s, "1m", data_dir=work / "d3", from_file=archive,
                                                             expected_md5=own_md5)),
        ):
            store = Store.open(f"sqlite:///{work / (name.replace(' ', '-') + '.sqlite')}")
            seconds, report = timed(lambda: run(store))
            assert report.stored["interactions"] == corpus.ratings, (name, report.stored)
            again, _ = timed(lambda: run(store))
            store.dispose()
            results[name] = (seconds, again)

    print(f"{'floor (pyarrow parse + sqlite3 executemany, 1 tx)':52s}: {floor_s:6.2f} s")
    for name, (seconds, again) in results.items():
        print(f"{name:52s}: {seconds:6.2f} s   {seconds / floor_s:.2f}x floor   "
              f"{corpus.ratings / seconds:>9,.0f} rows/s   re-run {again:.2f} s")
    events_s = results["events csv"][0]
    print(f"events csv / movielens: {events_s / results['movielens'][0]:.2f}x")


if __name__ == "__main__":
    main()
