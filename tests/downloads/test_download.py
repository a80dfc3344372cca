"""download() and fetch_text() against a real loopback HTTP server with scripted faults.

Waiting between attempts goes through the injectable ``sleep``; tests pass
``sleeps.append`` so they can assert the requested waits without really waiting.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import random
import socket
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from support.http_server import LoopbackServer
from support.progress import RecordingProgress

from timgen_data.downloads.download import DownloadResult, download, fetch_text
from timgen_data.downloads.download_files import PartialFile
from timgen_data.errors import ChecksumMismatchError, DownloadError

DATA = random.Random(1).randbytes(2_000_000)
SHA256 = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        srv.add_file("/ml-1m.zip", DATA)
        yield srv


@pytest.fixture
def sleeps():
    return []


def get(server, dest, sleeps, **kwargs) -> DownloadResult:
    return download(server.url + "/ml-1m.zip", dest, sleep=sleeps.append, **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def partial_from_earlier_run(server, dest: Path, data: bytes) -> None:
    """A partial file as a killed run leaves it: its bytes and the validator they came with."""
    PartialFile.of(dest).begin(server.url + "/ml-1m.zip", server.etag(DATA))
    PartialFile.of(dest).path.write_bytes(data)


def test_plain_download_returns_digests(server, sleeps, tmp_path):
    progress = RecordingProgress()
    dest = tmp_path / "ml-1m.zip"
    result = get(server, dest, sleeps, progress=progress)

    assert result == DownloadResult(dest, server.url + "/ml-1m.zip", len(DATA), SHA256, MD5, False, False)
    assert dest.read_bytes() == DATA
    assert leftovers(tmp_path) == ["ml-1m.zip"]  # no partial file left behind
    [request] = server.requests
    assert (request.method, request.range) == ("GET", None)
    assert request.headers["user-agent"].startswith("timgen-data/")
    assert progress.events[0] == ("start", "download ml-1m.zip", len(DATA), "B")
    assert sum(e[2] for e in progress.events if e[0] == "advance") == len(DATA)
    assert progress.events[-1] == ("finish", "download ml-1m.zip")
    assert sleeps == []


def test_expected_checksums_that_match_are_accepted(server, sleeps, tmp_path):
    result = get(server, tmp_path / "f.zip", sleeps, expected_md5=MD5.upper(), expected_sha256=SHA256)
    assert result.sha256 == SHA256


def test_500_then_success_retries_with_backoff(server, sleeps, tmp_path):
    server.add_faults("/ml-1m.zip", [("status", 500)])
    result = get(server, tmp_path / "f.zip", sleeps)

    assert result.bytes == len(DATA)
    assert [r.range for r in server.requests] == [None, None]
    [wait] = sleeps
    assert 1 <= wait <= 1.5  # first exponential step plus at most 0.5 s of jitter


def test_429_retry_after_is_honoured(server, sleeps, tmp_path):
    server.add_faults("/ml-1m.zip", [("status", 429, {"Retry-After": "1"})])
    result = get(server, tmp_path / "f.zip", sleeps)

    assert result.sha256 == SHA256
    assert len(server.requests) == 2
    assert sleeps == [1.0]


def test_retry_after_http_date_is_honoured(server, sleeps, tmp_path):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    header = email.utils.format_datetime(when, usegmt=True)
    server.add_faults("/ml-1m.zip", [("status", 503, {"Retry-After": header})])
    get(server, tmp_path / "f.zip", sleeps)

    [wait] = sleeps
    assert 27 <= wait <= 30


def test_retry_after_is_capped(server, sleeps, tmp_path):
    server.add_faults("/ml-1m.zip", [("status", 503, {"Retry-After": "86400"})])
    get(server, tmp_path / "f.zip", sleeps, max_retry_after=5)
    assert sleeps == [5]


def test_connection_dropped_mid_body_resumes_with_range(server, sleeps, tmp_path):
    server.add_faults("/ml-1m.zip", [("drop_after", 100_000)])
    dest = tmp_path / "f.zip"
    result = get(server, dest, sleeps)

    assert [r.range for r in server.requests] == [None, "bytes=100000-"]
    assert result.resumed and not result.reused
    assert dest.read_bytes() == DATA
    assert result.sha256 == SHA256
    assert leftovers(tmp_path) == ["f.zip"]


def test_partial_file_from_a_killed_run_is_resumed(server, sleeps, tmp_path):
    partial_from_earlier_run(server, tmp_path / "f.zip", DATA[:123_457])
    progress = RecordingProgress()
    result = get(server, tmp_path / "f.zip", sleeps, progress=progress)

    assert [r.range for r in server.requests] == ["bytes=123457-"]
    assert server.requests[0].headers["if-range"] == server.etag(DATA)
    assert result.resumed
    assert (tmp_path / "f.zip").read_bytes() == DATA
    assert leftovers(tmp_path) == ["f.zip"]
    assert progress.events[:2] == [
        ("start", "download f.zip", len(DATA), "B"),
        ("advance", "download f.zip", 123_457),
    ]


def test_partial_file_that_is_already_complete_gets_416_and_is_verified(server, sleeps, tmp_path):
    (tmp_path / ".f.zip.part").write_bytes(DATA)
    result = get(server, tmp_path / "f.zip", sleeps, expected_sha256=SHA256)

    assert [r.range for r in server.requests] == [f"bytes={len(DATA)}-"]
    assert result.sha256 == SHA256
    assert (tmp_path / "f.zip").read_bytes() == DATA


def test_partial_file_longer_than_the_remote_file_starts_over(server, sleeps, tmp_path):
    partial_from_earlier_run(server, tmp_path / "f.zip", DATA + b"junk")
    result = get(server, tmp_path / "f.zip", sleeps)

    assert [r.range for r in server.requests] == [f"bytes={len(DATA) + 4}-", None]
    assert result.sha256 == SHA256
    assert sleeps == [0.0]  # restarting after a 416 needs no back-off


def test_server_that_ignores_range_restarts_from_scratch(sleeps, tmp_path):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Range"))
        return httpx.Response(200, content=DATA)  # a 200 answer to a Range request

    PartialFile.of(tmp_path / "f.zip").begin("http://mirror.test/f.zip", '"v1"')
    (tmp_path / ".f.zip.part").write_bytes(b"stale bytes")
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = download("http://mirror.test/f.zip", tmp_path / "f.zip", client=client, sleep=sleeps.append)

    assert seen == ["bytes=11-"]
    assert not result.resumed
    assert (tmp_path / "f.zip").read_bytes() == DATA


@pytest.mark.parametrize("which", ["sha256", "md5"])
def test_checksum_mismatch_leaves_nothing(server, sleeps, tmp_path, which):
    wrong = "0" * (64 if which == "sha256" else 32)
    dest = tmp_path / "f.zip"
    with pytest.raises(ChecksumMismatchError) as info:
        get(server, dest, sleeps, **{f"expected_{which}": wrong})

    message = str(info.value)
    actual = SHA256 if which == "sha256" else MD5
    assert "f.zip" in message and wrong in message and actual in message
    assert "re-run" in message and "mirror" in message
    assert leftovers(tmp_path) == []  # neither dest nor the partial file


def test_404_fails_at_once(server, sleeps, tmp_path):
    url = server.url + "/missing.zip"
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "f.zip", sleep=sleeps.append)

    assert len(server.requests) == 1 and sleeps == []
    message = str(info.value)
    assert url in message and "--base-url" in message and "--from-file" in message
    assert leftovers(tmp_path) == []


def test_403_is_not_retried(server, sleeps, tmp_path):
    server.add_faults("/ml-1m.zip", [("status", 403)])
    with pytest.raises(DownloadError, match="403"):
        get(server, tmp_path / "f.zip", sleeps)
    assert len(server.requests) == 1 and sleeps == []


def test_attempts_are_bounded(server, sleeps, tmp_path):
    server.add_faults("/ml-1m.zip", [("status", 500)] * 10)
    with pytest.raises(DownloadError, match="after 3 attempts"):
        get(server, tmp_path / "f.zip", sleeps, max_attempts=3)

    assert len(server.requests) == 3
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] - 0.5  # exponential, give or take the jitter
    assert leftovers(tmp_path) == []


def test_repeated_drops_are_bounded_and_keep_the_partial_file(server, sleeps, tmp_path):
    server.add_faults("/ml-1m.zip", [("drop_after", 1000)] * 10)
    with pytest.raises(DownloadError, match="resumed"):
        get(server, tmp_path / "f.zip", sleeps, max_attempts=4)

    assert [r.range for r in server.requests] == [None, "bytes=1000-", "bytes=2000-", "bytes=3000-"]
    assert leftovers(tmp_path) == [".f.zip.part", ".f.zip.part.json"]  # the bytes and where they came from
    assert (tmp_path / ".f.zip.part").read_bytes() == DATA[:4000]


def test_connection_refused_is_retried_then_reported(sleeps, tmp_path):
    with socket.socket() as s:  # find a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="after 2 attempts"):
        download(f"http://127.0.0.1:{port}/f.zip", tmp_path / "f.zip", max_attempts=2, sleep=sleeps.append)
    assert len(sleeps) == 1


def test_existing_verified_dest_is_reused_without_network(server, sleeps, tmp_path):
    dest = tmp_path / "f.zip"
    dest.write_bytes(DATA)
    result = get(server, dest, sleeps, expected_sha256=SHA256)

    assert result.reused and not result.resumed
    assert (result.sha256, result.md5, result.bytes) == (SHA256, MD5, len(DATA))
    assert server.requests == []


def test_existing_dest_that_fails_verification_is_downloaded_again(server, sleeps, tmp_path):
    dest = tmp_path / "f.zip"
    dest.write_bytes(b"an old, different file")
    result = get(server, dest, sleeps, expected_md5=MD5)

    assert not result.reused
    assert len(server.requests) == 1
    assert dest.read_bytes() == DATA


def test_force_downloads_again_and_discards_the_partial(server, sleeps, tmp_path):
    dest = tmp_path / "f.zip"
    dest.write_bytes(DATA)
    (tmp_path / ".f.zip.part").write_bytes(b"junk")
    result = get(server, dest, sleeps, force=True)

    assert not result.reused and not result.resumed
    assert [r.range for r in server.requests] == [None]
    assert leftovers(tmp_path) == ["f.zip"]


def test_sigkill_mid_download_leaves_no_dest_and_the_next_run_resumes(server, sleeps, tmp_path):
    # The child kills itself with SIGKILL right after the first chunk reached disk.
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from timgen_data.downloads.download import download

        class DieOnFirstChunk:
            def start(self, task, total=None, unit=""): pass
            def advance(self, task, amount=1):
                os.kill(os.getpid(), signal.SIGKILL)
            def finish(self, task): pass

        download(sys.argv[1], Path(sys.argv[2]), progress=DieOnFirstChunk())
        """
    )
    dest = tmp_path / "f.zip"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    child = subprocess.run(
        [sys.executable, "-c", script, server.url + "/ml-1m.zip", str(dest)], env=env, timeout=60
    )
    assert child.returncode == -9
    assert not dest.exists()
    kept = (tmp_path / ".f.zip.part").stat().st_size
    assert 0 < kept < len(DATA)

    result = get(server, dest, sleeps)
    assert server.requests[-1].range == f"bytes={kept}-"
    assert result.resumed and dest.read_bytes() == DATA


def test_fetch_text_returns_body_or_none_on_404(server, sleeps):
    server.add_file("/ml-1m.zip.md5", b"abc123  ml-1m.zip\n")
    server.add_faults("/ml-1m.zip.md5", [("status", 502)])

    assert fetch_text(server.url + "/ml-1m.zip.md5", sleep=sleeps.append) == "abc123  ml-1m.zip\n"
    assert len(sleeps) == 1
    assert fetch_text(server.url + "/nope.md5", sleep=sleeps.append) is None


def test_unsupported_url_is_a_download_error_not_retried(sleeps, tmp_path):
    with pytest.raises(DownloadError, match="ftp://"):
        download("ftp://files.example/f.zip", tmp_path / "f.zip", sleep=sleeps.append)
    assert sleeps == []
