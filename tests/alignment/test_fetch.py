"""fetch_asset against a real loopback HTTP server: type from bytes, size limits, retries, local files.

Waits between attempts go through the injectable ``sleep``; tests record them instead of sleeping.
"""

from __future__ import annotations

import hashlib
import io
import random
import socket

import numpy as np
import pytest
from PIL import Image
from support.http_server import LoopbackServer
from support.media import write_mp4
from support.progress import RecordingProgress

from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.fetch import fetch_asset, human_size
from timgen_data.alignment.sniff import fits_modality, sniff


def png_bytes(seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png_bytes()
PNG_SHA = hashlib.sha256(PNG).hexdigest()


@pytest.fixture(scope="module")
def mp4_bytes(tmp_path_factory) -> bytes:
    return write_mp4(tmp_path_factory.mktemp("mp4") / "clip.mp4")


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def store(tmp_path) -> ContentStore:
    return ContentStore(tmp_path / "store")


@pytest.fixture
def sleeps() -> list[float]:
    return []


def blobs(store: ContentStore) -> list[str]:
    return sorted(p.name for p in store.root.rglob("*") if p.is_file() and ".staging" not in p.parts)


def staging_left(store: ContentStore) -> list[str]:
    return sorted(p.name for p in store.staging.iterdir()) if store.staging.exists() else []


def test_png_is_stored_by_digest_and_deduplicated(server, store, sleeps):
    progress = RecordingProgress()
    url = server.add_file("/a/poster.png", PNG, content_type="image/png")
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append, progress=progress)

    assert (outcome.status, outcome.error, outcome.url) == ("ok", None, url)
    blob = outcome.blob
    assert (blob.sha256, blob.bytes, blob.mime, blob.reused) == (PNG_SHA, len(PNG), "image/png", False)
    assert blob.path == store.path_for(PNG_SHA, "png") and blob.path.read_bytes() == PNG
    assert progress.events[0] == ("start", f"fetch {url}", len(PNG), "B")
    assert sum(e[2] for e in progress.events if e[0] == "advance") == len(PNG)
    assert progress.events[-1] == ("finish", f"fetch {url}")
    [request] = server.requests
    assert request.headers["user-agent"].startswith("timgen-data/")

    other = server.add_file("/mirror/same-bytes.bin", PNG)
    again = fetch_asset(other, store, "image", sleep=sleeps.append)
    assert again.status == "ok" and again.blob.reused and again.blob.path == blob.path
    assert blobs(store) == [f"{PNG_SHA}.png"] and staging_left(store) == []
    assert sleeps == []


def test_503_is_retried_after_the_servers_retry_after(server, store, sleeps):
    url = server.add_file("/p.png", PNG)
    server.add_faults("/p.png", [("status", 503, {"Retry-After": "7"}), ("status", 500)])
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append)

    assert outcome.status == "ok" and outcome.blob.sha256 == PNG_SHA
    assert len(server.requests) == 3
    assert sleeps[0] == 7 and len(sleeps) == 2  # then ordinary backoff for the 500


def test_retry_after_is_capped(server, store, sleeps):
    url = server.add_file("/p.png", PNG)
    server.add_faults("/p.png", [("status", 429, {"Retry-After": "86400"})])
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append, max_retry_after=5)
    assert outcome.status == "ok" and sleeps == [5]


def test_persistent_5xx_fails_after_the_attempts(server, store, sleeps):
    url = server.add_file("/p.png", PNG)
    server.add_faults("/p.png", [("status", 502)] * 3)
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append, max_attempts=3)
    assert outcome.status == "failed" and outcome.blob is None
    assert outcome.error == "HTTP 502 Bad Gateway after 3 attempts"
    assert len(server.requests) == 3 and len(sleeps) == 2
    assert staging_left(store) == []


def test_404_fails_at_once(server, store, sleeps):
    outcome = fetch_asset(server.url + "/gone.png", store, "image", sleep=sleeps.append)
    assert (outcome.status, outcome.error) == ("failed", "HTTP 404 Not Found")
    assert len(server.requests) == 1 and sleeps == []
    assert staging_left(store) == [] and blobs(store) == []


def test_other_4xx_fails_at_once(server, store, sleeps):
    url = server.add_file("/p.png", PNG)
    server.add_faults("/p.png", [("status", 403)])
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append)
    assert outcome.error == "HTTP 403 Forbidden" and len(server.requests) == 1


def test_content_length_over_the_limit_is_refused_before_the_body(server, store, sleeps):
    url = server.add_file("/big.png", PNG)
    outcome = fetch_asset(url, store, "image", max_bytes=1000, sleep=sleeps.append)
    assert outcome.status == "failed"
    assert outcome.error == f"larger than the {human_size(1000)} limit (Content-Length {len(PNG)})"
    assert staging_left(store) == [] and sleeps == []


def test_body_without_content_length_is_counted_and_cut_off(server, store, sleeps):
    data = png_bytes(size=(256, 256))  # big enough to arrive in several chunks
    url = server.add_file("/stream.png", data, chunked=True)
    outcome = fetch_asset(url, store, "image", max_bytes=len(data) // 2, sleep=sleeps.append)
    assert outcome.status == "failed"
    assert "limit (more than" in outcome.error and "bytes received" in outcome.error
    assert staging_left(store) == [] and blobs(store) == [] and sleeps == []

    whole = fetch_asset(url, store, "image", sleep=sleeps.append)  # no Content-Length, within the limit
    assert whole.status == "ok" and whole.blob.path.read_bytes() == data


def test_type_comes_from_the_bytes_not_the_name(server, store, sleeps):
    url = server.add_file("/photo.jpg", PNG, content_type="image/jpeg")
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append)
    assert outcome.status == "ok" and outcome.blob.mime == "image/png"
    assert outcome.blob.path.suffix == ".png"


def test_bytes_of_another_modality_are_refused(server, store, sleeps, mp4_bytes):
    url = server.add_file("/poster.png", mp4_bytes, content_type="image/png")
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append)
    assert (outcome.status, outcome.error) == ("failed", "bytes are video/mp4, expected image")
    assert staging_left(store) == [] and blobs(store) == []

    as_video = fetch_asset(url, store, "video", sleep=sleeps.append)
    assert as_video.status == "ok" and as_video.blob.mime == "video/mp4"


def test_unknown_bytes_are_refused(server, store, sleeps):
    url = server.add_file("/blob.png", b"\x00\x01\x02garbage" * 10)
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append)
    assert outcome.error == "bytes are of an unknown type, expected image"


def test_empty_body_fails(server, store, sleeps):
    url = server.add_file("/empty.png", b"")
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append)
    assert outcome.error == "empty response (0 bytes)"


def test_text_assets(server, store, sleeps):
    url = server.add_file("/plot.txt", "Ein Film über Zeit.\n".encode())
    outcome = fetch_asset(url, store, "text", sleep=sleeps.append)
    assert outcome.status == "ok" and outcome.blob.mime == "text/plain"
    assert outcome.blob.path.suffix == ".txt"


def test_dropped_connection_is_retried(server, store, sleeps):
    data = png_bytes(size=(128, 128))
    url = server.add_file("/drop.png", data)
    server.add_faults("/drop.png", [("drop_after", 1000)])
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append)
    assert outcome.status == "ok" and outcome.blob.path.read_bytes() == data
    assert len(server.requests) == 2 and len(sleeps) == 1
    assert [r.range for r in server.requests] == [None, None]  # small assets start over


def test_connection_dropped_every_time_fails(server, store, sleeps):
    url = server.add_file("/drop.png", PNG)
    server.add_faults("/drop.png", [("drop_after", 100)] * 3)
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append, max_attempts=3)
    assert outcome.status == "failed"
    assert outcome.error.startswith("connection dropped after 3 attempts (")
    assert staging_left(store) == []


def test_unreachable_server_fails_without_raising(store, sleeps):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = fetch_asset(f"http://127.0.0.1:{port}/x.png", store, "image", sleep=sleeps.append, max_attempts=2)
    assert outcome.status == "failed" and outcome.error.startswith("could not connect after 2 attempts")


def test_local_path_and_file_url(tmp_path, store):
    source = tmp_path / "in" / "cover.jpg"
    source.parent.mkdir()
    source.write_bytes(PNG)

    by_path = fetch_asset(str(source), store, "image")
    assert by_path.status == "ok" and by_path.blob.sha256 == PNG_SHA and by_path.blob.mime == "image/png"
    assert source.read_bytes() == PNG  # copied, never moved

    by_url = fetch_asset(source.as_uri(), store, "image")
    assert by_url.status == "ok" and by_url.blob.reused and by_url.blob.path == by_path.blob.path
    assert blobs(store) == [f"{PNG_SHA}.png"]


def test_local_file_problems_are_failures(tmp_path, store):
    source = tmp_path / "cover.png"
    source.write_bytes(PNG)
    assert fetch_asset(str(tmp_path / "missing.png"), store, "image").error.startswith("no such file")
    assert fetch_asset(str(tmp_path), store, "image").error.startswith("no such file")  # a folder
    too_big = fetch_asset(str(source), store, "image", max_bytes=100)
    assert too_big.error == f"larger than the 100 bytes limit (file is {len(PNG)} bytes)"
    assert fetch_asset(str(source), store, "audio").error == "bytes are image/png, expected audio"
    assert fetch_asset("file://example.com/etc/passwd", store, "image").status == "failed"
    assert staging_left(store) == [] and blobs(store) == []


def test_unsupported_scheme_fails(store):
    outcome = fetch_asset("ftp://127.0.0.1/x.png", store, "image")
    assert outcome.status == "failed" and "unsupported URL scheme 'ftp'" in outcome.error


def test_unknown_modality_is_a_programming_error(store):
    with pytest.raises(ValueError, match="unknown modality"):
        fetch_asset("/nowhere.png", store, "smell")


def test_no_path_from_the_url_is_used_on_disk(server, store, sleeps):
    url = server.add_file("/..%2F..%2Fescape.png", PNG)
    outcome = fetch_asset(url, store, "image", sleep=sleeps.append)
    assert outcome.status == "ok"
    assert outcome.blob.path.parent.parent.parent == store.root
    assert all(p.name != "escape.png" for p in store.root.parent.rglob("*"))


def test_sniff_and_fit(mp4_bytes):
    assert sniff(PNG) == ("image/png", "png")
    assert sniff(mp4_bytes) == ("video/mp4", "mp4")
    assert sniff(b"plain words") == ("text/plain", "txt")
    assert sniff("caf\u00e9".encode()[:-1]) == ("text/plain", "txt")  # cut inside a character
    assert sniff(b"nul\x00inside") == (None, None)
    assert sniff(b"\xff\xfe\xfd not utf-8") == (None, None)
    assert sniff(b"") == (None, None)
    assert sniff(random.Random(3).randbytes(64) + b"\x00") == (None, None)

    assert fits_modality("video/mp4", "audio") and fits_modality("audio/x-wav", "audio")
    assert not fits_modality("audio/mp4", "video") and not fits_modality("image/png", "video")
    assert fits_modality("text/plain", "text") and not fits_modality(None, "image")
    with pytest.raises(ValueError):
        fits_modality("image/png", "smell")


def test_human_size():
    assert human_size(50 * 2**20) == "50 MB"
    assert human_size(3 * 2**19) == "1.5 MB"
    assert human_size(2048) == "2 KB"
    assert human_size(100) == "100 bytes"
