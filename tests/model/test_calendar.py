"""Time as the paper names it: hour of day, day of year, season and holidays on the user's
local clock; datasets and checkpoints from before still work."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from support.contract import drifting_histories, write_contract

from timgen_model.batches import SplitTensors, local_calendar, training_windows
from timgen_model.checkpoint import BEST, load_checkpoint
from timgen_model.config import load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import HOLIDAY_NO, HOLIDAY_UNKNOWN, HOLIDAY_YES, encode_dataset
from timgen_model.training import build_network, train

SMALL = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=16",
         "model.dropout=0.0", "train.batch_size=16", "train.threads=1"]
CHRISTMAS_EVENING_NEW_YORK = 1608957000  # 2020-12-25T23:30-05:00 = 2020-12-26T04:30Z


def test_the_local_calendar_of_a_known_moment():
    local = local_calendar(np.array([CHRISTMAS_EVENING_NEW_YORK]), np.array([-300]))
    utc = local_calendar(np.array([CHRISTMAS_EVENING_NEW_YORK]), np.array([0]))
    assert int(local["local_weekdays"][0]) == 4 and int(utc["local_weekdays"][0]) == 5  # Friday there, Saturday in UTC
    assert float(local["day_phases"][0]) * 24 == pytest.approx(23.5)
    assert float(utc["day_phases"][0]) * 24 == pytest.approx(4.5)
    assert float(local["year_phases"][0]) == pytest.approx(359 / 366)  # December 25 of a leap year
    assert int(local["seasons"][0]) == 0  # winter
    summer = local_calendar(np.array([1594803600]), np.array([330]))  # 2020-07-15T09:00Z, 14:30 in India
    assert int(summer["seasons"][0]) == 2 and float(summer["day_phases"][0]) * 24 == pytest.approx(14.5)


def _with_calendar(folder: Path, offsets, flags) -> Path:
    """The dataset's interactions given one UTC offset and one holiday flag per step (a callable of the row)."""
    for path in (folder / "interactions").glob("*.parquet"):
        table = pq.read_table(path)
        lengths = [len(items) for items in table.column("item_ids").to_pylist()]
        table = table.set_column(table.schema.get_field_index("utc_offsets"), "utc_offsets",
                                 pa.array([offsets(r, n) for r, n in enumerate(lengths)], pa.list_(pa.int32())))
        table = table.set_column(table.schema.get_field_index("holidays"), "holidays",
                                 pa.array([flags(r, n) for r, n in enumerate(lengths)], pa.list_(pa.bool_())))
        pq.write_table(table, path)
    return folder


@pytest.fixture(scope="module")
def histories():
    return drifting_histories(users=24, steps=14, seed=5)


def test_offsets_and_flags_are_encoded_and_a_missing_list_is_unknown(histories, tmp_path):
    folder = write_contract(tmp_path / "ds", *histories)
    _with_calendar(folder, lambda r, n: None if r == 0 else [-300] * n,
                   lambda r, n: None if r == 0 else [None] + [r % 2 == 0] * (n - 1))
    split = encode_dataset(read_contract(folder)).splits["train"]
    first, second = slice(split.offsets[0], split.offsets[1]), slice(split.offsets[1], split.offsets[2])
    assert (split.utc_offsets[first] == 0).all() and (split.holidays[first] == HOLIDAY_UNKNOWN).all()
    assert (split.utc_offsets[second] == -300).all()
    assert split.holidays[second][0] == HOLIDAY_UNKNOWN and (split.holidays[second][1:] == HOLIDAY_NO).all()
    assert (split.holidays[slice(split.offsets[2], split.offsets[3])][1:] == HOLIDAY_YES).all()


def _batch_and_model(folder: Path, overrides: list[str]):
    data = encode_dataset(read_contract(folder))
    config = load_run_config(None, SMALL + overrides)
    torch.manual_seed(0)
    model = build_network(config, data).eval()
    split = data.splits["train"]
    batch = SplitTensors(split, data.score_mean, data.score_std).batch(
        training_windows(split, config.model.max_len).take(np.arange(4)))
    return model, batch


def test_hour_season_holiday_and_local_weekday_change_the_inputs(histories, tmp_path):
    model, batch = _batch_and_model(write_contract(tmp_path / "ds", *histories), [])
    before = model.encode_inputs(batch)
    changes = {
        "day_phases": (batch.day_phases + 0.25) % 1.0,  # six hours later in the day
        "year_phases": (batch.year_phases + 0.5) % 1.0,
        "seasons": (batch.seasons + 1) % 4,
        "holidays": torch.full_like(batch.holidays, HOLIDAY_YES),
        "local_weekdays": (batch.local_weekdays + 1) % 7,
    }
    real = batch.mask
    for name, changed in changes.items():
        after = model.encode_inputs(dataclasses.replace(batch, **{name: changed}))
        assert not torch.allclose(after[real], before[real]), name
    # Off, the network reads the UTC weekday alone, as before the calendar existed.
    old, batch = _batch_and_model(write_contract(tmp_path / "ds2", *histories), ["model.calendar_features=false"])
    before = old.encode_inputs(batch)
    for name, changed in changes.items():
        assert torch.equal(old.encode_inputs(dataclasses.replace(batch, **{name: changed})), before), name


def test_the_offset_moves_the_hour_the_model_reads(histories, tmp_path):
    folder = write_contract(tmp_path / "ds", *histories)
    _, utc = _batch_and_model(folder, [])
    _with_calendar(folder, lambda r, n: [-300] * n, lambda r, n: [None] * n)
    _, local = _batch_and_model(folder, [])
    real = utc.mask
    shifted = (utc.day_phases - 300 / 1440) % 1.0
    assert torch.allclose(local.day_phases[real], shifted[real], atol=1e-5)


def test_a_dataset_without_the_calendar_columns_still_trains(histories, tmp_path):
    folder = write_contract(tmp_path / "ds", *histories)
    for path in (folder / "interactions").glob("*.parquet"):
        pq.write_table(pq.read_table(path).drop_columns(["utc_offsets", "holidays"]), path)
    assert "utc_offsets" not in read_contract(folder).interactions["train"].column_names
    result = train(folder, tmp_path / "run", load_run_config(None, SMALL + ["train.epochs=1"]))
    assert np.isfinite(result.metrics["test"]["rmse"])


def test_a_checkpoint_from_before_the_calendar_loads_as_it_was_trained(histories, tmp_path):
    folder = write_contract(tmp_path / "ds", *histories)
    train(folder, tmp_path / "run", load_run_config(None, SMALL + ["train.epochs=1", "model.calendar_features=false"]))
    path = tmp_path / "run" / BEST
    payload = torch.load(path, weights_only=True)
    del payload["config"]["model"]["calendar_features"]  # as written before the switch existed
    torch.save(payload, path)
    checkpoint = load_checkpoint(path)
    assert checkpoint.config.model.calendar_features is False
    checkpoint.build_model()  # the saved weights fit the network exactly (strict load)
