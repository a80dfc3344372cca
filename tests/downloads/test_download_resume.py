"""Resuming only ever continues the same file: the partial file remembers the validator
(ETag, else Last-Modified) of the response that began it and sends it as ``If-Range``; a
file that changed on the server since is fetched whole, never spliced onto old bytes."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import httpx
import pytest
from support.cli_process import invoke_cli
from support.http_server import LoopbackServer
from support.small_release import ARCHIVE, VARIANT, files_under, small_release, stored_rows

from timgen_data.downloads.download import download
from timgen_data.downloads.download_files import PartialFile, response_validator
from timgen_data.errors import DownloadError

OLD = random.Random(1).randbytes(300_000)
NEW = random.Random(2).randbytes(300_000)


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


def interrupted(server, dest: Path, data: bytes, after: int, **served) -> None:
    """A download of ``data`` that lost its connection after ``after`` bytes, leaving a partial file."""
    server.add_file("/f.bin", data, **served)
    server.add_faults("/f.bin", [("drop_after", after)])
    with pytest.raises(DownloadError):
        download(server.url + "/f.bin", dest, max_attempts=1, sleep=lambda s: None)
    assert PartialFile.of(dest).path.read_bytes() == data[:after]


def test_partial_file_of_an_older_version_starts_over(server, tmp_path):
    dest = tmp_path / "f.bin"
    interrupted(server, dest, OLD, 100_000)
    server.add_file("/f.bin", NEW)  # the server's file changed between the runs

    result = download(server.url + "/f.bin", dest, sleep=lambda s: None)

    last = server.requests[-1]
    assert (last.range, last.headers["if-range"]) == ("bytes=100000-", server.etag(OLD))
    assert result.sha256 == hashlib.sha256(NEW).hexdigest() and not result.resumed
    assert dest.read_bytes() == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_partial_file_of_the_same_version_is_resumed(server, tmp_path):
    dest = tmp_path / "f.bin"
    interrupted(server, dest, OLD, 100_000)

    result = download(server.url + "/f.bin", dest, sleep=lambda s: None)

    assert server.requests[-1].headers["if-range"] == server.etag(OLD)
    assert result.resumed and dest.read_bytes() == OLD


def test_last_modified_is_the_validator_when_there_is_no_etag(server, tmp_path):
    dest = tmp_path / "f.bin"
    interrupted(server, dest, OLD, 100_000, etag=False)
    server.add_file("/f.bin", NEW, etag=False)  # a new file with a later Last-Modified

    result = download(server.url + "/f.bin", dest, sleep=lambda s: None)

    assert server.requests[-1].headers["if-range"].endswith(" GMT")  # the old file's date
    assert dest.read_bytes() == NEW and not result.resumed


def test_partial_file_of_unknown_origin_is_not_resumed_without_a_checksum(server, tmp_path):
    # Bytes with no record of where they came from (an older toolkit, or a server without
    # validators): resuming could splice two versions, and nothing would notice.
    server.add_file("/f.bin", NEW)
    (tmp_path / ".f.bin.part").write_bytes(OLD[:100_000])

    download(server.url + "/f.bin", tmp_path / "f.bin", sleep=lambda s: None)

    assert [r.range for r in server.requests] == [None]
    assert (tmp_path / "f.bin").read_bytes() == NEW


def test_partial_file_of_unknown_origin_is_resumed_when_a_checksum_will_verify_it(server, tmp_path):
    server.add_file("/f.bin", NEW)
    (tmp_path / ".f.bin.part").write_bytes(NEW[:100_000])

    result = download(server.url + "/f.bin", tmp_path / "f.bin", expected_sha256=hashlib.sha256(NEW).hexdigest(),
                      sleep=lambda s: None)

    assert [r.range for r in server.requests] == ["bytes=100000-"]
    assert "if-range" not in server.requests[0].headers
    assert result.resumed and (tmp_path / "f.bin").read_bytes() == NEW


def test_server_without_validators_still_resumes_within_one_call(server, tmp_path):
    server.add_file("/f.bin", NEW, etag=False, last_modified=False)
    server.add_faults("/f.bin", [("drop_after", 100_000)])

    result = download(server.url + "/f.bin", tmp_path / "f.bin", sleep=lambda s: None)

    assert [r.range for r in server.requests] == [None, "bytes=100000-"]
    assert result.resumed and (tmp_path / "f.bin").read_bytes() == NEW


def test_a_range_answer_for_a_changed_file_starts_over(tmp_path):
    # A server that ignores If-Range but still says, in its ETag, that the file changed.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Range"):
            return httpx.Response(206, content=NEW[100_000:], headers={
                "ETag": '"new"', "Content-Range": f"bytes 100000-{len(NEW) - 1}/{len(NEW)}"})
        return httpx.Response(200, content=NEW, headers={"ETag": '"new"'})

    dest = tmp_path / "f.bin"
    PartialFile.of(dest).begin("http://mirror.test/f.bin", '"old"')
    PartialFile.of(dest).path.write_bytes(OLD[:100_000])
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = download("http://mirror.test/f.bin", dest, client=client, sleep=lambda s: None)

    assert dest.read_bytes() == NEW and not result.resumed


def test_a_partial_file_from_another_mirror_is_not_trusted(server, tmp_path):
    dest = tmp_path / "f.bin"
    PartialFile.of(dest).begin("http://elsewhere.test/f.bin", server.etag(NEW))
    PartialFile.of(dest).path.write_bytes(NEW[:100_000])
    server.add_file("/f.bin", NEW)

    download(server.url + "/f.bin", dest, sleep=lambda s: None)
    assert [r.range for r in server.requests] == [None]


@pytest.mark.parametrize("headers, expected", [
    ({"ETag": '"abc"', "Last-Modified": "Tue, 14 Nov 2023 22:13:21 GMT"}, '"abc"'),
    ({"ETag": 'W/"abc"', "Last-Modified": "Tue, 14 Nov 2023 22:13:21 GMT"}, "Tue, 14 Nov 2023 22:13:21 GMT"),
    ({"ETag": 'W/"abc"'}, None),
    ({}, None),
])
def test_only_strong_validators_are_used(headers, expected):
    assert response_validator(httpx.Response(200, headers=headers)) == expected


def test_collect_after_the_release_changed_on_the_mirror_stores_the_new_release(tmp_path):
    old, new = small_release(seed=1), small_release(seed=2)
    with LoopbackServer() as server:
        server.add_file(f"/{ARCHIVE}", old)
        server.add_faults(f"/{ARCHIVE}", [("trickle", 0.02)])
        store = ("--db", f"sqlite:///{tmp_path / 'store.sqlite'}")
        args = ("movielens", "--variant", VARIANT, "--base-url", server.url)
        stopped = invoke_cli(*store, "collect", "--download-deadline", "0.5", *args, data_dir=tmp_path / "data")
        assert stopped.returncode == 3 and (tmp_path / "data" / "downloads" / f".{ARCHIVE}.part").exists()
        server.add_file(f"/{ARCHIVE}", new)

        result = invoke_cli(*store, "collect", *args, data_dir=tmp_path / "data")

    assert result.returncode == 0, result.stderr
    assert server.requests[-1].headers["if-range"] == server.etag(old)
    assert files_under(tmp_path / "data" / "downloads") == {ARCHIVE: new}
    assert stored_rows(tmp_path / "store.sqlite")["interactions"] == 2000
