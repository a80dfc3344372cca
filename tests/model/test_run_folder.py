"""``train --out``: an earlier run is continued with --resume or replaced with --overwrite, never
silently; an interrupted --overwrite leaves the earlier run as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.contract import drifting_histories, write_contract

from timgen_data.errors import OutputFolderError
from timgen_common.output_folder import MARKER
from timgen_model.checkpoint import BEST, LAST, load_checkpoint
from timgen_model.config import load_run_config
from timgen_model.training import train

TINY = ["model.embedding_size=8", "model.feedforward_size=16", "model.latent_size=4", "model.max_len=8",
        "model.num_heads=2", "train.batch_size=16", "train.threads=1", "train.epochs=1"]
TINY_CLI = [arg for setting in TINY for arg in ("--set", setting)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    histories, genres = drifting_histories(users=10, steps=6, genres=2, items_per_genre=4, seed=1)
    return write_contract(tmp_path_factory.mktemp("runs") / "ds", histories, genres)


@pytest.fixture
def earlier_run(tmp_path) -> Path:
    """A run folder as an earlier `train` left it (its bytes stand in for real weights)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / BEST).write_bytes(b"best weights of a week of training")
    (run / LAST).write_bytes(b"last weights")
    (run / "metrics.json").write_text("{}")
    return run


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "timgen-" in p.name)


def test_train_into_an_earlier_run_without_resume_or_overwrite_is_refused(dataset, earlier_run):
    before = digests(earlier_run)
    result = invoke_cli("train", dataset, "--out", earlier_run, *TINY_CLI)
    assert_fails_in_one_line(result, 2, "OutputFolderError", str(earlier_run), "--resume", "--overwrite")
    assert digests(earlier_run) == before
    with pytest.raises(OutputFolderError, match="--overwrite"):
        train(dataset, earlier_run, load_run_config(None, TINY))
    assert digests(earlier_run) == before


def test_overwrite_replaces_the_earlier_run(dataset, earlier_run, tmp_path):
    result = invoke_cli("train", dataset, "--out", earlier_run, "--overwrite", *TINY_CLI)
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(earlier_run).epoch == 1 and (earlier_run / MARKER).is_file()
    assert str(earlier_run / "loss_curves.png") in result.stdout.replace("\n", "")
    assert leftovers(tmp_path) == []
    again = invoke_cli("train", dataset, "--out", earlier_run, *TINY_CLI)  # now a run train wrote: still refused
    assert_fails_in_one_line(again, 2, "OutputFolderError", "--overwrite")


def test_an_interrupted_overwrite_leaves_the_earlier_run(dataset, earlier_run, tmp_path):
    before = digests(earlier_run)

    def interrupt(entry):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(dataset, earlier_run, load_run_config(None, TINY), overwrite=True, on_epoch=interrupt)
    assert digests(earlier_run) == before
    assert leftovers(tmp_path) == []


def test_overwrite_never_replaces_a_folder_that_holds_no_run(dataset, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.md").write_text("- train")
    result = invoke_cli("train", dataset, "--out", notes, "--overwrite", *TINY_CLI)
    assert_fails_in_one_line(result, 2, "OutputFolderError", str(notes), "todo.md")
    assert digests(notes) == {"todo.md": hashlib.sha256(b"- train").hexdigest()}
