"""Importing the MMRec layout: export → collect mmrec → label → build → export gives the same data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.support.contract import drifting_histories, genre_embeddings, write_contract
from timgen_data.cli import cli
from timgen_data.cli.collect import collect
from timgen_data.cli.collect.mmrec import mmrec
from timgen_data.collectors.mmrec import collect_mmrec
from timgen_data.dataset import BuildOptions, build_dataset
from timgen_data.dataset.export import export_dataset
from timgen_data.errors import ConfigError, UsageError
from timgen_data.labeling import label_store
from timgen_data.store import Store, fetch_rows

if "mmrec" not in collect.commands:
    collect.add_command(mmrec)


def read_folder(folder: Path, name: str):
    """(user, item, rating, ts, x_label) by original ids, and {modality: {original item: row}}."""
    maps = {}
    for which in ("u", "i"):
        with open(folder / f"{which}_id_mapping.csv", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        maps[which] = {int(r): o for o, r in rows[1:]}
    lines = (folder / f"{name}.inter").read_text().splitlines()[1:]
    inter = {(maps["u"][int(u)], maps["i"][int(i)], float(r), int(t), int(x))
             for u, i, r, t, x in (line.split("\t") for line in lines)}
    feats = {}
    for modality in ("image", "text"):
        matrix = np.load(folder / f"{modality}_feat.npy")
        feats[modality] = {maps["i"][row]: matrix[row] for row in range(matrix.shape[0])}
    return inter, feats


@pytest.fixture()
def exported(tmp_path) -> Path:
    histories, item_genre = drifting_histories(users=6, steps=5, genres=2, items_per_genre=4)
    image = genre_embeddings(item_genre, dim=4, share=0.5, seed=1)
    text = genre_embeddings(item_genre, dim=3, share=1.0, seed=2)
    folder = write_contract(tmp_path / "tiny", histories, item_genre, {"image": image, "text": text})
    export_dataset(folder, tmp_path / "mmrec", "mmrec")
    return tmp_path / "mmrec" / "tiny"


def open_store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")


def test_round_trip_through_build_and_export(exported, tmp_path):
    store = open_store(tmp_path)
    try:
        report = collect_mmrec(store, exported, data_dir=tmp_path / "data")
        assert report.namespace == "mmrec-tiny" and report.stored["interactions"] == 30
        assert report.written["image features"] > 0 and report.skipped["image_zero_or_unmapped_rows"] > 0
        with store.begin() as conn:
            assert fetch_rows(conn, "SELECT DISTINCT encoder FROM features ORDER BY encoder") == [
                ("mmrec:tiny/image_feat.npy@1",), ("mmrec:tiny/text_feat.npy@1",)]
            assert all(e.startswith("u") for (e,) in fetch_rows(conn, "SELECT external_id FROM users"))
        label_store(store, "movie")
        # The toolbox's own split comes back through the splits file the import wrote.
        splits_file = tmp_path / "data" / "imports" / "mmrec-tiny" / "splits.csv"
        build_dataset(store, tmp_path / "built" / "again", BuildOptions(split="given", split_file=str(splits_file)))
    finally:
        store.dispose()
    export_dataset(tmp_path / "built" / "again", tmp_path / "out", "mmrec", name="tiny")
    before, before_feats = read_folder(exported, "tiny")
    after, after_feats = read_folder(tmp_path / "out" / "tiny", "tiny")
    assert after == before
    for modality in ("image", "text"):
        assert before_feats[modality].keys() == after_feats[modality].keys()
        for item, row in before_feats[modality].items():
            assert np.array_equal(after_feats[modality][item], row), (modality, item)
    with open(tmp_path / "data" / "imports" / "mmrec-tiny" / "splits.csv") as fh:
        splits = list(csv.DictReader(fh))
    assert len(splits) == 30 and {s["split"] for s in splits} == {"train", "validation", "test"}


def test_rerun_is_idempotent(exported, tmp_path):
    store = open_store(tmp_path)
    try:
        counts = []
        for _ in range(2):
            report = collect_mmrec(store, exported)
            with store.begin() as conn:
                counts.append([fetch_rows(conn, f"SELECT COUNT(*) FROM {t}")[0][0]
                               for t in ("sources", "users", "items", "interactions", "assets", "features")])
        assert counts[0] == counts[1] and counts[0][3] == 30
        assert report.written["interactions"] == 0
    finally:
        store.dispose()


def test_comma_separated_asin_mapping_and_no_user_mapping(exported, tmp_path):
    rows = (exported / "i_id_mapping.csv").read_text().splitlines()
    (exported / "i_id_mapping.csv").write_text("asin,itemID\n" + "\n".join(r.replace("\t", ",") for r in rows[1:]))
    (exported / "u_id_mapping.csv").unlink()
    store = open_store(tmp_path)
    try:
        report = collect_mmrec(store, exported)
        assert report.skipped["users_without_mapping_file"] == 6
        with store.begin() as conn:
            users = {e for (e,) in fetch_rows(conn, "SELECT external_id FROM users")}
            items = {e for (e,) in fetch_rows(conn, "SELECT external_id FROM items")}
        assert users == {str(i) for i in range(6)} and all(i.startswith("i") for i in items)
    finally:
        store.dispose()


def test_missing_or_wrong_inter_is_a_config_error(exported, tmp_path):
    store = open_store(tmp_path)
    try:
        with pytest.raises(ConfigError, match="other.inter not found"):
            collect_mmrec(store, exported, name="other")
        inter = exported / "tiny.inter"
        inter.write_text(inter.read_text().replace("x_label", "split", 1))
        with pytest.raises(ConfigError, match="header"):
            collect_mmrec(store, exported)
    finally:
        store.dispose()


def test_cli_json(exported, tmp_path):
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), "collect", "mmrec",
                                      "--path", str(exported), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["namespace"] == "mmrec-tiny" and report["stored"]["interactions"] == 30
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), "collect", "mmrec",
                                      "--path", str(exported), "--name", "nope"])
    assert result.exit_code == 2 and "nope.inter not found" in result.output


def test_a_split_unlike_ours_comes_back_through_build_given(exported, tmp_path):
    """MMRec's splits are per-interaction labels: two test items for one user, none for another."""
    inter = exported / "tiny.inter"
    header, *lines = inter.read_text().splitlines()
    rows = [line.split("\t") for line in lines]
    by_user: dict[str, list[list[str]]] = {}
    for row in rows:
        by_user.setdefault(row[0], []).append(row)
    users = sorted(by_user)
    for k, user in enumerate(users):
        history = sorted(by_user[user], key=lambda r: int(r[3]))
        labels = ["0"] * len(history)
        if k == 0:
            labels[-2:] = ["2", "2"]  # two test targets
        elif k == 1:
            pass  # all train
        else:
            labels[-3:] = ["1", "2", "2"] if k % 2 else ["1", "1", "2"]
        for row, label in zip(history, labels):
            row[4] = label
    inter.write_text("\n".join([header, *("\t".join(r) for r in rows)]) + "\n")
    store = open_store(tmp_path)
    try:
        collect_mmrec(store, exported, data_dir=tmp_path / "data")
        label_store(store, "movie")
        splits_file = tmp_path / "data" / "imports" / "mmrec-tiny" / "splits.csv"
        build_dataset(store, tmp_path / "built", BuildOptions(split="given", split_file=str(splits_file)))
    finally:
        store.dispose()
    export_dataset(tmp_path / "built", tmp_path / "out", "mmrec", name="tiny")
    before, _ = read_folder(exported, "tiny")
    after, _ = read_folder(tmp_path / "out" / "tiny", "tiny")
    assert after == before
    assert sum(x == 2 for *_, x in after) == 2 + 2 * (len(users) - 2) - (len(users) - 2) // 2


def test_split_file_must_label_every_interaction(exported, tmp_path):
    store = open_store(tmp_path)
    try:
        collect_mmrec(store, exported, data_dir=tmp_path / "data")
        label_store(store, "movie")
        splits_file = tmp_path / "data" / "imports" / "mmrec-tiny" / "splits.csv"
        lines = splits_file.read_text().splitlines()
        splits_file.write_text("\n".join(lines[:-1]) + "\n")
        with pytest.raises(UsageError, match=r"has no split for 1 interaction\(s\), e.g. user"):
            build_dataset(store, tmp_path / "built", BuildOptions(split="given", split_file=str(splits_file)))
        splits_file.write_text("\n".join(lines).replace(",test", ",holdout") + "\n")
        with pytest.raises(UsageError, match="'holdout' is not train/validation/test"):
            build_dataset(store, tmp_path / "built", BuildOptions(split="given", split_file=str(splits_file)))
        with pytest.raises(UsageError, match="--split given needs --split-file"):
            build_dataset(store, tmp_path / "built", BuildOptions(split="given"))
    finally:
        store.dispose()
