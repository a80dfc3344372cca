"""Downloads stay within their limits: a deadline over every attempt, a minimum rate per
attempt, a maximum size; each stop is one line and keeps what was received.

The trickling and hanging servers are real loopback servers; the limits in the tests are
fractions of a second, so each case ends in about that long. No test asserts a duration.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import click
import pytest
from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.http_server import LoopbackServer
from support.small_release import ARCHIVE, VARIANT, files_under, small_release, stored_rows

from timgen_data.cli.download_limits import ByteSize, Duration
from timgen_data.downloads.download import download, fetch_text
from timgen_data.downloads.download_limits import (
    DownloadLimits,
    current_download_limits,
    limits_in_effect,
)
from timgen_data.errors import DownloadLimitError

DATA = random.Random(3).randbytes(200_000)
RELEASE = small_release()
# Quick to trip: an attempt must bring 10 KB/s over each 0.2 s.
SLOW = DownloadLimits(deadline=30, min_rate=10_000, rate_window=0.2)


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        srv.add_file("/f.bin", DATA)
        srv.add_file(f"/{ARCHIVE}", RELEASE)
        yield srv


def collect(server, tmp_path: Path, *group_options: str, env: dict[str, str] | None = None):
    """``collect [group options] movielens --variant 10m --base-url <server>`` with a store outside the data dir."""
    return invoke_cli("--db", f"sqlite:///{tmp_path / 'store.sqlite'}", "collect", *group_options, "movielens",
                      "--variant", VARIANT, "--base-url", server.url, data_dir=tmp_path / "data", env=env)


def downloads(tmp_path: Path) -> dict[str, bytes]:
    return files_under(tmp_path / "data" / "downloads")


NOTHING_STORED = {"users": 0, "items": 0, "interactions": 0, "sources": 0}


def test_trickling_server_stops_at_the_deadline_through_the_cli(server, tmp_path):
    server.add_faults(f"/{ARCHIVE}", [("trickle", 0.02)] * 10)
    result = collect(server, tmp_path, "--download-deadline", "1s")

    assert_fails_in_one_line(result, 3, "DownloadLimitError", "did not finish within 1.0 s", "--download-deadline",
                             "re-run resumes")
    assert stored_rows(tmp_path / "store.sqlite") == NOTHING_STORED
    kept = downloads(tmp_path)
    assert ARCHIVE not in kept
    part = kept[f".{ARCHIVE}.part"]
    assert 0 < len(part) < len(RELEASE) and RELEASE.startswith(part)  # what came is kept to resume
    assert not (tmp_path / "data" / "raw").exists()


def test_hung_server_stops_at_the_deadline_through_the_cli(server, tmp_path):
    server.add_faults(f"/{ARCHIVE}", [("hang",)] * 10)
    result = collect(server, tmp_path, env={"TIMGEN_DOWNLOAD_DEADLINE": "0.5"})

    assert_fails_in_one_line(result, 3, "DownloadLimitError", "did not finish within 0.5 s", "nothing was written")
    assert stored_rows(tmp_path / "store.sqlite") == NOTHING_STORED
    assert downloads(tmp_path) == {}


def test_a_resumed_run_after_the_deadline_finishes_like_a_clean_one(server, tmp_path):
    server.add_faults(f"/{ARCHIVE}", [("trickle", 0.02)])
    assert collect(server, tmp_path, "--download-deadline", "0.5").returncode == 3
    kept = len(downloads(tmp_path)[f".{ARCHIVE}.part"])

    result = collect(server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert server.requests[-1].range == f"bytes={kept}-"
    assert downloads(tmp_path)[ARCHIVE] == RELEASE
    assert stored_rows(tmp_path / "store.sqlite") == {"users": 10, "items": 200, "interactions": 2000, "sources": 1}


def test_trickling_attempt_fails_its_minimum_rate_and_the_next_attempt_resumes(server, tmp_path):
    server.add_faults("/f.bin", [("trickle", 0.01)])
    sleeps = []
    result = download(server.url + "/f.bin", tmp_path / "f.bin", limits=SLOW, sleep=sleeps.append)

    assert result.resumed and (tmp_path / "f.bin").read_bytes() == DATA
    first, second = server.requests
    assert first.range is None and second.range.startswith("bytes=") and second.range != "bytes=0-"
    assert second.headers["if-range"] == server.etag(DATA)
    assert len(sleeps) == 1  # one back-off between the slow attempt and the good one


def test_trickling_on_every_attempt_is_a_download_limit_error(server, tmp_path):
    server.add_faults("/f.bin", [("trickle", 0.01)] * 3)
    with pytest.raises(DownloadLimitError) as info:
        download(server.url + "/f.bin", tmp_path / "f.bin", limits=SLOW, max_attempts=3, sleep=lambda s: None)

    message = str(info.value)
    assert "too slowly" in message and "below the minimum of 10.0 KB/s" in message
    assert "--min-download-rate" in message and "re-run resumes" in message
    assert len(server.requests) == 3
    assert DATA.startswith((tmp_path / ".f.bin.part").read_bytes())


def test_a_stalled_attempt_counts_as_too_slow(server, tmp_path):
    server.add_faults("/f.bin", [("hang",)] * 2)
    with pytest.raises(DownloadLimitError, match="no data for 0.2 s"):
        download(server.url + "/f.bin", tmp_path / "f.bin", limits=SLOW, max_attempts=2, sleep=lambda s: None)
    assert len(server.requests) == 2


def test_a_wait_that_would_pass_the_deadline_stops_at_once(server, tmp_path):
    server.add_faults("/f.bin", [("status", 503, {"Retry-After": "100"})])
    sleeps = []
    with pytest.raises(DownloadLimitError, match="did not finish within 10.0 s"):
        download(server.url + "/f.bin", tmp_path / "f.bin", limits=DownloadLimits(deadline=10), sleep=sleeps.append)
    assert sleeps == [] and len(server.requests) == 1


def test_a_known_size_over_the_maximum_is_refused_before_writing(server, tmp_path):
    result = collect(server, tmp_path, "--max-download-size", "10KB")

    assert_fails_in_one_line(result, 3, "DownloadLimitError", f"is {len(RELEASE) / 1000:.1f} KB",
                             "over the 10.0 KB", "--max-download-size", "nothing was written")
    assert downloads(tmp_path) == {}
    assert stored_rows(tmp_path / "store.sqlite") == NOTHING_STORED


def test_an_unknown_size_is_stopped_when_it_passes_the_maximum(server, tmp_path):
    server.add_file(f"/{ARCHIVE}", RELEASE, chunked=True)  # no Content-Length
    result = collect(server, tmp_path, "--max-download-size", "10KB")

    assert_fails_in_one_line(result, 3, "DownloadLimitError", "sent more than the 10.0 KB", "--max-download-size")
    part = downloads(tmp_path)[f".{ARCHIVE}.part"]
    assert len(part) <= 10_000 and RELEASE.startswith(part)
    assert stored_rows(tmp_path / "store.sqlite") == NOTHING_STORED


def test_fetch_text_is_bounded_by_the_deadline_too(server):
    server.add_file("/f.md5", b"0123456789abcdef0123456789abcdef  f.bin\n")
    server.add_faults("/f.md5", [("trickle", 0.02)] * 5)
    with limits_in_effect(DownloadLimits(deadline=0.3)):
        with pytest.raises(DownloadLimitError, match="did not finish within 0.3 s"):
            fetch_text(server.url + "/f.md5", sleep=lambda s: None)


def test_limits_in_effect_apply_inside_the_block_only():
    chosen = DownloadLimits(deadline=5)
    with limits_in_effect(chosen):
        assert current_download_limits() is chosen
    assert current_download_limits() == DownloadLimits()


@pytest.mark.parametrize("text, expected", [
    ("500", 500), ("10KB", 10_000), ("1.5GB", 1.5e9), ("2GiB", 2 * 2**30), ("10 kb/s", 10_000), ("none", math.inf),
])
def test_sizes_are_read_in_the_usual_units(text, expected):
    assert ByteSize().convert(text, None, None) == expected


@pytest.mark.parametrize("text, expected", [("90", 90), ("90s", 90), ("30m", 1800), ("6h", 21600), ("none", math.inf)])
def test_durations_are_read_in_the_usual_units(text, expected):
    assert Duration().convert(text, None, None) == expected


@pytest.mark.parametrize("option, value", [("--max-download-size", "lots"), ("--download-deadline", "0"),
                                           ("--min-download-rate", "-1KB")])
def test_a_bad_limit_is_a_usage_error(option, value):
    with pytest.raises(click.BadParameter):
        (Duration() if option == "--download-deadline" else ByteSize()).convert(value, None, None)
    result = invoke_cli("collect", option, value, "movielens")
    assert result.returncode == 2 and "Traceback" not in result.stderr and option in result.stderr
