"""The streamed build writes what a whole-table build writes, byte for byte, whatever its chunk size.

The reference here is the build as it was when it held every interaction in one pandas
frame (read, sort by natural ids, filter, split, one Arrow table per split, sliced into
shards): kept in this test only, it is what the streamed build must reproduce. The store
is filled directly, with what makes ordering and filtering hard: surrogate ids out of
natural order, numeric and non-numeric ids, several sources (prefixed ids), ties in time,
users with one or two interactions, missing context values and unlabelled interactions.
Shards and row groups are made tiny so that every dataset has several of each.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from timgen_contract.features import INTERACTIONS_FEATURES, arrow_schema
from timgen_data.dataset import BuildOptions, build_dataset, dataset, shards
from timgen_data.dataset.chunks import user_runs
from timgen_data.dataset.holiday_flags import country_of
from timgen_data.dataset.filters import min_interactions
from timgen_data.dataset.items import load_items
from timgen_data.dataset.sequences import Interactions, natural_key, natural_order, sort_interactions, with_bounds
from timgen_data.dataset.splits import SPLITS, given_split, leave_last_out, slice_positions, time_split
from timgen_data.errors import DiskFullError, UsageError
from timgen_data.store import Store, fetch_rows, in_clause

BASE_TS = 1_600_000_000
CHUNK_SIZES = (7, 1000, 65_536)


def fill_store(store: Store, seed: int = 3) -> None:
    """Three sources: ``events-a`` (numeric ids), ``events-b`` (text ids), ``events-c`` (never labelled)."""
    rng = np.random.default_rng(seed)
    with store.begin() as conn:
        for name in ("events-a", "events-b", "events-c"):
            conn.execute(text(
                "INSERT INTO sources (collector, variant, namespace, url, sha256, license, started_at, finished_at, "
                "status, counts) VALUES ('events', :n, :n, NULL, :sha, 'test', 1, 2, 'done', '{}')"),
                {"n": name, "sha": hashlib.sha256(name.encode()).hexdigest()})
        spec = {
            # Surrogate ids follow the order of insertion, deliberately not the natural one.
            "events-a": ([str(u) for u in rng.permutation([1, 2, 3, 7, 10, 11, 20, 100, 101, 5, 9, 30, 4, 64, 8])],
                         [str(i) for i in rng.permutation(np.arange(1, 30))]),
            "events-b": (["bob", "Alice", "alice", "zoë", "u10", "u9", "u100", "Bob", "ann", "x"],
                         ["x10", "x2", "x1", "Y", "é", "x20", "a", "b"]),
            "events-c": (["c1", "c2"], ["ci1", "ci2"]),
        }
        for source, (users, items) in spec.items():
            for k, user in enumerate(users):
                attributes = json.dumps({"age": 20 + k}) if source == "events-a" and k % 3 else "{}"
                conn.execute(text("INSERT INTO users (source, external_id, attributes) VALUES (:s, :e, :a)"),
                             {"s": source, "e": user, "a": attributes})
            for k, item in enumerate(items):
                conn.execute(text(
                    "INSERT INTO items (source, external_id, title, text, year, category, categories, attributes) "
                    "VALUES (:s, :e, :t, NULL, :y, :c, :cs, '{}')"),
                    {"s": source, "e": item, "t": f"title {item}", "y": 1990 + k if k % 2 else None,
                     "c": ["Drama", None, "Comedy"][k % 3], "cs": json.dumps(["Drama"] if k % 3 == 0 else [])})
        user_ids = {(s, e): i for i, s, e in fetch_rows(conn, "SELECT id, source, external_id FROM users")}
        item_ids = {(s, e): i for i, s, e in fetch_rows(conn, "SELECT id, source, external_id FROM items")}
        rows, seen = [], set()
        for source, (users, items) in spec.items():
            for k, user in enumerate(users):
                count = [1, 2, 3, 0][k] if k < 4 else int(rng.integers(3, 30))  # a user with none: unlabelled only
                for _ in range(max(count, 1)):
                    item = items[int(rng.integers(len(items)))]
                    ts = BASE_TS + 100 * int(rng.integers(0, 12))  # few distinct times: many ties
                    action = "rate" if rng.random() < 0.8 else "like"
                    key = (user_ids[source, user], item_ids[source, item], ts, action)
                    if key in seen:
                        continue
                    seen.add(key)
                    labelled = source != "events-c" and count > 0 and (k < 4 or rng.random() < 0.9)
                    dropped = k >= 4 and rng.random() < 0.05  # a label row without a score
                    score = None if not labelled or dropped else round(float(rng.random() * 5), 3)
                    rows.append({
                        "u": key[0], "i": key[1], "ts": ts, "a": action,
                        "v": None if rng.random() < 0.3 else float(rng.integers(1, 10)) / 3,
                        "d": [None, "tv", "phone"][int(rng.integers(3))], "p": [None, "web"][int(rng.integers(2))],
                        "g": [None, "DE", "FR"][int(rng.integers(3))],
                        "x": [None, "", "nice film"][int(rng.integers(3))], "labelled": labelled, "score": score,
                        "class": [None, "Drama", "Comedy", ""][int(rng.integers(4))],
                    })
        for row in rows:
            conn.execute(text(
                "INSERT INTO interactions (user_id, item_id, ts, action, value, device, platform, geo, text) "
                "VALUES (:u, :i, :ts, :a, :v, :d, :p, :g, :x)"), row)
        ids = {(u, i, t, a): n for n, u, i, t, a in
               fetch_rows(conn, "SELECT id, user_id, item_id, ts, action FROM interactions")}
        for row in rows:
            if row["labelled"]:
                conn.execute(text("INSERT INTO labels (interaction_id, scenario, score, class) "
                                  "VALUES (:n, 'movie', :s, :c)"),
                             {"n": ids[row["u"], row["i"], row["ts"], row["a"]], "s": row["score"], "c": row["class"]})


# --- the whole-table build, as it was ------------------------------------------------------------

_LABELLED_SQL = """
SELECT u.source, COUNT(*), COUNT(l.score) FROM interactions i JOIN users u ON u.id = i.user_id
LEFT JOIN labels l ON l.interaction_id = i.id AND l.scenario = :scenario
WHERE u.source IN ({sources}) GROUP BY u.source
"""
_REFERENCE_SQL = """
SELECT u.source, u.external_id, it.source, it.external_id, i.ts, i.action, i.device, i.platform, i.geo, i.value,
       i.text, l.score, l.class, i.utc_offset
FROM interactions i JOIN users u ON u.id = i.user_id JOIN items it ON it.id = i.item_id
JOIN labels l ON l.interaction_id = i.id AND l.scenario = :scenario
WHERE u.source IN ({sources}) AND l.score IS NOT NULL
"""
_LISTS = {"item_ids": "item", "timestamps": "ts", "actions": "action", "devices": "device", "platforms": "platform",
          "geos": "geo", "scores": "score", "classes": "class", "values": "value", "texts": "text",
          "utc_offsets": "utc_offset", "holidays": "geo"}


def reference_sources(store: Store, options: BuildOptions) -> tuple[tuple[str, ...], dict[str, int]]:
    """The sources with labels, and the interactions left out per source."""
    with store.begin() as conn:
        every = fetch_rows(conn, "SELECT DISTINCT source FROM users ORDER BY source")
        chosen = list(options.sources) or [s for (s,) in every]
        marks, names = in_clause("s", chosen)
        counts = fetch_rows(conn, _LABELLED_SQL.format(sources=marks), {**names, "scenario": options.scenario})
    scored = {s: n for s, _, n in counts}
    labelled = tuple(s for s in chosen if scored.get(s))
    return labelled, {s: total - scored for s, total, scored in sorted(counts) if total > scored}


def reference_interactions(store: Store, options: BuildOptions) -> Interactions:
    sources, _ = reference_sources(store, options)
    with store.begin() as conn:
        marks, names = in_clause("s", list(sources))
        rows = fetch_rows(conn, _REFERENCE_SQL.format(sources=marks), {**names, "scenario": options.scenario})
    frame = pd.DataFrame.from_records(rows, columns=["us", "user", "is", "item", "ts", "action", "device", "platform",
                                                     "geo", "value", "text", "score", "class", "utc_offset"])
    if len(sources) > 1:
        frame["user"] = frame["us"] + ":" + frame["user"]
        frame["item"] = frame["is"] + ":" + frame["item"]
    data = sort_interactions(frame.drop(columns=["us", "is"]))
    frame = data.frame
    for _ in range(100 if options.k_core > 1 else 0):
        keep = ((frame["user"].map(frame["user"].value_counts()) >= options.k_core)
                & (frame["item"].map(frame["item"].value_counts()) >= options.k_core))
        if keep.all():
            break
        frame = frame[keep.to_numpy()]
    return min_interactions(with_bounds(frame.reset_index(drop=True), sources), options.min_interactions)


def reference_split_labels(path: Path, data: Interactions) -> np.ndarray:
    given = pd.read_csv(path, dtype={"user_id": str, "item_id": str, "split": str})
    codes = given["split"].str.strip().str.lower().map({"train": 0, "validation": 1, "valid": 1, "test": 2,
                                                        "0": 0, "1": 1, "2": 2})
    lookup = pd.Series(codes.to_numpy(dtype=np.int8), index=pd.MultiIndex.from_arrays(
        [given["user_id"], given["item_id"], given["ts"].astype(np.int64)]))
    lookup = lookup[~lookup.index.duplicated(keep="first")]
    keys = pd.MultiIndex.from_arrays([data.frame["user"].astype(str), data.frame["item"].astype(str),
                                      data.frame["ts"].astype(np.int64)])
    return lookup.reindex(keys).to_numpy(dtype=np.int8)


def reference_splits(data: Interactions, options: BuildOptions):
    if options.split == "time":
        return time_split(data, options.valid_start, options.test_start)
    if options.split == "given":
        return given_split(data, reference_split_labels(Path(options.split_file), data))
    return leave_last_out(data)


def _calendar_reference(frame: pd.DataFrame, name: str) -> pa.Array:
    """The offsets as stored, and each interaction's holiday flag asked of the calendar one at a time."""
    offsets = [None if pd.isna(v) else int(v) for v in frame["utc_offset"]]
    if name == "utc_offsets":
        return pa.array(offsets, pa.int32())
    flags = []
    for ts, offset, geo in zip(frame["ts"].tolist(), offsets, frame["geo"].fillna("").tolist()):
        place = country_of(geo)
        day = datetime.fromtimestamp(int(ts) + 60 * (offset or 0), UTC).date()
        flags.append(None if place is None else day in holidays.country_holidays(place[0], subdiv=place[1]))
    return pa.array(flags, pa.bool_())


def reference_shards(data: Interactions, splits) -> dict[str, bytes]:
    """Every interactions shard as the whole-table writer wrote it: name → bytes."""
    frame = data.frame
    arrays = {}
    for name, column in _LISTS.items():
        kind = INTERACTIONS_FEATURES[name].feature.dtype
        if kind == "string":
            arrays[name] = pa.array(frame[column].fillna("").astype(str).to_numpy(dtype=object), type=pa.string())
        elif name in ("utc_offsets", "holidays"):
            arrays[name] = _calendar_reference(frame, name)
        elif kind == "float32":
            arrays[name] = pa.array(frame[column].to_numpy(dtype=np.float32, na_value=np.nan), type=pa.float32())
        else:
            arrays[name] = pa.array(frame[column].to_numpy(dtype=np.int64), type=pa.int64())
    written = {}
    for split in SPLITS:
        rows = splits[split]
        positions = pa.array(slice_positions(rows.starts, rows.ends))
        offsets = pa.array(np.r_[0, np.cumsum(rows.ends - rows.starts)].astype(np.int32))
        columns = {"user_id": pa.array(data.users[rows.users].astype(str).tolist(), type=pa.string())}
        for name in list(INTERACTIONS_FEATURES)[1:]:
            flat = pa.array(rows.is_target) if name == "is_target" else arrays[name].take(positions)
            columns[name] = pa.ListArray.from_arrays(offsets, flat)
        table = pa.Table.from_pydict(columns, schema=arrow_schema(INTERACTIONS_FEATURES))
        count = max(1, -(-table.num_rows // shards.ROWS_PER_SHARD))
        for index in range(count):
            sink = io.BytesIO()
            pq.write_table(table.slice(index * shards.ROWS_PER_SHARD, shards.ROWS_PER_SHARD), sink,
                           compression="zstd", row_group_size=shards.ROWS_PER_GROUP)
            written[f"interactions/{split}-{index:05d}-of-{count:05d}.parquet"] = sink.getvalue()
    return written


def reference_statistics(store: Store, data: Interactions, splits, options: BuildOptions) -> dict:
    frame, lengths = data.frame, np.diff(data.bounds)
    sources, left_out = reference_sources(store, options)
    with store.begin() as conn:
        items = load_items(conn, list(sources), set(frame["item"].unique()), prefixed=len(sources) > 1).items
    statistics = {
        "users": int(data.num_users), "items": int(len(items)), "interactions": int(len(frame)),
        "splits": {s: {"rows": int(r.num_rows), "targets": int(r.is_target.sum())} for s, r in splits.items()},
        "actions": {str(k): int(v) for k, v in frame["action"].value_counts().sort_index().items()},
        "classes": {str(k): int(v) for k, v in frame["class"].fillna("").value_counts().sort_index().items()},
        "length": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())},
        "score_range": [float(frame["score"].min()), float(frame["score"].max())],
        "time_span": [int(frame["ts"].min()), int(frame["ts"].max())],
    }
    if left_out:
        statistics["left_out_unlabelled"] = left_out
    return statistics


# --- the tests -------------------------------------------------------------------------------------

def contents(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def tiny_shards(monkeypatch):
    """Shards of 4 rows in row groups of 3: every split spans several files and row groups."""
    monkeypatch.setattr(shards, "ROWS_PER_SHARD", 4)
    monkeypatch.setattr(shards, "ROWS_PER_GROUP", 3)


def write_split_file(store: Store, path: Path, options: BuildOptions) -> None:
    """A split for every interaction the build keeps (by a fixed rule), plus rows the build must ignore."""
    data = reference_interactions(store, options)
    frame = data.frame
    codes = (frame["ts"] // 100 + frame.index) % 5
    split = np.where(codes < 3, "train", np.where(codes == 3, " Validation", "2"))
    given = pd.DataFrame({"user_id": frame["user"], "item_id": frame["item"], "ts": frame["ts"], "split": split})
    extra = pd.DataFrame({"user_id": ["nobody", frame["user"].iloc[0]], "item_id": ["x", frame["item"].iloc[0]],
                          "ts": [1, int(frame["ts"].iloc[0])], "split": ["test", "test"]})  # a duplicate: first counts
    pd.concat([given.iloc[::-1], extra]).to_csv(path, index=False)


CASES = {
    "leave-last-out, two sources": BuildOptions(),
    "numeric ids, min-interactions": BuildOptions(sources=("events-a",), min_interactions=3),
    "k-core": BuildOptions(k_core=3),
    "time split": BuildOptions(split="time", valid_start=BASE_TS + 450, test_start=BASE_TS + 850),
    "given split": BuildOptions(split="given", sources=("events-b",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_build_equals_the_whole_table_build_at_any_chunk_size(case, sqlite_store, tmp_path, tiny_shards):
    fill_store(sqlite_store)
    options = CASES[case]
    if options.split == "given":
        write_split_file(sqlite_store, tmp_path / "splits.csv", options)
        options = BuildOptions(split="given", sources=options.sources, split_file=str(tmp_path / "splits.csv"))
    data = reference_interactions(sqlite_store, options)
    splits = reference_splits(data, options)
    expected = reference_shards(data, splits)
    assert len(expected) > 3 * 2 and data.num_users > 8  # several shards per split, users enough to order

    built = [contents(build_dataset(sqlite_store, tmp_path / f"out-{n}", options, chunk_rows=n).path)
             for n in CHUNK_SIZES]
    assert {name: body for name, body in built[0].items() if name.startswith("interactions/")} == expected
    for other in built[1:]:
        assert other == built[0]  # every file, the card, build.json and stats.png included
    info = json.loads(built[0]["build.json"])
    assert info["statistics"] == reference_statistics(sqlite_store, data, splits, options)
    assert sorted(info["shards"]["interactions"]["train"]) == sorted(n for n in expected if "/train-" in n)


def test_streamed_build_is_the_same_on_postgresql_and_sqlite(store, tmp_path, tiny_shards):
    fill_store(store)
    options = BuildOptions(k_core=2)
    data = reference_interactions(store, options)
    expected = reference_shards(data, reference_splits(data, options))
    out = build_dataset(store, tmp_path / "out", options, chunk_rows=7).path
    assert {k: v for k, v in contents(out).items() if k.startswith("interactions/")} == expected


def test_users_come_in_natural_order_and_ties_by_item_then_action(sqlite_store, tmp_path):
    fill_store(sqlite_store)
    out = build_dataset(sqlite_store, tmp_path / "a", BuildOptions(sources=("events-a",)), chunk_rows=7).path
    rows = pq.read_table(out / "interactions" / "train-00000-of-00001.parquet").to_pylist()
    users = [r["user_id"] for r in rows]
    # "2" before "10"; the user with nothing labelled is not there
    assert users == sorted(users, key=int) and len(users) == 14
    test = pq.read_table(out / "interactions" / "test-00000-of-00001.parquet").column("user_id").to_pylist()
    train_only = [r for r in rows if r["user_id"] not in test]
    assert sorted(len(r["item_ids"]) for r in train_only) == [1, 2]  # fewer than 3 interactions: train only
    for row in rows:
        keys = list(zip(row["timestamps"], map(int, row["item_ids"]), row["actions"]))
        assert keys == sorted(keys)


def test_a_split_file_lacking_an_interaction_is_one_error_and_nothing_is_replaced(sqlite_store, tmp_path):
    fill_store(sqlite_store)
    options = BuildOptions(split="given", sources=("events-b",))
    write_split_file(sqlite_store, tmp_path / "splits.csv", options)
    given = pd.read_csv(tmp_path / "splits.csv", dtype=str)
    given.drop(index=[3, 4]).to_csv(tmp_path / "short.csv", index=False)
    out = build_dataset(sqlite_store, tmp_path / "out", BuildOptions(sources=("events-b",))).path
    before = contents(out)
    with pytest.raises(UsageError, match=r"has no split for 2 interaction\(s\), e\.g\. user '") as error:
        build_dataset(sqlite_store, out, BuildOptions(split="given", sources=("events-b",),
                                                      split_file=str(tmp_path / "short.csv")), chunk_rows=7)
    missing = given.iloc[[3, 4]]
    first = error.value.args[0].split("e.g. user ")[1]
    assert any(first.startswith(f"{row.user_id!r}, item {row.item_id!r}, ts {row.ts}") for row in missing.itertuples())
    assert contents(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    given.assign(split=["train"] + ["later"] * (len(given) - 1)).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UsageError, match="split 'later' is not train/validation/test"):
        build_dataset(sqlite_store, out, BuildOptions(split="given", sources=("events-b",),
                                                      split_file=str(tmp_path / "bad.csv")))
    given.drop(columns=["ts"]).to_csv(tmp_path / "no-ts.csv", index=False)
    with pytest.raises(UsageError, match=r"lacks the column\(s\) ts"):
        build_dataset(sqlite_store, out, BuildOptions(split="given", sources=("events-b",),
                                                      split_file=str(tmp_path / "no-ts.csv")))
    assert contents(out) == before


@pytest.mark.parametrize("ids", [
    ["10", "2", "1", "01", "100"],  # digits: as numbers, "01" and "1" in their order
    ["u10", "u9", "Bob", "alice", "é", "a:1"],  # text: by code point
    ["movielens-1m:10", "movielens-1m:9", "events-a:2"],  # prefixed ids are text
    [" 5", "1e3", "2", "+7"],  # numbers pandas reads only through its own parser
    ["1", "nan", "2"], ["inf", "3"], ["99999999999999999999", "5"], ["1_000", "2"],
])
def test_natural_order_in_arrow_is_the_natural_key_order(ids):
    expected = np.argsort(natural_key(pd.Series(ids, dtype=object)).to_numpy(), kind="stable")
    assert natural_order(pa.array(ids)).tolist() == expected.tolist()


def test_user_runs_cover_every_user_once_in_runs_of_about_the_chunk_size():
    rows = np.random.default_rng(0).integers(1, 40, size=500)
    for size in (1, 7, 100, 10_000):
        runs = list(user_runs(rows, size))
        assert [s for s, _ in runs] == [0] + [e for _, e in runs[:-1]] and runs[-1][1] == len(rows)
        assert all(rows[s:e].sum() - rows[e - 1] < size for s, e in runs)  # a run ends once it has enough


def test_a_full_disk_mid_stream_is_one_error_with_the_room_needed(sqlite_store, tmp_path, tiny_shards, monkeypatch):
    fill_store(sqlite_store)
    out = build_dataset(sqlite_store, tmp_path / "out", BuildOptions()).path
    before = contents(out)
    written = []

    def full_after_three(self, table, row_group_size=None):
        if len(written) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(table.num_rows)
        return original(self, table, row_group_size=row_group_size)

    original = pq.ParquetWriter.write_table
    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_after_three)
    with pytest.raises(DiskFullError, match="needs about"):
        build_dataset(sqlite_store, out, BuildOptions(), chunk_rows=7)
    assert len(written) == 3 and contents(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_every_pass_of_a_build_reads_the_store_as_it_was_at_the_first(store, tmp_path, monkeypatch):
    fill_store(store)
    before = contents(build_dataset(store, tmp_path / "before", BuildOptions()).path)
    selecting = dataset.select

    def select_then_someone_writes(*args, **kwargs):
        selection = selecting(*args, **kwargs)
        with store.begin() as conn:  # another command commits while the build streams
            [(user, item)] = fetch_rows(conn, "SELECT MIN(user_id), MIN(item_id) FROM interactions")
            conn.execute(text("INSERT INTO interactions (user_id, item_id, ts, action) VALUES (:u, :i, 1, 'rate')"),
                         {"u": user, "i": item})
            conn.execute(text("INSERT INTO labels (interaction_id, scenario, score, class) "
                              "SELECT id, 'movie', 1.0, NULL FROM interactions WHERE ts = 1"))
        return selection

    monkeypatch.setattr(dataset, "select", select_then_someone_writes)
    during = contents(build_dataset(store, tmp_path / "during", BuildOptions(), chunk_rows=7).path)
    assert during == before
    monkeypatch.setattr(dataset, "select", selecting)
    after = build_dataset(store, tmp_path / "after", BuildOptions()).statistics
    assert after["interactions"] == json.loads(before["build.json"])["statistics"]["interactions"] + 1
