"""Output folders: a command replaces only a folder it wrote itself, never the data dir, the
store's folder or a parent of either; staging is beside the target and cleaned by the next run."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.contract import drifting_histories, write_contract
from support.event_log import collect_log, rated_rows
from support.small_disk import small_disk

from timgen_data.dataset import build_dataset
from timgen_data.errors import OutputFolderError
from timgen_data.labeling import label_store
from timgen_common.output_folder import MARKER, OutputFolder
from timgen_data.store import Store


@pytest.fixture(scope="module")
def labelled_data(tmp_path_factory) -> Path:
    """A data dir as a user has it: a labelled store, downloads and raw files."""
    data = tmp_path_factory.mktemp("template") / "data"
    store = Store.open(f"sqlite:///{data / 'store.sqlite'}")
    try:
        collect_log(store, data.parent / "logs", "ratings", rated_rows(users=20, per_user=30))
        label_store(store, "movie")
    finally:
        store.dispose()
    (data / "downloads").mkdir()
    (data / "downloads" / "ml-1m.zip").write_bytes(b"PK\x03\x04 an archive")
    (data / "raw" / "movielens").mkdir(parents=True)
    (data / "raw" / "movielens" / "ratings.dat").write_text("1::1193::5::978300760\n")
    return data


@pytest.fixture
def data(labelled_data, tmp_path) -> Path:
    copy = tmp_path / "work" / "data"
    shutil.copytree(labelled_data, copy)
    return copy


def files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content digest (the store is compared by rows)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith("store.sqlite")}


def rows(store_file: Path) -> dict[str, int]:
    with sqlite3.connect(store_file) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("users", "items", "interactions", "labels", "sources")}


def hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and "timgen-" in p.name)


def test_build_refuses_a_folder_holding_files_it_did_not_write(data, tmp_path):
    project = tmp_path / "thesis"
    project.mkdir()
    (project / "thesis.txt").write_text("three years of work")
    result = invoke_cli("build", project, data_dir=data)
    assert_fails_in_one_line(result, 2, "OutputFolderError", str(project), "thesis.txt", "--force")
    assert (project / "thesis.txt").read_text() == "three years of work"
    assert sorted(p.name for p in project.iterdir()) == ["thesis.txt"]
    assert hidden_leftovers(tmp_path) == []


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("target", ["data dir", "parent of the data dir", "store folder", "parent of the store"])
def test_build_never_replaces_the_data_dir_the_store_or_their_parents(data, tmp_path, target, force):
    store_dir = tmp_path / "elsewhere" / "db"
    store_dir.mkdir(parents=True)
    shutil.copy2(data / "store.sqlite", store_dir / "store.sqlite")
    (store_dir / "notes.txt").write_text("mine")
    out = {"data dir": data, "parent of the data dir": data.parent, "store folder": store_dir,
           "parent of the store": store_dir.parent}[target]
    before = {"data": files(data), "store": files(store_dir)}
    counts = rows(store_dir / "store.sqlite")
    result = invoke_cli("--db", f"sqlite:///{store_dir / 'store.sqlite'}", "build", out,
                        *(["--force"] if force else []), data_dir=data)
    assert_fails_in_one_line(result, 2, "OutputFolderError", str(out))
    assert {"data": files(data), "store": files(store_dir)} == before
    assert rows(store_dir / "store.sqlite") == counts
    assert hidden_leftovers(out.parent) == [] and not list(out.rglob(MARKER))


def test_build_dot_in_a_project_folder_is_one_line(data, tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "thesis.txt").write_text("keep")
    shutil.move(data, project / "timgen-data")  # the default data dir: ./timgen-data
    before = files(project)
    counts = rows(project / "timgen-data" / "store.sqlite")
    monkeypatch.chdir(project)
    for args in (["build", "."], ["build", ".", "--force"], ["build", ".."]):
        result = invoke_cli(*args)
        line = assert_fails_in_one_line(result, 2, "OutputFolderError")
        assert str(project if args[1] == "." else tmp_path) in line
    assert files(project) == before and rows(project / "timgen-data" / "store.sqlite") == counts
    assert hidden_leftovers(tmp_path) == []


def test_rebuild_replaces_what_build_wrote_and_keeps_the_salt(data, tmp_path):
    out = tmp_path / "out" / "ds"
    first = invoke_cli("build", out, data_dir=data)
    assert first.returncode == 0, first.stderr
    assert json.loads((out / MARKER).read_text())["command"] == "build"
    (out / ".pseudonym_salt").write_text("salt\n")
    (out / "interactions" / "old-00000-of-00001.parquet").write_bytes(b"from an earlier build")
    again = invoke_cli("build", out, "--min-interactions", "25", data_dir=data)
    assert again.returncode == 0, again.stderr
    assert not (out / "interactions" / "old-00000-of-00001.parquet").exists()
    assert json.loads((out / "build.json").read_text())["parameters"]["min_interactions"] == 25
    assert (out / ".pseudonym_salt").read_text() == "salt\n"
    assert hidden_leftovers(out.parent) == []


def test_force_replaces_a_foreign_folder_but_not_the_data_dir(data, tmp_path):
    foreign = tmp_path / "scratch"
    foreign.mkdir()
    (foreign / "old.txt").write_text("disposable")
    result = invoke_cli("build", foreign, "--force", data_dir=data)
    assert result.returncode == 0, result.stderr
    assert not (foreign / "old.txt").exists() and (foreign / "build.json").is_file()
    before = files(data)
    refused = invoke_cli("build", data, "--force", data_dir=data)
    assert_fails_in_one_line(refused, 2, "OutputFolderError", str(data), "data dir")
    assert files(data) == before


def test_a_dataset_folder_of_an_earlier_version_is_rebuilt(data, tmp_path):
    out = tmp_path / "ds"
    assert invoke_cli("build", out, data_dir=data).returncode == 0
    (out / MARKER).unlink()  # as an earlier version wrote it: build.json, no marker
    again = invoke_cli("build", out, data_dir=data)
    assert again.returncode == 0, again.stderr
    assert (out / MARKER).is_file()


def test_stale_staging_of_its_own_is_removed_and_nothing_else(data, tmp_path):
    out = tmp_path / "ds"
    stale = tmp_path / ".ds.timgen-staging-4194303-dead"
    (stale / "interactions").mkdir(parents=True)
    (stale / MARKER).write_text(json.dumps({"command": "build"}))
    (stale / "interactions" / "train-00000-of-00001.parquet").write_bytes(b"x" * 1000)
    empty_stale = tmp_path / ".ds.timgen-old-beef"
    empty_stale.mkdir()
    unrelated = [tmp_path / ".ds.cache", tmp_path / ".git", tmp_path / ".ds.timgen-staging-notmine"]
    for folder in unrelated:
        folder.mkdir()
        (folder / "keep.txt").write_text("mine")
    assert invoke_cli("build", out, data_dir=data).returncode == 0
    assert not stale.exists() and not empty_stale.exists()
    assert all((folder / "keep.txt").read_text() == "mine" for folder in unrelated)


def test_a_killed_build_leaves_staging_that_the_next_build_removes(data, tmp_path):
    out = tmp_path / "ds"
    assert invoke_cli("build", out, data_dir=data).returncode == 0
    before = files(out)
    # A real SIGKILL once every shard is written, just before the swap.
    script = textwrap.dedent("""
        import os, signal, sys
        from pathlib import Path
        from timgen_data.dataset import build_dataset
        from timgen_data.store import Store

        class KillBeforeSwap:
            advanced = 0
            def start(self, task, total=None, unit=""): pass
            def finish(self, task): pass
            def advance(self, task, amount=1):
                KillBeforeSwap.advanced += 1
                if KillBeforeSwap.advanced == 3:
                    os.kill(os.getpid(), signal.SIGKILL)

        build_dataset(Store.open(sys.argv[1]), Path(sys.argv[2]), progress=KillBeforeSwap())
    """)
    killed = subprocess.run([sys.executable, "-c", script, f"sqlite:///{data / 'store.sqlite'}", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    left = hidden_leftovers(tmp_path)
    assert len(left) == 1 and left[0].startswith(".ds.timgen-staging-")
    assert list((tmp_path / left[0] / "interactions").glob("*.parquet"))
    assert files(out) == before  # the killed build never touched the dataset
    assert invoke_cli("build", out, data_dir=data).returncode == 0
    assert hidden_leftovers(tmp_path) == []


def test_a_swap_interrupted_between_its_two_renames_is_undone(tmp_path):
    moved = tmp_path / ".ds.timgen-old-4194303-abcd"
    moved.mkdir()
    (moved / MARKER).write_text(json.dumps({"command": "build"}))
    (moved / "build.json").write_text("{}")
    folder = OutputFolder(tmp_path / "ds", "build")
    assert (tmp_path / "ds" / "build.json").read_text() == "{}" and not moved.exists()
    assert folder.replaces


def test_output_folder_refuses_a_file_and_the_output_of_another_command(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file"):
        OutputFolder(tmp_path / "file", "build")
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / MARKER).write_text(json.dumps({"command": "export"}))
    with pytest.raises(OutputFolderError, match="output of `timgen-data export`"):
        OutputFolder(tmp_path / "export", "build", force=False)


@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    histories, genres = drifting_histories(users=6, steps=5, genres=2, items_per_genre=4)
    return write_contract(tmp_path / "tiny", histories, genres)


def test_export_refuses_a_foreign_folder_and_force_replaces_it(tiny_dataset, tmp_path, data):
    target = tmp_path / "rb" / "tiny"
    target.mkdir(parents=True)
    (target / "paper.tex").write_text("draft")
    refused = invoke_cli("export", tmp_path / "rb", "--dataset", tiny_dataset, "--format", "recbole", data_dir=data)
    assert_fails_in_one_line(refused, 2, "OutputFolderError", str(target), "paper.tex", "--force")
    assert (target / "paper.tex").read_text() == "draft"
    again = invoke_cli("export", tmp_path / "rb", "--dataset", tiny_dataset, "--format", "recbole", data_dir=data)
    assert again.returncode == 2
    forced = invoke_cli("export", tmp_path / "rb", "--dataset", tiny_dataset, "--format", "recbole", "--force",
                        data_dir=data)
    assert forced.returncode == 0, forced.stderr
    assert (target / "tiny.inter").is_file() and not (target / "paper.tex").exists()
    rerun = invoke_cli("export", tmp_path / "rb", "--dataset", tiny_dataset, "--format", "recbole", data_dir=data)
    assert rerun.returncode == 0, rerun.stderr  # its own output is replaced without --force
    assert hidden_leftovers(tmp_path / "rb") == []


def test_export_never_writes_over_the_dataset_it_reads(tiny_dataset, tmp_path, data):
    assert invoke_cli("build", tmp_path / "out" / "ds", data_dir=data).returncode == 0
    before = files(tmp_path / "out" / "ds")
    result = invoke_cli("export", tmp_path / "out", "--dataset", tmp_path / "out" / "ds", "--format", "mmrec",
                        "--force", data_dir=data)
    assert_fails_in_one_line(result, 2, "OutputFolderError", "output of `timgen-data build`")
    assert files(tmp_path / "out" / "ds") == before


def test_experiment_refuses_a_foreign_folder(tiny_dataset, tmp_path, data):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "results.csv").write_text("a,b\n")
    result = invoke_cli("experiment", out, "--dataset", tiny_dataset, "--epochs", "1", data_dir=data)
    assert_fails_in_one_line(result, 2, "OutputFolderError", str(out), "results.csv")
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]


def test_demo_refuses_a_demo_folder_it_did_not_write(data):
    (data / "demo").mkdir()
    (data / "demo" / "slides.pdf").write_bytes(b"%PDF")
    before = files(data)
    result = invoke_cli("demo", "--no-train", data_dir=data)
    assert_fails_in_one_line(result, 2, "OutputFolderError", str(data / "demo"), "slides.pdf")
    assert files(data) == before


def test_disk_full_during_build_keeps_the_previous_dataset(data, tmp_path):
    store = Store.open(f"sqlite:///{data / 'store.sqlite'}")
    try:
        probe = build_dataset(store, tmp_path / "probe").path
    finally:
        store.dispose()
    pages = sum(-(-p.stat().st_size // 4096) * 4096 for p in probe.rglob("*") if p.is_file())
    with small_disk(tmp_path / "disk", int(pages * 1.5)) as disk:
        out = disk / "ds"
        first = invoke_cli("build", out, data_dir=data)
        assert first.returncode == 0, first.stderr
        before = files(out)
        result = invoke_cli("build", out, data_dir=data)
        line = assert_fails_in_one_line(result, 3, "DiskFullError", str(disk), "needs about")
        assert files(out) == before
        assert hidden_leftovers(disk) == []
    assert "free at least" in line
