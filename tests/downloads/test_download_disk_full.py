"""A full disk while downloading or extracting: one line naming the folder and the room
needed, exit 3, nothing stored, the partial download kept; once there is room, a re-run
ends like a clean run.

The data dir is a real tmpfs of a few hundred kilobytes; the store lives elsewhere.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.http_server import LoopbackServer
from support.small_disk import fill, small_disk
from support.small_release import ARCHIVE, FOLDER, VARIANT, files_under, small_release, stored_rows, unpacked_size

from timgen_data.downloads import archive as archive_module
from timgen_data.downloads.archive import extract_zip
from timgen_data.errors import DiskFullError

RELEASE = small_release(ratings=20_000)  # about 170 KB, unpacking to about 500 KB
CLEAN_RUN = {"users": 100, "items": 200, "interactions": 20_000, "sources": 1}
NOTHING_STORED = {"users": 0, "items": 0, "interactions": 0, "sources": 0}


@pytest.fixture
def data_dir(tmp_path):
    with small_disk(tmp_path / "data", 2 * 2**20) as folder:
        yield folder


def collect(server, tmp_path: Path, data_dir: Path):
    return invoke_cli("--db", f"sqlite:///{tmp_path / 'store.sqlite'}", "collect", "movielens", "--variant", VARIANT,
                      "--base-url", server.url, data_dir=data_dir)


def test_disk_full_before_a_download_of_known_size(data_dir, tmp_path):
    filler = fill(data_dir, leave_bytes=50_000)
    with LoopbackServer() as server:
        server.add_file(f"/{ARCHIVE}", RELEASE)
        result = collect(server, tmp_path, data_dir)

        assert_fails_in_one_line(result, 3, "DiskFullError", f"{data_dir / 'downloads'} is full",
                                 f"download of {ARCHIVE}", "re-run")
        assert stored_rows(tmp_path / "store.sqlite") == NOTHING_STORED
        assert files_under(data_dir / "downloads") == {}  # refused before writing a byte

        filler.unlink()
        rerun = collect(server, tmp_path, data_dir)

    assert rerun.returncode == 0, rerun.stderr
    assert files_under(data_dir / "downloads")[ARCHIVE] == RELEASE
    assert stored_rows(tmp_path / "store.sqlite") == CLEAN_RUN


def test_disk_full_in_the_middle_of_a_download_keeps_the_partial_file_and_resumes(data_dir, tmp_path):
    filler = fill(data_dir, leave_bytes=60_000)
    with LoopbackServer() as server:
        server.add_file(f"/{ARCHIVE}", RELEASE, chunked=True)  # no Content-Length: no check up front
        result = collect(server, tmp_path, data_dir)

        assert_fails_in_one_line(result, 3, "DiskFullError", f"{data_dir / 'downloads'} is full",
                                 f"download of {ARCHIVE}", "resumed")
        assert stored_rows(tmp_path / "store.sqlite") == NOTHING_STORED
        kept = files_under(data_dir / "downloads")
        part = kept[f".{ARCHIVE}.part"]
        assert ARCHIVE not in kept and 0 < len(part) < len(RELEASE) and RELEASE.startswith(part)

        filler.unlink()
        rerun = collect(server, tmp_path, data_dir)
        last = server.requests[-1]

    assert rerun.returncode == 0, rerun.stderr
    assert (last.range, last.headers["if-range"]) == (f"bytes={len(part)}-", server.etag(RELEASE))
    assert files_under(data_dir / "downloads") == {ARCHIVE: RELEASE}
    assert stored_rows(tmp_path / "store.sqlite") == CLEAN_RUN


def test_disk_full_before_extraction_keeps_the_download_and_the_rerun_finishes(data_dir, tmp_path):
    # Room for the download (170 KB) but not for what it unpacks to (500 KB).
    filler = fill(data_dir, leave_bytes=len(RELEASE) + 120_000)
    with LoopbackServer() as server:
        server.add_file(f"/{ARCHIVE}", RELEASE)
        result = collect(server, tmp_path, data_dir)

        raw = data_dir / "raw" / "movielens"
        assert_fails_in_one_line(result, 3, "DiskFullError", f"{raw} is full", f"the files of {ARCHIVE}",
                                 "free at least")
        assert stored_rows(tmp_path / "store.sqlite") == NOTHING_STORED
        assert files_under(data_dir / "downloads")[ARCHIVE] == RELEASE  # the download is kept
        assert files_under(raw) == {}  # no half extraction, no staging folder
        archive_requests = len([r for r in server.requests if r.path == f"/{ARCHIVE}"])

        filler.unlink()
        rerun = collect(server, tmp_path, data_dir)

    assert rerun.returncode == 0, rerun.stderr
    assert len([r for r in server.requests if r.path == f"/{ARCHIVE}"]) == archive_requests  # not fetched again
    assert stored_rows(tmp_path / "store.sqlite") == CLEAN_RUN


def test_disk_full_while_extracting_leaves_the_previous_extraction(data_dir, tmp_path, monkeypatch):
    # The disk fills up after the check up front (another program writing, say).
    archive = tmp_path / ARCHIVE
    archive.write_bytes(RELEASE)
    dest = data_dir / "raw"
    dest.mkdir()
    (dest / "previous.txt").write_text("an earlier extraction")
    fill(data_dir, leave_bytes=unpacked_size(RELEASE) // 2)
    monkeypatch.setattr(archive_module, "ensure_room", lambda *args, **kwargs: None)

    with pytest.raises(DiskFullError) as info:
        extract_zip(archive, dest)
    assert f"{data_dir} is full" in str(info.value) and f"the files of {ARCHIVE}" in str(info.value)
    assert sorted(p.name for p in data_dir.iterdir()) == ["filler.bin", "raw"]  # the staging folder is gone
    assert files_under(dest) == {"previous.txt": b"an earlier extraction"}
    with zipfile.ZipFile(archive) as zf:
        assert f"{FOLDER}/ratings.dat" in zf.namelist()
