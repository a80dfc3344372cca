"""Checksums the user gives: a malformed one fails before any request; a wrong one never
costs a download that was already verified."""

from __future__ import annotations

import hashlib

import pytest
from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.http_server import LoopbackServer
from support.small_release import ARCHIVE, VARIANT, files_under, small_release, stored_rows

from timgen_data.downloads.checksums import checked_digest
from timgen_data.downloads.download import download
from timgen_data.errors import ChecksumMismatchError, UsageError

RELEASE = small_release()
MD5 = hashlib.md5(RELEASE).hexdigest()
SHA256 = hashlib.sha256(RELEASE).hexdigest()
WRONG_MD5 = "0" * 32


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        srv.add_file(f"/{ARCHIVE}", RELEASE)
        srv.add_file(f"/{ARCHIVE}.md5", f"MD5 ({ARCHIVE}) = {MD5}\n".encode())
        yield srv


def collect(server, tmp_path, *options: str):
    return invoke_cli("--db", f"sqlite:///{tmp_path / 'store.sqlite'}", "collect", "movielens", "--variant", VARIANT,
                      "--base-url", server.url, *options, data_dir=tmp_path / "data")


@pytest.mark.parametrize("option, value, digits", [
    ("--md5", "hello", "32"), ("--md5", MD5 + "0", "32"), ("--sha256", MD5, "64"), ("--sha256", "g" * 64, "64"),
])
def test_malformed_checksum_fails_before_any_request(server, tmp_path, option, value, digits):
    result = collect(server, tmp_path, option, value)

    assert_fails_in_one_line(result, 2, "UsageError", f"{option} {value!r}", f"{digits} hexadecimal digits")
    assert server.requests == []
    assert files_under(tmp_path / "data" / "downloads") == {}


def test_malformed_checksum_fails_in_the_library_too(server, tmp_path):
    with pytest.raises(UsageError, match="32 hexadecimal digits"):
        download(server.url + f"/{ARCHIVE}", tmp_path / ARCHIVE, expected_md5="hello")
    assert server.requests == []


def test_checksums_are_accepted_in_either_case_and_with_spaces():
    assert checked_digest(f" {MD5.upper()} ", "md5") == MD5
    assert checked_digest(None, "sha256") is None


def test_wrong_md5_keeps_a_verified_archive(server, tmp_path):
    assert collect(server, tmp_path).returncode == 0  # verified against the published .md5
    before_files = files_under(tmp_path / "data")
    before_rows = stored_rows(tmp_path / "store.sqlite")
    requests_before = len(server.requests)

    result = collect(server, tmp_path, "--md5", WRONG_MD5)

    assert_fails_in_one_line(result, 3, "ChecksumMismatchError", "is kept", f"md5 is {MD5}", f"--md5 {MD5}",
                             "--force")
    assert files_under(tmp_path / "data") == before_files  # the archive's bytes, the extraction, the records
    assert stored_rows(tmp_path / "store.sqlite") == before_rows
    assert len(server.requests) == requests_before  # nothing was downloaded again


def test_wrong_md5_with_force_still_keeps_the_verified_archive(server, tmp_path):
    assert collect(server, tmp_path).returncode == 0
    archive = tmp_path / "data" / "downloads" / ARCHIVE

    result = collect(server, tmp_path, "--md5", WRONG_MD5, "--force")

    # The fresh copy fails the given checksum, so it never replaces the verified one.
    assert_fails_in_one_line(result, 3, "ChecksumMismatchError", WRONG_MD5, MD5)
    assert archive.read_bytes() == RELEASE
    assert sorted(files_under(archive.parent)) == [f".{ARCHIVE}.verified", ARCHIVE]


def test_library_keeps_a_verified_file_that_fails_a_later_checksum(server, tmp_path):
    url, dest = server.url + f"/{ARCHIVE}", tmp_path / ARCHIVE
    download(url, dest, expected_sha256=SHA256)

    with pytest.raises(ChecksumMismatchError, match="is kept"):
        download(url, dest, expected_md5=WRONG_MD5)
    assert dest.read_bytes() == RELEASE
    assert len(server.requests) == 1


def test_an_unverified_file_that_fails_is_replaced_only_by_a_verified_one(server, tmp_path):
    url, dest = server.url + f"/{ARCHIVE}", tmp_path / ARCHIVE
    dest.write_bytes(b"a copy nobody checked")

    with pytest.raises(ChecksumMismatchError, match="copy was deleted"):
        download(url, dest, expected_md5=WRONG_MD5)
    assert dest.read_bytes() == b"a copy nobody checked"  # the failed download never replaced it

    assert download(url, dest, expected_md5=MD5).md5 == MD5
    assert dest.read_bytes() == RELEASE
