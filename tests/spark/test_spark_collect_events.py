"""``collect events --engine spark`` stores what the local collector stores, reading Parquet logs through Spark."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from timgen_data.collectors.events import EventValueError, MappingError, collect_events, load_mapping
from timgen_data.collectors.events import collector as events_collector
from timgen_data.collectors.events.spark_engine import collect_events_spark
from timgen_data.store import Store, fetch_rows, rating_scales

# Every action, by the platform's names and by ours (our own names map to themselves).
THEIRS = {"page_view": "click", "add_to_cart": "cart", "order": "purchase", "review": "comment", "watch": "view",
          "like": "like", "share": "share", "rate": "rate"}
BASE = """\
name = "shop"
[columns]
user = "customer_id"
item = "sku"
time = "event_time"
action = "event"
value = "amount"
duration = "length_ms"
device = "device"
platform = "app"
geo = "country"
category = "category"
title = "title"
text = "review"
[scale]
duration = 0.001
[action.values]
page_view = "click"
add_to_cart = "cart"
order = "purchase"
review = "comment"
watch = "view"
"""
# The time column written four ways, with the [time] table that reads it.
TIMES = {
    "strftime": ('[time]\nformat = "%d/%m/%Y %H:%M:%S"\nzone = "Europe/Berlin"\n',
                 lambda t: t.tz_localize(None).strftime("%d/%m/%Y %H:%M:%S")),
    "iso8601": ('[time]\nformat = "iso8601"\nzone = "America/New_York"\n',
                lambda t: t.isoformat() if t.second % 2 else t.tz_localize(None).isoformat()),
    "epoch_ms": ('[time]\nformat = "epoch_ms"\n', lambda t: int(t.timestamp() * 1000)),
    "typed": ('[time]\nzone = "Asia/Kolkata"\n', lambda t: t.tz_localize(None)),  # a naive Parquet timestamp
}


def write_logs(folder: Path, time_kind: str, rows: int = 240, files: int = 3, seed: int = 1) -> list[Path]:
    """Parquet logs of every action and optional column, ``files`` files of ``rows`` rows in all."""
    rng = random.Random(seed)
    to_time = TIMES[time_kind][1]
    records = []
    for _ in range(rows):
        event = rng.choice(list(THEIRS))
        t = pd.Timestamp(1_700_000_000 + rng.randrange(10_000_000), unit="s", tz="UTC")
        records.append({
            "customer_id": rng.randrange(40),  # numbers: stored as their text, as locally
            "sku": f"p{rng.randrange(25)}",
            "event_time": to_time(t),
            "event": event,
            "amount": round(rng.uniform(0.5, 99.0), 2) if THEIRS[event] in ("view", "rate", "purchase") else None,
            "length_ms": rng.choice((None, 60_000, 47_300)) if event == "watch" else None,
            "device": rng.choice((None, "mobile", "desktop")),
            "app": rng.choice((None, "ios", "web")),
            "country": rng.choice((None, "DE", "IN")),
            "category": rng.choice((None, "Books", "Toys")),
            "title": rng.choice((None, "A title", " Another ")),
            "review": "good stuff" if event == "review" else None,
        })
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(records)
    paths = []
    for k in range(files):
        path = folder / f"part {k}.parquet"  # a space: Spark names files by URL-encoded URIs
        pq.write_table(pa.Table.from_pandas(frame.iloc[k::files], preserve_index=False), path)
        paths.append(path)
    return paths


def mapping_for(tmp_path: Path, time_kind: str, extra: str = ""):
    path = tmp_path / f"mapping-{time_kind}.toml"
    path.write_text(BASE + extra + TIMES[time_kind][0])
    return load_mapping(path)


def contents(store: Store) -> dict[str, set[tuple]]:
    with store.begin() as conn:
        return {
            "interactions": set(map(tuple, fetch_rows(conn, """
                SELECT u.external_id, i.external_id, x.ts, x.action, x.value, x.duration, x.device, x.platform, x.geo,
                       x.text
                FROM interactions x JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id"""))),
            "items": set(map(tuple, fetch_rows(conn, "SELECT source, external_id, title, category, categories "
                                                     "FROM items"))),
            "users": set(map(tuple, fetch_rows(conn, "SELECT source, external_id FROM users"))),
        }


def other_store(tmp_path: Path, name: str) -> Store:
    return Store.open(f"sqlite:///{tmp_path / name}")


@pytest.mark.parametrize("time_kind", list(TIMES))
def test_spark_stores_what_the_local_collector_stores(store, spark, workdir, tmp_path, time_kind):
    paths = write_logs(tmp_path / "logs", time_kind)
    mapping = mapping_for(tmp_path, time_kind)
    local_store = other_store(tmp_path, "local.sqlite")
    local = collect_events(local_store, [str(p) for p in paths], mapping, data_dir=tmp_path / "data", batch_rows=50)
    report = collect_events_spark(spark, store, [str(tmp_path / "logs")], mapping, workdir=workdir, batch_rows=50)
    expected = contents(local_store)
    assert len(expected["interactions"]) > 200 and {row[3] for row in expected["interactions"]} == set(THEIRS.values())
    assert contents(store) == expected
    assert (report.read, report.written, report.stored, report.skipped) == (
        local.read, local.written, local.stored, local.skipped)
    assert list(workdir.iterdir()) == []
    again = collect_events_spark(spark, store, [str(tmp_path / "logs")], mapping, workdir=workdir)
    assert again.read["rows"] == 0 and again.skipped["files_already_stored"] == 3
    assert again.written == {"users": 0, "items": 0, "interactions": 0}
    local_store.dispose()


def test_a_bad_value_fails_before_anything_is_stored_with_the_local_message(sqlite_store, spark, workdir, tmp_path):
    [path] = write_logs(tmp_path / "logs", "strftime", rows=30, files=1)
    table = pq.read_table(path).to_pandas()
    table.loc[17, "event_time"] = "31/02/2026 10:00:00"
    table.loc[25, "event_time"] = "yesterday"
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)
    mapping = mapping_for(tmp_path, "strftime")
    with pytest.raises(EventValueError) as local:
        collect_events(other_store(tmp_path, "local.sqlite"), [str(path)], mapping, data_dir=tmp_path / "d",
                       batch_rows=10)
    with pytest.raises(EventValueError) as remote:
        collect_events_spark(spark, sqlite_store, [str(path)], mapping, workdir=workdir, batch_rows=10)
    assert str(remote.value) == str(local.value)
    assert "row 18" in str(remote.value) and "'31/02/2026 10:00:00'" in str(remote.value)
    assert contents(sqlite_store) == {"interactions": set(), "items": set(), "users": set()}

    skipping = load_mapping(write_mapping(tmp_path, BASE.replace('name = "shop"', 'name = "shop"\non_error = "skip"')
                                          + TIMES["strftime"][0]))
    local_store = other_store(tmp_path, "skip.sqlite")
    expected = collect_events(local_store, [str(path)], skipping, data_dir=tmp_path / "d", batch_rows=10)
    report = collect_events_spark(spark, sqlite_store, [str(path)], skipping, workdir=workdir, batch_rows=10)
    assert report.rejections.count == expected.rejections.count == 2
    assert report.as_dict()["rejected"] == expected.as_dict()["rejected"]
    assert contents(sqlite_store) == contents(local_store)


def write_mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping-custom.toml"
    path.write_text(text)
    return path


def test_a_missing_column_is_named_before_anything_is_stored(sqlite_store, spark, workdir, tmp_path):
    [path] = write_logs(tmp_path / "logs", "epoch_ms", rows=10, files=1)
    mapping = load_mapping(write_mapping(tmp_path, BASE.replace('geo = "country"', 'geo = "region"')
                                         + TIMES["epoch_ms"][0]))
    with pytest.raises(MappingError) as local:
        collect_events(other_store(tmp_path, "local.sqlite"), [str(path)], mapping, data_dir=tmp_path / "d")
    with pytest.raises(MappingError) as remote:
        collect_events_spark(spark, sqlite_store, [str(path)], mapping, workdir=workdir)
    assert str(remote.value) == str(local.value)


def test_a_killed_run_then_rerun_equals_one_clean_run_and_file_uris_work(sqlite_store, spark, workdir, tmp_path,
                                                                       monkeypatch):
    paths = write_logs(tmp_path / "logs", "epoch_ms", rows=90, files=2)
    mapping = mapping_for(tmp_path, "epoch_ms")
    clean = other_store(tmp_path, "clean.sqlite")
    collect_events_spark(spark, clean, [str(p) for p in paths], mapping, workdir=workdir, batch_rows=7)
    real_save = events_collector._save_rows
    calls = {"n": 0}

    def dying_save(conn, rows, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed inside the third batch's transaction
        real_save(conn, rows, *args)

    monkeypatch.setattr(events_collector, "_save_rows", dying_save)
    uri = (tmp_path / "logs").as_uri() + "/*.parquet"  # file://…, standing in for s3a:// or dbfs:/
    with pytest.raises(KeyboardInterrupt):
        collect_events_spark(spark, sqlite_store, [uri], mapping, workdir=workdir, batch_rows=7)
    assert len(contents(sqlite_store)["interactions"]) == 14
    monkeypatch.setattr(events_collector, "_save_rows", real_save)
    report = collect_events_spark(spark, sqlite_store, [uri], mapping, workdir=workdir, batch_rows=7)
    assert report.resumed_from == 14 and report.skipped["duplicates"] == 0
    assert report.read["rows"] == 90 - 14
    assert contents(sqlite_store) == contents(clean)
    assert collect_events_spark(spark, sqlite_store, [uri], mapping, workdir=workdir).read["rows"] == 0


def test_cli_collects_with_the_spark_engine(spark, tmp_path):
    from click.testing import CliRunner

    from timgen_data.cli import cli

    write_logs(tmp_path / "logs", "iso8601", rows=20, files=2)
    mapping = write_mapping(tmp_path, BASE + TIMES["iso8601"][0])
    args = ["--data-dir", str(tmp_path / "data"), "collect", "events", "--engine", "spark", "--path",
            str(tmp_path / "logs"), "--mapping", str(mapping), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert '"interactions": 20' in result.output
    missing = CliRunner().invoke(cli, [*args[:7], str(tmp_path / "nope"), *args[8:]])
    assert missing.exit_code == 2 and "nope" in missing.output and "Traceback" not in missing.output


def test_item_ids_in_a_sources_form_and_the_rating_scale_as_locally(sqlite_store, spark, workdir, tmp_path):
    # MovieTweetings' shape as Parquet: IMDb numbers without "tt", ratings 0–10.
    rng = random.Random(3)
    frame = pd.DataFrame({"user_id": [str(rng.randrange(9)) for _ in range(60)],
                          "movie_id": [f"{rng.randrange(10**7):07d}" for _ in range(60)],
                          "rating": [rng.randrange(11) for _ in range(60)],
                          "rating_timestamp": [1_362_000_000 + n for n in range(60)]})
    (tmp_path / "logs").mkdir()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "logs" / "ratings.parquet")
    path = tmp_path / "mapping.toml"
    path.write_text('name = "mt"\nrating_scale = [0, 10]\n[columns]\nuser = "user_id"\nitem = "movie_id"\n'
                    'time = "rating_timestamp"\nvalue = "rating"\n[action]\nfixed = "rate"\n[time]\n'
                    'format = "epoch_s"\n[item_ids]\nformat = "tt%07d"\nlink = "imdb"\n')
    mapping = load_mapping(path)
    local_store = other_store(tmp_path, "local.sqlite")
    collect_events(local_store, [str(tmp_path / "logs")], mapping, data_dir=tmp_path / "data")
    collect_events_spark(spark, sqlite_store, [str(tmp_path / "logs")], mapping, workdir=workdir)

    def links_and_scale(store: Store):
        with store.begin() as conn:
            links = set(map(tuple, fetch_rows(conn, "SELECT i.external_id, l.target_source, l.target_external_id "
                                                    "FROM item_links l JOIN items i ON i.id = l.item_id")))
            return links, rating_scales(conn)

    expected = contents(local_store)
    assert {row[1] for row in expected["interactions"]} == {f"tt{m}" for m in frame["movie_id"]}
    assert contents(sqlite_store) == expected
    assert links_and_scale(sqlite_store) == links_and_scale(local_store) == (
        {(f"tt{m}", "imdb", f"tt{m}") for m in frame["movie_id"]}, {"events-mt": (0.0, 10.0)})
    local_store.dispose()
