"""extract_zip(): atomic, refuses members that could escape, reports corrupt archives."""

from __future__ import annotations

import hashlib
import stat
import zipfile
from pathlib import Path

import pytest

from timgen_data.downloads.archive import extract_zip, extracted_matches, single_top_folder
from timgen_data.errors import ArchiveError

RATINGS = b"1::1193::5::978300760\n" * 2000
MOVIES = b"1::Toy Story (1995)::Animation|Children's|Comedy\n"


def make_zip(path: Path, members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def movielens_zip(path: Path, **kwargs) -> Path:
    return make_zip(path, {"ml-1m/": b"", "ml-1m/ratings.dat": RATINGS, "ml-1m/movies.dat": MOVIES}, **kwargs)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_good_zip_extracts_atomically_with_marker(tmp_path):
    archive = movielens_zip(tmp_path / "ml-1m.zip")
    dest = tmp_path / "raw"

    assert extract_zip(archive, dest) == dest
    top = single_top_folder(dest)
    assert top == dest / "ml-1m"
    assert (top / "ratings.dat").read_bytes() == RATINGS
    assert (top / "movies.dat").read_bytes() == MOVIES
    sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert extracted_matches(dest, sha256)
    assert not extracted_matches(dest, "0" * 64)
    assert not extracted_matches(tmp_path / "elsewhere", sha256)
    assert names(tmp_path) == ["ml-1m.zip", "raw"]  # no staging folder left


def test_extracting_again_replaces_the_old_folder(tmp_path):
    archive = movielens_zip(tmp_path / "ml-1m.zip")
    dest = tmp_path / "raw"
    dest.mkdir()
    (dest / "stale.txt").write_text("from an older archive")

    extract_zip(archive, dest)
    assert names(dest) == [".extracted", "ml-1m"]
    assert names(tmp_path) == ["ml-1m.zip", "raw"]


def test_single_top_folder_is_dest_when_there_are_several_entries(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"a/x.txt": b"x", "b.txt": b"b"})
    dest = extract_zip(archive, tmp_path / "out")
    assert single_top_folder(dest) == dest


@pytest.mark.parametrize(
    "member",
    ["../evil.txt", "ml-1m/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt", "..\\evil.txt", "\\evil.txt"],
)
def test_members_that_escape_are_refused(tmp_path, member):
    work = tmp_path / "work"
    work.mkdir()
    archive = make_zip(tmp_path / "bad.zip", {"ml-1m/ok.txt": b"fine", member: b"owned"})

    with pytest.raises(ArchiveError) as info:
        extract_zip(archive, work / "out")
    assert repr(member) in str(info.value)
    assert names(work) == []  # neither dest nor a staging folder
    assert names(tmp_path) == ["bad.zip", "work"]  # nothing written next to the work folder
    assert not Path("/tmp/evil.txt").exists()


def test_symlink_member_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", RATINGS)
        link = zipfile.ZipInfo("ml-1m/passwd")
        link.create_system = 3  # Unix, so external_attr carries the file mode
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")

    with pytest.raises(ArchiveError, match="symbolic link") as info:
        extract_zip(archive, tmp_path / "out")
    assert "ml-1m/passwd" in str(info.value)
    assert names(tmp_path) == ["link.zip"]


def test_truncated_zip_is_reported_and_leaves_nothing(tmp_path):
    good = movielens_zip(tmp_path / "good.zip").read_bytes()
    archive = tmp_path / "ml-1m.zip"
    archive.write_bytes(good[: len(good) // 2])

    with pytest.raises(ArchiveError) as info:
        extract_zip(archive, tmp_path / "raw")
    message = str(info.value)
    assert "ml-1m.zip" in message and "--force" in message and "Delete" in message
    assert names(tmp_path) == ["good.zip", "ml-1m.zip"]


def test_corrupt_member_fails_its_crc_and_keeps_the_previous_extraction(tmp_path):
    archive = movielens_zip(tmp_path / "ml-1m.zip", compression=zipfile.ZIP_STORED)
    raw = bytearray(archive.read_bytes())
    at = raw.index(RATINGS[:22]) + 10  # inside the stored ratings data
    raw[at] ^= 0xFF
    archive.write_bytes(bytes(raw))
    dest = tmp_path / "raw"
    dest.mkdir()
    (dest / "previous.txt").write_text("keep me")

    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        extract_zip(archive, dest)
    assert names(dest) == ["previous.txt"]
    assert names(tmp_path) == ["ml-1m.zip", "raw"]


def test_missing_archive_is_reported(tmp_path):
    with pytest.raises(ArchiveError, match="does not exist"):
        extract_zip(tmp_path / "nope.zip", tmp_path / "out")
