"""Exporting a built dataset to RecBole atomic files and the MMRec layout.

The real ML-100K goes through collect → label → build → export, and every exported row is
checked against ``u.data``; a small synthetic dataset with vectors checks the MMRec arrays.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.support.contract import drifting_histories, genre_embeddings, write_contract
from timgen_data.dataset import BuildOptions, build_dataset
from timgen_data.dataset.export import export_dataset
from timgen_common.output_folder import MARKER
from timgen_data.cli import cli
from timgen_data.cli.export import export
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.errors import NothingToDoError, UsageError
from timgen_data.labeling import label_store
from timgen_data.store import Store

if "export" not in cli.commands:
    cli.add_command(export)


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


@pytest.fixture(scope="module")
def ml100k(tmp_path_factory, shared_data) -> Path:
    folder = tmp_path_factory.mktemp("ml100k-export")
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}")
    try:
        collect_movielens(store, "100k", data_dir=folder, from_file=shared_data / "ml-100k")
        label_store(store, "movie")
        build_dataset(store, folder / "out" / "ml-100k", BuildOptions())
    finally:
        store.dispose()
    return folder / "out" / "ml-100k"


@pytest.fixture(scope="module")
def u_data(shared_data) -> set[tuple[str, str, float, int]]:
    rows = set()
    for line in (shared_data / "ml-100k" / "u.data").read_text().splitlines():
        user, item, rating, ts = line.split("\t")
        rows.add((user, item, float(rating), int(ts)))
    assert len(rows) == 100_000
    return rows


@pytest.fixture(scope="module")
def recbole(ml100k, tmp_path_factory):
    out = tmp_path_factory.mktemp("recbole")
    report = export_dataset(ml100k, out, "recbole")
    return out / "ml-100k-timgen", report


def as_tuples(rows: list[list[str]]) -> list[tuple[str, str, float, int]]:
    return [(u, i, float(r), int(float(t))) for u, i, r, t in rows]


def test_recbole_inter_equals_u_data(recbole, u_data):
    folder, report = recbole
    header, rows = read_tsv(folder / "ml-100k-timgen.inter")
    assert header == ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
    assert len(rows) == 100_000 == report.interactions
    assert set(as_tuples(rows)) == u_data
    by_user: dict[str, list[int]] = {}
    for user, _, _, ts in as_tuples(rows):
        by_user.setdefault(user, []).append(ts)
    assert len(by_user) == 943 and all(ts == sorted(ts) for ts in by_user.values())
    assert sorted(p.name for p in folder.iterdir() if p.name != MARKER) == sorted(p.name for p in report.files)


def test_recbole_benchmark_files_partition_the_interactions(recbole, u_data):
    folder, report = recbole
    parts = {}
    for suffix in ("train", "valid", "test"):
        header, rows = read_tsv(folder / f"ml-100k-timgen.{suffix}.inter")
        assert header[0] == "user_id:token"
        parts[suffix] = as_tuples(rows)
    assert sum(len(p) for p in parts.values()) == 100_000
    assert set().union(*map(set, parts.values())) == u_data
    # Leave-last-out: one validation and one test interaction per user, each the user's last ones.
    assert len(parts["valid"]) == len(parts["test"]) == 943
    assert report.splits == {"train": 100_000 - 2 * 943, "validation": 943, "test": 943}
    last = {}
    for user, _, _, ts in parts["train"]:
        last[user] = max(last.get(user, 0), ts)
    assert all(ts >= last[user] for user, _, _, ts in parts["test"])


def test_recbole_item_file_splits_title_and_year(recbole):
    folder, _ = recbole
    header, rows = read_tsv(folder / "ml-100k-timgen.item")
    assert header == ["item_id:token", "movie_title:token_seq", "release_year:token", "genre:token_seq"]
    assert len(rows) == 1682 and all(len(r) == 4 for r in rows)
    toy = rows[0]
    assert toy[0] == "1" and toy[1] == "Toy Story" and toy[2] == "1995"
    assert set(toy[3].split(" ")) == {"Animation", "Children's", "Comedy"}


def test_recbole_user_file_holds_u_user(recbole, shared_data):
    folder, _ = recbole
    header, rows = read_tsv(folder / "ml-100k-timgen.user")
    # RecBole's own ml-100k.user names and values: zip_code, gender M/F as in u.user.
    assert header == ["user_id:token", "age:token", "gender:token", "occupation:token", "zip_code:token"]
    source = [line.split("|") for line in (shared_data / "ml-100k" / "u.user").read_text().splitlines()]
    assert len(rows) == len(source) == 943
    by_id = {r[0]: r for r in rows}
    for uid, age, gender, occupation, zip_code in source:
        assert by_id[uid][1:] == [age, gender, occupation, zip_code]
    assert {r[2] for r in rows} == {"M", "F"}


RECBOLE_TYPES = {"token", "token_seq", "float", "float_seq"}  # RecBole 1.2.1's FeatureType values


def test_recbole_headers_parse_as_recbole_reads_them(recbole):
    """Every header field is name:type with a type RecBole knows, and every row has one field per header field."""
    folder, report = recbole
    for path in report.files:
        header, rows = read_tsv(path)
        assert all(f.count(":") == 1 and f.split(":")[1] in RECBOLE_TYPES for f in header), path.name
        assert all(len(r) == len(header) for r in rows), path.name


def test_recbole_sequential_benchmark_files_hold_each_targets_history(recbole, u_data):
    """`<name>.{train,valid,test}_seq.inter`: user, the (at most 50) items before the target in the user's
    order, the target: what RecBole's sequential models read from benchmark files."""
    folder, _ = recbole
    _, inter = read_tsv(folder / "ml-100k-timgen.inter")
    order: dict[str, list[str]] = {}
    for user, item, _, _ in inter:
        order.setdefault(user, []).append(item)
    split_of = {}
    for suffix in ("train", "valid", "test"):
        for user, item, _, _ in read_tsv(folder / f"ml-100k-timgen.{suffix}.inter")[1]:
            split_of[(user, item)] = suffix
    seen = Counter()
    for suffix in ("train", "valid", "test"):
        header, rows = read_tsv(folder / f"ml-100k-timgen.{suffix}_seq.inter")
        assert header == ["user_id:token", "item_id_list:token_seq", "item_id:token"]
        for user, history, target in rows:
            items = order[user]
            p = items.index(target)
            assert history.split(" ") == items[max(0, p - 50):p] and p > 0
            assert split_of[(user, target)] == suffix
            seen[suffix] += 1
    # One row per target except each user's first interaction, which has no history.
    assert seen == {"train": 100_000 - 3 * 943, "valid": 943, "test": 943}
    assert max(len(h.split(" ")) for _, h, _ in read_tsv(folder / "ml-100k-timgen.test_seq.inter")[1]) == 50


def test_recbole_export_never_takes_a_name_recbole_reserves(synthetic, tmp_path):
    """RecBole reads its bundled copy for `ml-100k`: the default name gets a suffix, a given one is refused."""
    folder, _, _ = synthetic
    named = folder.parent / "ml-100k"
    folder.rename(named)
    report = export_dataset(named, tmp_path / "rb", "recbole")
    assert report.path == tmp_path / "rb" / "ml-100k-timgen"
    assert (report.path / "ml-100k-timgen.inter").is_file()
    with pytest.raises(UsageError, match="RecBole reserves"):
        export_dataset(named, tmp_path / "rb2", "recbole", name="ml-1m")
    assert not (tmp_path / "rb2").exists()
    assert export_dataset(named, tmp_path / "mm", "mmrec").path == tmp_path / "mm" / "ml-100k"


def test_mmrec_labels_and_mappings_round_trip(ml100k, tmp_path, u_data):
    report = export_dataset(ml100k, tmp_path, "mmrec", name="ml100k")
    folder = tmp_path / "ml100k"
    header, rows = read_tsv(folder / "ml100k.inter")
    assert header == ["userID", "itemID", "rating", "timestamp", "x_label"]
    assert Counter(int(r[4]) for r in rows) == {0: 100_000 - 2 * 943, 1: 943, 2: 943}
    maps = {}
    for which in ("u", "i"):
        with open(folder / f"{which}_id_mapping.csv", newline="") as fh:
            reader = list(csv.reader(fh, delimiter="\t"))
        assert reader[0] == {"u": ["user_id", "userID"], "i": ["item_id", "itemID"]}[which]
        maps[which] = {int(remap): org for org, remap in reader[1:]}
        assert sorted(maps[which]) == list(range(len(maps[which])))
    assert len(maps["u"]) == 943 and len(maps["i"]) == 1682 == report.items
    back = {(maps["u"][int(u)], maps["i"][int(i)], float(r), int(t)) for u, i, r, t, _ in rows}
    assert back == u_data
    assert not (folder / "image_feat.npy").exists() and report.missing_features == {}


@pytest.fixture()
def synthetic(tmp_path) -> tuple[Path, dict, dict]:
    histories, item_genre = drifting_histories(users=6, steps=5, genres=2, items_per_genre=4)
    image = genre_embeddings(item_genre, dim=4, share=0.5, seed=1)
    text = genre_embeddings(item_genre, dim=3, share=1.0, seed=2)
    folder = write_contract(tmp_path / "tiny", histories, item_genre, {"image": image, "text": text})
    return folder, image, text


def test_mmrec_feature_arrays_follow_item_ids(synthetic, tmp_path):
    folder, image, text = synthetic
    report = export_dataset(folder, tmp_path / "mmrec", "mmrec")
    out = tmp_path / "mmrec" / "tiny"
    _, rows = read_tsv(out / "i_id_mapping.csv")
    mapping = {int(remap): org for org, remap in rows}
    image_feat, text_feat = np.load(out / "image_feat.npy"), np.load(out / "text_feat.npy")
    assert image_feat.dtype == text_feat.dtype == np.float32
    assert image_feat.shape == (len(mapping), 4) and text_feat.shape == (len(mapping), 3)
    for index, item in mapping.items():
        assert np.allclose(text_feat[index], text[item])
        expected = image.get(item, [0.0] * 4)
        assert np.allclose(image_feat[index], expected)
    assert report.missing_features == {"image": sum(item not in image for item in mapping.values()), "text": 0}
    assert report.missing_features["image"] > 0


def test_export_replaces_previous_output_and_cli_json(synthetic, tmp_path):
    folder, _, _ = synthetic
    out = tmp_path / "rb"
    (out / "tiny").mkdir(parents=True)
    (out / "tiny" / "stale.txt").write_text("old")
    result = CliRunner().invoke(cli, ["export", str(out), "--dataset", str(folder), "--format", "recbole", "--json",
                                      "--force"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["interactions"] == 30 and report["splits"] == {"train": 18, "validation": 6, "test": 6}
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]
    assert not (out / "tiny" / "stale.txt").exists()
    _, rows = read_tsv(out / "tiny" / "tiny.item")
    assert rows[0][1].startswith("Title ")
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "mm"), "--dataset", str(folder), "--format", "mmrec"])
    assert result.exit_code == 0, result.output
    assert "validation interactions" in result.output


def test_escapes_tabs_and_reports_actions(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    histories, item_genre = drifting_histories(users=2, steps=4, genres=2, items_per_genre=3)
    folder = write_contract(tmp_path / "odd", histories, item_genre)
    items_file = next((folder / "items").glob("*.parquet"))
    items = pq.read_table(items_file)
    titles = [f"A\tB\nC {i}" for i in range(items.num_rows)]
    items = items.set_column(items.column_names.index("title"), "title", pa.array(titles))
    items = items.set_column(items.column_names.index("classes"), "classes",
                             pa.array([["Science Fiction"]] * items.num_rows, pa.list_(pa.string())))
    pq.write_table(items, items_file)
    test_file = folder / "interactions" / "test-00000-of-00001.parquet"
    table = pq.read_table(test_file)
    actions = [["view"] + a[1:] for a in table.column("actions").to_pylist()]
    table = table.set_column(table.column_names.index("actions"), "actions",
                             pa.array(actions, table.schema.field("actions").type))
    pq.write_table(table, test_file)
    export_dataset(folder, tmp_path / "out", "recbole")
    header, rows = read_tsv(tmp_path / "out" / "odd" / "odd.item")
    assert all(len(r) == 4 for r in rows) and rows[0][1] == "A B C 0" and rows[0][3] == "Science_Fiction"
    header, rows = read_tsv(tmp_path / "out" / "odd" / "odd.inter")
    assert header[-2:] == ["action:token", "score:float"] and rows[0][-2] == "view"
    float(rows[0][-1])  # the scenario's score beside the raw value


def test_recbole_and_mmrec_of_a_platform_log_leave_missing_values_empty(tmp_path):
    """Clicks carry no value: RecBole and MMRec get an empty field (read as NaN), never the text 'nan'."""
    from timgen_data.collectors.events import collect_events, load_mapping

    log = tmp_path / "shop.csv"
    log.write_text("u,i,t,e,amount\n" + "".join(
        f"u{u},i{k},{1767225600 + 600 * (3 * u + k)},{e},{amount}\n"
        for u in range(3) for k, (e, amount) in enumerate([("click", ""), ("cart", ""), ("purchase", "9.5")])))
    (tmp_path / "m.toml").write_text('[columns]\nuser = "u"\nitem = "i"\ntime = "t"\naction = "e"\n'
                                     'value = "amount"\n')
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        collect_events(store, [str(log)], load_mapping(tmp_path / "m.toml"), data_dir=tmp_path)
        label_store(store, "ecommerce")
        build_dataset(store, tmp_path / "shop", BuildOptions(scenario="ecommerce"))
    finally:
        store.dispose()
    export_dataset(tmp_path / "shop", tmp_path / "out", "recbole")
    header, rows = read_tsv(tmp_path / "out" / "shop" / "shop.inter")
    assert header == ["user_id:token", "item_id:token", "rating:float", "timestamp:float", "action:token",
                      "score:float"]
    assert {(r[4], r[2]) for r in rows} == {("click", ""), ("cart", ""), ("purchase", "9.5")}
    assert {(r[4], r[5]) for r in rows} == {("click", "1"), ("cart", "2"), ("purchase", "4")}  # default weights
    export_dataset(tmp_path / "shop", tmp_path / "mm", "mmrec")
    assert "nan" not in (tmp_path / "mm" / "shop" / "shop.inter").read_text()


def test_errors_are_typed(tmp_path, synthetic):
    with pytest.raises(UsageError, match="no such dataset folder"):
        export_dataset(tmp_path / "missing", tmp_path / "out", "recbole")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NothingToDoError, match="timgen-data build"):
        export_dataset(tmp_path / "empty", tmp_path / "out", "recbole")
    with pytest.raises(UsageError, match="unknown export format"):
        export_dataset(synthetic[0], tmp_path / "out", "csv")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_users_outside_some_splits_and_untargeted_positions(tmp_path):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    histories, item_genre = drifting_histories(users=3, steps=4, genres=2, items_per_genre=3)
    folder = write_contract(tmp_path / "ragged", histories, item_genre)
    # u0 is train-only (a short history); u1's train row is gone, so its first two
    # positions are targets nowhere and must still be exported, counted as untargeted.
    for split, drop in (("validation", "u0"), ("test", "u0"), ("train", "u1")):
        path = folder / "interactions" / f"{split}-00000-of-00001.parquet"
        table = pq.read_table(path)
        pq.write_table(table.filter(pc.not_equal(table["user_id"], drop)), path)
    report = export_dataset(folder, tmp_path / "out", "mmrec")
    assert report.interactions == 4 + 4 + 4 - 2 and report.untargeted == 2
    _, rows = read_tsv(tmp_path / "out" / "ragged" / "ragged.inter")
    labels = [int(r[4]) for r in rows]
    assert labels == [0, 0, 0, 0, 1, 2, 0, 0, 1, 2]


def test_export_defaults_to_the_dataset_built_last(tmp_path):
    """`timgen-data export OUT --format recbole` exports what `build` wrote last with the same data dir."""
    from timgen_data.collectors.events import collect_events, load_mapping

    data = tmp_path / "data"
    none_yet = CliRunner().invoke(cli, ["--data-dir", str(data), "export", str(tmp_path / "rb"), "--format", "recbole"])
    assert none_yet.exit_code == 2 and "no dataset built yet" in none_yet.output
    log = tmp_path / "log.csv"
    log.write_text("u,i,t,stars\n" + "".join(f"u{u},i{k},{1767225600 + 60 * k},{k + 1}\n"
                                             for u in range(2) for k in range(3)))
    (tmp_path / "m.toml").write_text('[columns]\nuser = "u"\nitem = "i"\ntime = "t"\nvalue = "stars"\n'
                                     '[action]\nfixed = "rate"\n')
    store = Store.open(f"sqlite:///{data / 'store.sqlite'}")
    try:
        collect_events(store, [str(log)], load_mapping(tmp_path / "m.toml"), data_dir=data)
        label_store(store, "movie")
    finally:
        store.dispose()
    built = CliRunner().invoke(cli, ["--data-dir", str(data), "build", str(tmp_path / "ratings")])
    assert built.exit_code == 0, built.output
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "export", str(tmp_path / "rb"), "--format", "recbole"])
    assert result.exit_code == 0, result.output
    _, rows = read_tsv(tmp_path / "rb" / "ratings" / "ratings.inter")
    assert len(rows) == 6


@pytest.mark.parametrize("fmt", ["recbole", "mmrec"])
def test_streamed_export_of_ml100k_equals_the_in_memory_reference(ml100k, tmp_path, fmt):
    """ML-100K's dataset lists its users in export order, so it is streamed straight from its shards."""
    from tests.dataset.test_export_streaming import assert_same_export
    from timgen_data.dataset.export.dataset_files import open_dataset
    from timgen_data.dataset.export.user_order import in_natural_order

    assert in_natural_order(open_dataset(ml100k))
    figures = assert_same_export(ml100k, tmp_path, fmt)
    assert figures["interactions"] == 100_000 and figures["users"] == 943
