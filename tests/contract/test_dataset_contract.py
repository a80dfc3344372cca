"""The dataset contract: one definition read by build, export and the model; its version checked on load."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support.contract import drifting_histories, write_contract

import timgen_contract
import timgen_data.dataset as producer
import timgen_model.contract as consumer
from timgen_contract import version as contract_version
from timgen_contract.features import INTERACTIONS_FEATURES, ITEMS_FEATURES, arrow_schema
from timgen_data.cli import cli
from timgen_data.dataset import tables
from timgen_data.dataset.export import dataset_files
from timgen_data.errors import NothingToDoError, UsageError
from timgen_model.errors import DatasetError, ModelUsageError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    histories, genres = drifting_histories(users=12, steps=8, seed=3)
    return write_contract(tmp_path_factory.mktemp("contract") / "ds", histories, genres)


def with_version(folder, version):
    (folder / "build.json").write_text(json.dumps({"parameters": {"format_version": version}}))
    return folder


def copy_without(folder, copy, column):
    """The dataset's Parquet shards copied into ``copy`` with ``column`` left out where they have it."""
    for path in folder.rglob("*.parquet"):
        target = copy / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        table = pq.read_table(path)
        pq.write_table(table.drop_columns([column]) if column in table.column_names else table, target)
    return copy


def test_producer_and_consumer_read_one_definition():
    assert producer.INTERACTIONS_FEATURES is INTERACTIONS_FEATURES and producer.ITEMS_FEATURES is ITEMS_FEATURES
    assert producer.MODALITIES is consumer.MODALITIES is timgen_contract.MODALITIES
    assert tables.INTERACTIONS_SCHEMA == arrow_schema(INTERACTIONS_FEATURES)
    assert INTERACTIONS_FEATURES.arrow_schema == timgen_contract.INTERACTIONS_SCHEMA
    assert ITEMS_FEATURES.arrow_schema == timgen_contract.ITEMS_SCHEMA
    # What the model and the export require is the contract's, and every such column is written.
    for reader in (consumer, dataset_files):
        assert reader.REQUIRED_INTERACTION_COLUMNS is timgen_contract.REQUIRED_INTERACTION_COLUMNS
        assert reader.REQUIRED_ITEM_COLUMNS is timgen_contract.REQUIRED_ITEM_COLUMNS
        assert reader.SPLITS is timgen_contract.SPLITS
    assert set(timgen_contract.REQUIRED_INTERACTION_COLUMNS) < set(INTERACTIONS_FEATURES)
    assert set(timgen_contract.REQUIRED_ITEM_COLUMNS) < set(ITEMS_FEATURES)
    assert "texts" in INTERACTIONS_FEATURES and "texts" not in timgen_contract.REQUIRED_INTERACTION_COLUMNS


def test_the_contract_depends_on_neither_side():
    code = ("import sys, timgen_contract.features; "
            "print(sorted(m for m in sys.modules if m.startswith(('timgen_data', 'timgen_model'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_version_check_accepts_current_older_and_unrecorded(monkeypatch):
    current = timgen_contract.FORMAT_VERSION
    assert contract_version.version_problem(current) is None
    assert contract_version.version_problem(None) is None
    monkeypatch.setattr(contract_version, "FORMAT_VERSION", 3)
    monkeypatch.setattr(contract_version, "OLDEST_READABLE_VERSION", 2)
    assert contract_version.version_problem(2) is None
    older = contract_version.version_problem(1)
    assert "older" in older and "versions 2 to 3" in older and "timgen-data build" in older
    newer = contract_version.version_problem(4)
    assert "version 4, newer" in newer and "versions 2 to 3" in newer and "upgrade timgen-data" in newer
    assert "not a version number" in contract_version.version_problem("2")


def test_model_refuses_a_newer_dataset_in_one_line(folder):
    with_version(folder, timgen_contract.FORMAT_VERSION + 1)
    with pytest.raises(DatasetError) as raised:
        consumer.open_contract(folder)
    message = str(raised.value)
    assert isinstance(raised.value, ModelUsageError) and "\n" not in message
    assert f"version {timgen_contract.FORMAT_VERSION + 1}, newer" in message and str(folder) in message
    assert f"reads (version {timgen_contract.FORMAT_VERSION})" in message and "upgrade timgen-data" in message


def test_model_loads_current_and_older_compatible_datasets(folder, monkeypatch):
    with_version(folder, timgen_contract.FORMAT_VERSION)
    assert consumer.open_contract(folder).splits["train"].num_rows == 12
    monkeypatch.setattr(contract_version, "FORMAT_VERSION", timgen_contract.FORMAT_VERSION + 1)
    assert consumer.read_contract(folder).interactions["test"].num_rows == 12
    (folder / "build.json").write_text("{not json")
    with pytest.raises(DatasetError, match="build.json is not a JSON object"):
        consumer.open_contract(folder)
    (folder / "build.json").unlink()
    assert consumer.open_contract(folder).splits["train"].num_rows == 12  # made by hand: columns decide


def test_a_dataset_without_texts_still_loads(folder, tmp_path):
    # Version-1 datasets written before the interactions gained ``texts``.
    old = copy_without(folder, tmp_path / "old", "texts")
    with_version(old, 1)
    assert "texts" not in consumer.open_contract(old).splits["train"].schema.names
    assert dataset_files.open_dataset(old).rows() == 36


def test_model_and_export_refuse_a_missing_column_with_one_message(folder, tmp_path):
    # The required columns are checked once, in the contract; each reader raises its own error.
    broken = copy_without(folder, tmp_path / "broken", "scores")
    expected = (f"{broken}: the interactions/train config lacks column(s) scores; it does not follow the "
                "timgen-data dataset contract (rebuild it with `timgen-data build`)")
    assert "scores" in timgen_contract.REQUIRED_INTERACTION_COLUMNS
    with pytest.raises(DatasetError) as model_error:
        consumer.open_contract(broken)
    with pytest.raises(NothingToDoError) as export_error:
        dataset_files.open_dataset(broken)
    assert str(model_error.value) == str(export_error.value) == expected
    assert timgen_contract.missing_columns_problem(["scores"], ("scores",), "items") is None


def test_train_and_export_refuse_a_newer_dataset_with_exit_2(folder, tmp_path):
    with_version(folder, timgen_contract.FORMAT_VERSION + 1)
    trained = CliRunner().invoke(cli, ["train", str(folder), "--out", str(tmp_path / "run")])
    assert trained.exit_code == 2 and "newer than this installation reads" in trained.output
    assert len(trained.output.strip().splitlines()) == 1, trained.output
    with pytest.raises(UsageError, match="newer than this installation reads"):
        dataset_files.open_dataset(folder)
    exported = CliRunner().invoke(cli, ["export", str(tmp_path / "x"), "--dataset", str(folder), "--format", "recbole"])
    assert exported.exit_code == 2 and "newer than this installation reads" in exported.output
