"""``collect events``: mapping validation, the documented errors (storing nothing), formats, resume."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.support.http_server import LoopbackServer
from timgen_data.cli import cli
from timgen_data.collectors.events import (
    EventValueError,
    MappingError,
    UnmappedActionError,
    collect_events,
    load_mapping,
)
from timgen_data.collectors.events import collector as events_collector
from timgen_data.errors import ConfigError, UsageError
from timgen_data.store import fetch_rows

SHOP_CSV = """\
customer_id,sku,event_time,event,amount,device,category
u1,p10,2026-03-01 10:00:00,page_view,,mobile,Books
u1,p10,2026-03-01 10:01:00,add_to_cart,,mobile,Books
u1,p10,2026-03-01 10:02:00,order,19.99,mobile,Books
u1,p10,2026-03-01 10:05:00,review,5,mobile,Books
u1,p11,2026-03-01 10:06:40,page_view,,desktop,Toys
u2,p10,2026-10-25 02:30:00,page_view,,,Books
"""

SHOP_MAPPING = """\
name = "shop"
[columns]
user = "customer_id"
item = "sku"
time = "event_time"
action = "event"
value = "amount"
device = "device"
category = "category"
[time]
format = "%Y-%m-%d %H:%M:%S"
zone = "Europe/Berlin"
[action.values]
page_view = "click"
add_to_cart = "cart"
order = "purchase"
review = "comment"
"""


def utc(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


# Berlin is UTC+1 in March; 2026-10-25 02:30 happens twice (DST ends at 03:00 CEST): the first is 00:30 UTC.
EXPECTED = {
    ("u1", "p10", utc(2026, 3, 1, 9, 0), "click", None, "mobile"),
    ("u1", "p10", utc(2026, 3, 1, 9, 1), "cart", None, "mobile"),
    ("u1", "p10", utc(2026, 3, 1, 9, 2), "purchase", 19.99, "mobile"),
    ("u1", "p10", utc(2026, 3, 1, 9, 5), "comment", 5.0, "mobile"),
    ("u1", "p11", utc(2026, 3, 1, 9, 6, 40), "click", None, "desktop"),
    ("u2", "p10", utc(2026, 10, 25, 0, 30), "click", None, None),
}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def stored(store, namespace: str = "events-shop") -> set[tuple]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.external_id, i.external_id, x.ts, x.action, x.value, x.device "
                                "FROM interactions x JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id "
                                "WHERE i.source = :ns", {"ns": namespace})
    return {tuple(r) for r in rows}


def table_counts(store) -> dict[str, int]:
    with store.begin() as conn:
        return {t: fetch_rows(conn, f"SELECT COUNT(*) FROM {t}")[0][0]
                for t in ("users", "items", "interactions", "sources", "collection_state")}


def test_shop_log_is_stored_with_zone_and_action_map(store, tmp_path):
    mapping = load_mapping(write(tmp_path / "mapping.toml", SHOP_MAPPING))
    report = collect_events(store, [str(write(tmp_path / "shop.csv", SHOP_CSV))], mapping, data_dir=tmp_path)
    assert stored(store) == EXPECTED
    assert report.stored == {"users": 2, "items": 2, "interactions": 6}
    assert report.rejections.count == 0
    with store.begin() as conn:
        assert dict(fetch_rows(conn, "SELECT external_id, category FROM items")) == {"p10": "Books", "p11": "Toys"}
        assert fetch_rows(conn, "SELECT collector, variant, namespace, status FROM sources") == [
            ("events", "shop", "events-shop", "complete")]
    again = collect_events(store, [str(tmp_path / "shop.csv")], mapping, data_dir=tmp_path)
    assert again.read["rows"] == 0 and again.skipped["files_already_stored"] == 1
    assert stored(store) == EXPECTED


def test_same_log_as_csv_gz_jsonl_and_parquet_stores_the_same(sqlite_store, tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(SHOP_CSV), dtype=str, keep_default_na=False)
    gz = tmp_path / "shop.csv.gz"
    gz.write_bytes(gzip.compress(SHOP_CSV.encode()))
    jsonl = tmp_path / "shop.jsonl"
    with open(jsonl, "w") as fh:
        for record in frame.to_dict("records"):
            record = {k: (v if v != "" else None) for k, v in record.items()}
            record["amount"] = float(record["amount"]) if record["amount"] else None  # numbers stay numbers
            fh.write(json.dumps(record) + "\n")
    parquet = tmp_path / "shop.parquet"
    typed = frame.replace("", None)
    # Parquet keeps naive timestamps typed; the mapping's zone still applies to them.
    typed["event_time"] = pd.to_datetime(typed["event_time"])
    typed["amount"] = pd.to_numeric(typed["amount"])
    pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), parquet)
    mapping_text = SHOP_MAPPING
    for name, path in (("gz", gz), ("jsonl", jsonl), ("parquet", parquet)):
        mapping = load_mapping(write(tmp_path / "m.toml", mapping_text.replace('name = "shop"', f'name = "{name}"')))
        collect_events(sqlite_store, [str(path)], mapping, data_dir=tmp_path)
        assert stored(sqlite_store, f"events-{name}") == EXPECTED, name


def test_wrong_column_name_names_it_shows_a_row_and_stores_nothing(sqlite_store, tmp_path):
    mapping = load_mapping(write(tmp_path / "m.toml", SHOP_MAPPING.replace('item = "sku"', 'item = "product"')))
    good = write(tmp_path / "a.csv", SHOP_CSV)
    bad = write(tmp_path / "b.csv", SHOP_CSV.replace("sku", "product_id"))
    before = table_counts(sqlite_store)
    with pytest.raises(MappingError) as caught:
        collect_events(sqlite_store, [str(good), str(bad)], mapping, data_dir=tmp_path)
    message = str(caught.value)
    assert "columns.item = 'product'" in message and "'sku'" in message  # what it asked for, what there is
    assert '"customer_id": "u1"' in message and "Nothing was stored" in message
    assert table_counts(sqlite_store) == before


def test_time_that_does_not_parse_on_the_last_line_stores_nothing(sqlite_store, tmp_path):
    log = SHOP_CSV + "u3,p12,2026-02-30 10:00:00,page_view,,mobile,Books\n"
    mapping = load_mapping(write(tmp_path / "m.toml", SHOP_MAPPING))
    before = table_counts(sqlite_store)
    with pytest.raises(EventValueError) as caught:
        # Two rows a batch: the bad value sits in the fourth batch, after three that would have fit.
        collect_events(sqlite_store, [str(write(tmp_path / "shop.csv", log))], mapping, data_dir=tmp_path,
                       batch_rows=2)
    message = str(caught.value)
    assert "shop.csv line 8" in message and "'event_time'" in message and "'2026-02-30 10:00:00'" in message
    assert "%Y-%m-%d %H:%M:%S" in message and '"customer_id": "u3"' in message
    assert table_counts(sqlite_store) == before


def test_skip_mode_rejects_bad_rows_with_their_lines(sqlite_store, tmp_path):
    log = SHOP_CSV + "u3,p12,yesterday-ish,page_view,,mobile,Books\nu3,p12,2026-03-02 10:00:00,page_view\n" \
        "u3,,2026-03-02 10:00:00,page_view,,mobile,Books\nu3,p12,2026-03-02 11:00:00,order,lots,mobile,Books\n"
    mapping = load_mapping(write(tmp_path / "m.toml", 'on_error = "skip"\n' + SHOP_MAPPING))
    report = collect_events(sqlite_store, [str(write(tmp_path / "shop.csv", log))], mapping, data_dir=tmp_path)
    assert stored(sqlite_store) == EXPECTED
    reasons = {r.line: r.reason for r in report.rejections.kept}
    assert sorted(reasons) == [8, 9, 10, 11]
    assert "does not match time.format" in reasons[8]
    assert "has 4 fields where the header has 7" in reasons[9]
    assert "'sku' (item) is empty" in reasons[10]
    assert "'amount' (value) holds 'lots'" in reasons[11]


def test_unmapped_actions_are_an_error_or_counted_when_skipped(sqlite_store, tmp_path):
    log = SHOP_CSV + "u1,p10,2026-03-01 10:07:00,wishlist,,mobile,Books\n"
    path = write(tmp_path / "shop.csv", log)
    with pytest.raises(UnmappedActionError, match=r"line 8.*'wishlist'.*\[action.values\]"):
        collect_events(sqlite_store, [str(path)], load_mapping(write(tmp_path / "m.toml", SHOP_MAPPING)),
                       data_dir=tmp_path)
    assert table_counts(sqlite_store)["interactions"] == 0
    skipping = SHOP_MAPPING.replace("[action.values]", '[action]\nunmapped = "skip"\n[action.values]')
    report = collect_events(sqlite_store, [str(path)], load_mapping(write(tmp_path / "m.toml", skipping)),
                            data_dir=tmp_path)
    assert report.skipped["action 'wishlist' not mapped"] == 1
    assert stored(sqlite_store) == EXPECTED


@pytest.mark.parametrize(("text", "expected"), [
    ('[columns]\nuser = "u"\nitem = "i"\n', "columns.time: required"),
    ('[columns]\nuser = "u"\nitem = "i"\ntime = "t"\naction = "a"\ncolour = "c"\n', "columns.colour: unknown key"),
    ('[columns]\nuser = "u"\nitem = "i"\ntime = "t"\naction = "a"\n[action.values]\nbuy = "purchased"\n',
     "'buy' = 'purchased': the right-hand side must be one of"),
    ('[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n', "give exactly one of columns.action"),
    ('[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n[action]\nfixed = "view"\n[time]\nzone = "Mars/Olympus"\n',
     "time.zone"),
    ('[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n[action]\nfixed = "view"\n[time]\nformat = "dd/mm/yyyy"\n',
     "time.format"),
    ('[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n[action]\nfixed = "view"\n[scale]\nvalue = 0\n', "scale.value"),
    ('[columns\nuser = "u"', "not valid TOML"),
])
def test_mapping_is_validated_on_load(tmp_path, text, expected):
    with pytest.raises(ConfigError) as caught:
        load_mapping(write(tmp_path / "m.toml", text))
    assert expected in str(caught.value)


def test_epochs_iso_offsets_and_scales(sqlite_store, tmp_path):
    lines = [
        {"uid": 7, "vid": "v1", "at": 1767225600123, "watch_ms": 30000, "len_ms": 120000},
        {"uid": 7, "vid": "v1", "at": 1767225660000, "watch_ms": 60000, "len_ms": 120000},
        {"uid": 8.0, "vid": "v2", "at": 1767225600000, "watch_ms": None, "len_ms": 100000},
    ]
    path = tmp_path / "views.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n\n")
    mapping = load_mapping(write(tmp_path / "m.toml", """\
name = "tv"
[columns]
user = "uid"
item = "vid"
time = "at"
value = "watch_ms"
duration = "len_ms"
[action]
fixed = "view"
[scale]
value = 0.001
duration = 0.001
"""))
    collect_events(sqlite_store, [str(path)], mapping, data_dir=tmp_path)
    with sqlite_store.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.external_id, x.ts, x.action, x.value, x.duration FROM interactions x "
                                "JOIN users u ON u.id = x.user_id ORDER BY x.ts, u.external_id")
    assert rows == [("7", 1767225600, "view", 30.0, 120.0), ("8", 1767225600, "view", None, 100.0),
                    ("7", 1767225660, "view", 60.0, 120.0)]


def test_iso_times_with_and_without_offsets(sqlite_store, tmp_path):
    log = ("u,i,t\n"
           "a,x,2026-01-05T10:20:30Z\n"
           "a,y,2026-01-05T10:20:30+05:30\n"
           "a,z,2026-01-05T10:20:30\n"          # no offset: the mapping's zone (New York, UTC-5 in January)
           "b,x,\"Mon, 05 Jan 2026 10:20:30 GMT\"\n")  # auto also reads RFC 2822
    mapping = load_mapping(write(tmp_path / "m.toml", '[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n'
                                                      '[action]\nfixed = "click"\n[time]\nzone = "America/New_York"\n'))
    collect_events(sqlite_store, [str(write(tmp_path / "iso.csv", log))], mapping, data_dir=tmp_path)
    with sqlite_store.begin() as conn:
        got = dict(((u, i), ts) for u, i, ts in fetch_rows(
            conn, "SELECT u.external_id, i.external_id, x.ts FROM interactions x JOIN users u ON u.id = x.user_id "
                  "JOIN items i ON i.id = x.item_id"))
    assert got == {("a", "x"): utc(2026, 1, 5, 10, 20, 30), ("a", "y"): utc(2026, 1, 5, 4, 50, 30),
                   ("a", "z"): utc(2026, 1, 5, 15, 20, 30), ("b", "x"): utc(2026, 1, 5, 10, 20, 30)}


def test_epoch_unit_mixup_and_out_of_range_are_errors(sqlite_store, tmp_path):
    mapping = load_mapping(write(tmp_path / "m.toml", '[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n'
                                                      '[action]\nfixed = "click"\n'))
    mixed = write(tmp_path / "mixed.csv", "u,i,t\na,x,1767225600000\na,y,1767225600\n")
    with pytest.raises(EventValueError, match=r"line 3.*looks like epoch seconds while other rows look like "
                                              r"milliseconds"):
        collect_events(sqlite_store, [str(mixed)], mapping, data_dir=tmp_path)
    seconds = load_mapping(write(tmp_path / "m2.toml", '[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n'
                                                       '[action]\nfixed = "click"\n[time]\nformat = "epoch_s"\n'))
    with pytest.raises(EventValueError, match=r"line 2.*outside 1970 … now"):
        collect_events(sqlite_store, [str(write(tmp_path / "ms.csv", "u,i,t\na,x,1767225600000\n"))], seconds,
                       data_dir=tmp_path)
    assert table_counts(sqlite_store)["interactions"] == 0


def test_globs_folders_and_urls(sqlite_store, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    header, *rows = SHOP_CSV.splitlines()
    write(logs / "part-1.csv", "\n".join([header, *rows[:3]]) + "\n")
    write(logs / "part-2.csv", "\n".join([header, *rows[3:5]]) + "\n")
    write(logs / "notes.md", "not a log")
    mapping = load_mapping(write(tmp_path / "m.toml", SHOP_MAPPING))
    report = collect_events(sqlite_store, [str(logs / "part-*.csv")], mapping, data_dir=tmp_path)
    assert report.read == {"files": 2, "rows": 5}
    with LoopbackServer() as server:
        url = server.add_file("/export/last.csv.gz", gzip.compress(f"{header}\n{rows[5]}\n".encode()))
        # The folder again (already stored, read nothing) and the URL (downloaded under the data dir).
        report = collect_events(sqlite_store, [str(logs), url], mapping, data_dir=tmp_path)
    assert report.read == {"files": 3, "rows": 1} and report.skipped["files_already_stored"] == 2
    assert stored(sqlite_store) == EXPECTED
    assert list((tmp_path / "downloads" / "events").glob("*-last.csv.gz"))
    with pytest.raises(UsageError, match="matches no file"):
        collect_events(sqlite_store, [str(tmp_path / "nope-*.csv")], mapping, data_dir=tmp_path)


def test_interrupted_run_resumes_to_the_result_of_one_clean_run(sqlite_store, tmp_path, monkeypatch):
    mapping = load_mapping(write(tmp_path / "m.toml", SHOP_MAPPING))
    path = str(write(tmp_path / "shop.csv", SHOP_CSV))
    real_save = events_collector._save_rows
    calls = {"n": 0}

    def dying_save(conn, rows, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed in the middle of the second batch's transaction
        real_save(conn, rows, *args)

    monkeypatch.setattr(events_collector, "_save_rows", dying_save)
    with pytest.raises(KeyboardInterrupt):
        collect_events(sqlite_store, [path], mapping, data_dir=tmp_path, batch_rows=2)
    assert len(stored(sqlite_store)) == 2  # the first batch, committed with its cursor
    monkeypatch.setattr(events_collector, "_save_rows", real_save)
    report = collect_events(sqlite_store, [path], mapping, data_dir=tmp_path, batch_rows=2)
    assert report.resumed_from == 3 and report.read["rows"] == 4  # lines 4..7
    assert stored(sqlite_store) == EXPECTED
    assert report.skipped["duplicates"] == 0


def test_cli_accepts_shell_expanded_paths(tmp_path):
    header, *rows = SHOP_CSV.splitlines()
    a = write(tmp_path / "a.csv", "\n".join([header, *rows[:3]]) + "\n")
    b = write(tmp_path / "b.csv", "\n".join([header, *rows[3:]]) + "\n")
    write(tmp_path / "m.toml", SHOP_MAPPING)
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), "collect", "events", "--path", str(a),
                                      str(b), "--mapping", str(tmp_path / "m.toml"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["stored"] == {"users": 2, "items": 2, "interactions": 6}
    bad = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), "collect", "events", "--path", str(a),
                                   "--mapping", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 2 and "missing.toml not found" in bad.output


def test_quoted_values_spanning_lines_keep_exact_line_numbers(sqlite_store, tmp_path):
    log = write(tmp_path / "titles.csv", 'u,i,t,title\na,x,1767225600,"Two\nlines"\n\nb,y,1767225601,One\n'
                                         'c,z,never,Bad\n')
    text = '[columns]\nuser = "u"\nitem = "i"\ntime = "t"\ntitle = "title"\n[action]\nfixed = "view"\n'
    with pytest.raises(EventValueError, match=r"titles.csv line 6: column 't' \(time\) holds 'never', which is not "
                                              r"a time \(expected epoch"):
        collect_events(sqlite_store, [str(log)], load_mapping(write(tmp_path / "m.toml", text)), data_dir=tmp_path)
    report = collect_events(sqlite_store, [str(log)], load_mapping(write(tmp_path / "m.toml", 'on_error = "skip"\n'
                                                                         + text)), data_dir=tmp_path)
    # The physical line of the bad row, counting the value's own line break and the blank line.
    assert [r.line for r in report.rejections.kept] == [6]
    with sqlite_store.begin() as conn:
        assert dict(fetch_rows(conn, "SELECT external_id, title FROM items")) == {"x": "Two\nlines", "y": "One"}


def test_unquoted_csv_lines_are_exact_across_batches_blank_lines_and_bad_rows(sqlite_store, tmp_path):
    lines = ["u,i,t"] + [f"u{k},i{k},{1767225600 + k}" for k in range(1, 40)]
    lines[10] = "u10,i10"  # a short row
    lines[20] = ""  # a blank line
    lines[30] = "u30,i30,soon"  # a time that does not parse
    log = write(tmp_path / "plain.csv", "\n".join(lines) + "\n")
    mapping = load_mapping(write(tmp_path / "m.toml", 'on_error = "skip"\n[columns]\nuser = "u"\nitem = "i"\n'
                                                      'time = "t"\n[action]\nfixed = "view"\n'))
    report = collect_events(sqlite_store, [str(log)], mapping, data_dir=tmp_path, batch_rows=4)
    assert [r.line for r in report.rejections.kept] == [11, 31]
    assert report.stored["interactions"] == 36


def test_json_lines_may_leave_out_optional_keys_but_not_misspell_them(sqlite_store, tmp_path):
    log = tmp_path / "tv.jsonl"
    # 1,500 likes without the watch-time key before the first view that has it.
    log.write_text("".join(json.dumps({"u": "a", "v": f"x{k}", "t": 1767225600 + k, "e": "like"}) + "\n"
                           for k in range(1500))
                   + json.dumps({"u": "a", "v": "x", "t": 1767229999, "e": "view", "secs": 12.5}) + "\n")
    text = ('[columns]\nuser = "u"\nitem = "v"\ntime = "t"\naction = "e"\nvalue = "secs"\n')
    collect_events(sqlite_store, [str(log)], load_mapping(write(tmp_path / "m.toml", text)), data_dir=tmp_path)
    with sqlite_store.begin() as conn:
        assert fetch_rows(conn, "SELECT COUNT(*), COUNT(value), MAX(value) FROM interactions") == [(1501, 1, 12.5)]
    typo = text.replace('"secs"', '"seconds"').replace("[columns]", 'name = "b"\n[columns]')
    before = table_counts(sqlite_store)
    with pytest.raises(MappingError, match=r"columns.value = 'seconds' names a key no record of this file holds"):
        collect_events(sqlite_store, [str(log)], load_mapping(write(tmp_path / "m2.toml", typo)), data_dir=tmp_path)
    assert table_counts(sqlite_store) == before
    misnamed_user = typo.replace('user = "u"', 'user = "uid"')
    with pytest.raises(MappingError, match=r"columns.user = 'uid'.*the keys of its first 1,000 records"):
        collect_events(sqlite_store, [str(log)], load_mapping(write(tmp_path / "m3.toml", misnamed_user)),
                       data_dir=tmp_path)
    skipping = load_mapping(write(tmp_path / "m4.toml", 'on_error = "skip"\n' + typo.replace('name = "b"', 'name = "c"')
                                  + '[action]\nunmapped = "skip"\n'))
    report = collect_events(sqlite_store, [str(log)], skipping, data_dir=tmp_path)
    assert report.skipped["columns.value = 'seconds': no record holds it"] == 1


def test_text_column_reaches_the_built_dataset(sqlite_store, tmp_path):
    """What the user wrote (a review here) is stored with the interaction and built into ``texts``."""
    import pyarrow.parquet as pq_

    from timgen_data.dataset import BuildOptions, build_dataset
    from timgen_data.labeling import label_store

    log = write(tmp_path / "reviews.csv", 'u,i,t,stars,review\na,x,1767225600,5,"Great, would buy again"\n'
                                           'a,y,1767225700,2,\na,z,1767225800,4,Fine\n')
    mapping = load_mapping(write(tmp_path / "m.toml", '[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n'
                                                      'value = "stars"\ntext = "review"\n[action]\nfixed = "rate"\n'))
    collect_events(sqlite_store, [str(log)], mapping, data_dir=tmp_path)
    label_store(sqlite_store, "movie")
    build_dataset(sqlite_store, tmp_path / "out", BuildOptions())
    table = pq_.read_table(next((tmp_path / "out" / "interactions").glob("test-*.parquet")))
    assert table.column("texts").to_pylist() == [["Great, would buy again", "", "Fine"]]


def test_local_clock_and_holidays_reach_the_built_dataset(sqlite_store, tmp_path):
    """An offset written in the time (or the mapping's zone) is stored with the interaction and
    built into ``utc_offsets``; the geo's country decides ``holidays`` on the local date."""
    import pyarrow.parquet as pq_

    from timgen_data.dataset import BuildOptions, build_dataset
    from timgen_data.labeling import label_store

    # 23:30 on Christmas Day in New York is already December 26 in UTC; "Paris" names no country.
    log = write(tmp_path / "log.csv", "u,i,t,stars,where\n"
                                      "a,x,2020-12-25T23:30:00-05:00,5,US\n"
                                      "a,y,2020-12-26T12:00:00Z,2,US\n"
                                      "a,z,2020-10-03T12:00:00+02:00,4,DE\n"
                                      "a,w,2020-12-25T10:00:00+01:00,3,Paris\n")
    mapping = load_mapping(write(tmp_path / "m.toml", '[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n'
                                                      'value = "stars"\ngeo = "where"\n[action]\nfixed = "rate"\n'))
    collect_events(sqlite_store, [str(log)], mapping, data_dir=tmp_path)
    with sqlite_store.begin() as conn:
        stored = dict(conn.exec_driver_sql("SELECT ts, utc_offset FROM interactions").fetchall())
    assert stored == {1608957000: -300, 1608984000: None, 1601719200: 120, 1608886800: 60}
    label_store(sqlite_store, "movie")
    build_dataset(sqlite_store, tmp_path / "out", BuildOptions())
    table = pq_.read_table(next((tmp_path / "out" / "interactions").glob("test-*.parquet")))
    row = table.to_pylist()[0]
    by_time = dict(zip(row["timestamps"], zip(row["utc_offsets"], row["holidays"])))
    assert by_time == {1601719200: (120, True),  # German Unity Day
                       1608886800: (60, None),  # no country: no flag
                       1608957000: (-300, True),  # Christmas, on the New York clock
                       1608984000: (None, False)}  # December 26 is no US holiday; the offset is unknown


def test_a_mapping_zone_gives_every_row_its_offset_daylight_saving_included(sqlite_store, tmp_path):
    log = write(tmp_path / "log.csv", "u,i,t\na,x,2020-01-15 09:00\na,y,2020-07-15 09:00\n")
    mapping = load_mapping(write(tmp_path / "m.toml", '[columns]\nuser = "u"\nitem = "i"\ntime = "t"\n'
                                                      '[time]\nzone = "Europe/Berlin"\n[action]\nfixed = "view"\n'))
    collect_events(sqlite_store, [str(log)], mapping, data_dir=tmp_path)
    with sqlite_store.begin() as conn:
        assert sorted(conn.exec_driver_sql("SELECT utc_offset FROM interactions").fetchall()) == [(60,), (120,)]
