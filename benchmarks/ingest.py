"""Ingest benchmark on an ML-1M-sized corpus: collect and build against the floor.

Generates 1,000,209 ratings by 6,040 users of 3,706 movies in the ML-1M layout
(``::``-separated, latin-1 movies.dat), then measures in one run:

- collect: ``collect_movielens`` from that archive (extract, parse, store: users, items,
  interactions with their unique key, cursor, sources row);
- build: ``build_dataset`` (leave-last-out, Parquet, card, plot) after ``label``;
- floor: pyarrow parse of ratings.dat plus one raw ``sqlite3`` executemany of the same
  rows, in one transaction, into the same ``interactions`` table (schema.sql's DDL, the
  store's pragmas).

Targets: collect <= 1.5x floor; build <= 1.0x collect.

    python benchmarks/ingest.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from floor import insert_ratings, timed  # benchmarks/floor.py, beside this script

from timgen_data.collectors.movielens import collect_movielens
from timgen_data.collectors.movielens.ratings import parse_ratings
from timgen_data.dataset import BuildOptions, build_dataset
from timgen_data.demo.corpus import CorpusSpec, generate_corpus, zip_release
from timgen_data.downloads.checksums import file_digests
from timgen_data.labeling import label_store
from timgen_data.store import Store

ML_1M = CorpusSpec(users=6040, items=3706, ratings=1_000_209, seed=1, layout="1m")


def floor(ratings_file: Path, db_path: Path) -> float:
    """pyarrow parse + raw sqlite3 executemany of the same rows in one transaction."""
    start = time.perf_counter()
    table, _ = parse_ratings(ratings_file)
    insert_ratings(db_path, map(int, table["user"].to_pylist()), map(int, table["item"].to_pylist()),
                   table["ts"].to_pylist(), table["rating"].to_pylist())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        gen_s, corpus = timed(lambda: generate_corpus(work / "generated", ML_1M))
        archive = zip_release(corpus.folder, work / "ml-1m.zip")
        own_md5 = file_digests(archive)[1]  # a generated release, not the published ML-1M
        print(f"corpus: {corpus.ratings:,} ratings, {corpus.users:,} users, {corpus.items:,} movies "
              f"(generated in {gen_s:.1f} s)")

        floor_s = floor(corpus.folder / "ratings.dat", work / "floor.sqlite")
        store = Store.open(f"sqlite:///{work / 'store.sqlite'}")
        collect_s, report = timed(lambda: collect_movielens(store, "1m", data_dir=work / "data", from_file=archive,
                                                                   expected_md5=own_md5))
        assert report.stored["interactions"] == ML_1M.ratings, report.stored
        label_s, _ = timed(lambda: label_store(store, "movie"))
        build_s, _ = timed(lambda: build_dataset(store, work / "out", BuildOptions(min_interactions=5)))
        store.dispose()

    print(f"floor   (pyarrow parse + sqlite3 executemany, 1 tx): {floor_s:6.2f} s")
    print(f"collect (extract + parse + store)                  : {collect_s:6.2f} s   "
          f"{collect_s / floor_s:.2f}x floor (target <= 1.5x)")
    print(f"label   (movie scenario)                           : {label_s:6.2f} s")
    print(f"build   (leave-last-out, Parquet + card + plot)    : {build_s:6.2f} s   "
          f"{build_s / collect_s:.2f}x collect (target <= 1.0x)")


if __name__ == "__main__":
    main()
