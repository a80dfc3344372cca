"""Archives may not unpack to more than their limits allow: a zip bomb is refused from its
central directory before anything is written, and a zip that lies about its sizes is
stopped while writing."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest
from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.http_server import LoopbackServer
from support.small_release import ARCHIVE, FOLDER, VARIANT, files_under, small_release, stored_rows, unpacked_size

from timgen_data.downloads.archive import extract_zip
from timgen_data.downloads.download_limits import UnpackLimits, limits_in_effect
from timgen_data.errors import ArchiveError

BOMB_UNPACKED = 200 * 2**20


def zeros_zip(unpacked: int, name: str = f"{FOLDER}/ratings.dat") -> bytes:
    """A zip of one member of ``unpacked`` zero bytes: about 1 MB of zip per 200 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(name, "w") as out:
            block = b"\0" * 2**20
            for start in range(0, unpacked, len(block)):
                out.write(block[: unpacked - start])
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zeros_zip(BOMB_UNPACKED)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_zip_bomb_is_refused_before_anything_is_written(bomb, tmp_path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(bomb)
    assert len(bomb) < 2_000_000  # a small download...

    with pytest.raises(ArchiveError) as info:
        extract_zip(archive, tmp_path / "out" / "raw")
    message = str(info.value)
    assert "would unpack to 209.7 MB" in message and "zip bombs" in message and "--max-unpacked-size" in message
    assert "\n" not in message
    assert names(tmp_path) == ["bomb.zip"]  # not even the destination's parent was made


def test_explicit_maximum_replaces_the_ratio(tmp_path):
    data = small_release()
    archive = tmp_path / ARCHIVE
    archive.write_bytes(data)

    with pytest.raises(ArchiveError, match=r"\(--max-unpacked-size\)"):
        extract_zip(archive, tmp_path / "raw", limits=UnpackLimits(max_bytes=unpacked_size(data) - 1))
    with limits_in_effect(unpack=UnpackLimits(max_bytes=unpacked_size(data))):
        extract_zip(archive, tmp_path / "raw")
    assert (tmp_path / "raw" / FOLDER / "ratings.dat").is_file()


def test_ratio_has_a_floor_so_small_archives_of_repetitive_text_pass(tmp_path):
    archive = tmp_path / "small.zip"
    archive.write_bytes(zeros_zip(5 * 2**20))  # 5 MB of zeros: a ratio of hundreds, but small

    extract_zip(archive, tmp_path / "raw")
    assert (tmp_path / "raw" / FOLDER / "ratings.dat").stat().st_size == 5 * 2**20


def lying_zip(real: int, declared: int) -> bytes:
    """A zip whose headers say its one member is ``declared`` bytes while it holds ``real``."""
    raw = bytearray(zeros_zip(real))
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, declared)  # uncompressed size in the central directory
    struct.pack_into("<I", raw, raw.find(b"PK\x03\x04") + 22, declared)  # ... and in the local header
    return bytes(raw)


def test_zip_lying_about_its_sizes_is_stopped_while_writing(tmp_path):
    archive = tmp_path / "liar.zip"
    archive.write_bytes(lying_zip(real=50 * 2**20, declared=1_000))
    dest = tmp_path / "raw"
    dest.mkdir()
    (dest / "previous.txt").write_text("keep me")

    with pytest.raises(ArchiveError) as info:
        extract_zip(archive, dest)
    assert "liar.zip" in str(info.value)
    assert names(tmp_path) == ["liar.zip", "raw"]  # no staging folder left
    assert files_under(dest) == {"previous.txt": b"keep me"}


def test_member_that_yields_more_than_declared_is_stopped_by_the_byte_count(tmp_path, monkeypatch):
    # Whatever the zip reader does with a lying member, the bytes written are counted.
    archive = tmp_path / ARCHIVE
    archive.write_bytes(small_release())
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, info, *a, **k: io.BytesIO(b"x" * (info.file_size + 1)))

    with pytest.raises(ArchiveError, match="unpacks to more than the .* its header declares"):
        extract_zip(archive, tmp_path / "raw")
    assert names(tmp_path) == [ARCHIVE]


def test_zip_bomb_through_the_cli_stores_nothing(bomb, tmp_path):
    with LoopbackServer() as server:
        server.add_file(f"/{ARCHIVE}", bomb)
        result = invoke_cli("--db", f"sqlite:///{tmp_path / 'store.sqlite'}", "collect", "movielens",
                            "--variant", VARIANT, "--base-url", server.url, data_dir=tmp_path / "data")

    assert_fails_in_one_line(result, 3, "ArchiveError", ARCHIVE, "zip bombs", "nothing was extracted",
                             "--max-unpacked-size")
    assert stored_rows(tmp_path / "store.sqlite") == {"users": 0, "items": 0, "interactions": 0, "sources": 0}
    assert names(tmp_path / "data" / "raw" / "movielens") == []


def test_max_unpacked_size_option_reaches_the_extraction(tmp_path):
    with LoopbackServer() as server:
        server.add_file(f"/{ARCHIVE}", small_release())
        result = invoke_cli("--db", f"sqlite:///{tmp_path / 'store.sqlite'}", "collect", "--max-unpacked-size",
                            "10KB", "movielens", "--variant", VARIANT, "--base-url", server.url,
                            data_dir=tmp_path / "data")

    assert_fails_in_one_line(result, 3, "ArchiveError", "over the 10.0 KB allowed (--max-unpacked-size)")
    assert stored_rows(tmp_path / "store.sqlite")["interactions"] == 0
