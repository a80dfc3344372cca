"""fetch_media with a real yt-dlp against the loopback server.

yt-dlp's generic extractor takes a direct media URL (served with a video/ or audio/
Content-Type), so no test touches YouTube. ffmpeg is only needed for the WAV conversion.
"""

from __future__ import annotations

import hashlib
import io
import shutil

import numpy as np
import pytest
import soundfile as sf
from support.http_server import LoopbackServer
from support.media import write_mp4
from support.progress import RecordingProgress

from timgen_data.alignment import youtube_media
from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.youtube_media import MediaRequest, fetch_media, youtube_url
from timgen_data.errors import AssetError


@pytest.fixture(scope="module")
def mp4_bytes(tmp_path_factory) -> bytes:
    return write_mp4(tmp_path_factory.mktemp("mp4") / "clip.mp4")


@pytest.fixture(scope="module")
def wav_bytes() -> bytes:
    t = np.arange(44_100 // 2) / 44_100
    tone = 0.2 * np.sin(2 * np.pi * 440 * t)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([tone, tone], axis=1).astype(np.float32), 44_100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def server(mp4_bytes, wav_bytes):
    with LoopbackServer() as srv:
        srv.add_file("/clip.mp4", mp4_bytes, content_type="video/mp4")
        srv.add_file("/streamed.mp4", mp4_bytes, content_type="video/mp4", chunked=True)
        srv.add_file("/tone.wav", wav_bytes, content_type="audio/wav")
        srv.add_file("/page.html", b"<html><body>no media here</body></html>", content_type="text/html")
        yield srv


@pytest.fixture
def store(tmp_path) -> ContentStore:
    return ContentStore(tmp_path / "store")


def staging_left(store: ContentStore) -> list[str]:
    return sorted(p.name for p in store.staging.rglob("*")) if store.staging.exists() else []


def test_video_lands_in_the_store(server, store, mp4_bytes):
    progress = RecordingProgress()
    url = server.url + "/clip.mp4"
    outcome = fetch_media(MediaRequest(url, "video"), store, progress=progress)

    assert (outcome.status, outcome.error, outcome.url) == ("ok", None, url)
    blob = outcome.blob
    assert blob.sha256 == hashlib.sha256(mp4_bytes).hexdigest() and blob.mime == "video/mp4"
    assert blob.path == store.path_for(blob.sha256, "mp4") and blob.path.read_bytes() == mp4_bytes
    assert progress.events[0] == ("start", "media clip", len(mp4_bytes), "B")
    assert sum(e[2] for e in progress.events if e[0] == "advance") == len(mp4_bytes)
    assert progress.events[-1] == ("finish", "media clip")
    assert staging_left(store) == []

    again = fetch_media(MediaRequest(url, "video"), store)
    assert again.status == "ok" and again.blob.reused and again.blob.path == blob.path


def test_missing_video_fails_with_the_reason(server, store):
    outcome = fetch_media(MediaRequest(server.url + "/gone.mp4", "video"), store)
    assert outcome.status == "failed" and outcome.blob is None
    assert "404" in outcome.error and not outcome.error.startswith("ERROR")
    assert staging_left(store) == []


def test_page_without_media_fails(server, store):
    outcome = fetch_media(MediaRequest(server.url + "/page.html", "video"), store)
    assert outcome.status == "failed" and "Unsupported URL" in outcome.error
    assert staging_left(store) == []


def test_file_over_the_limit_is_refused(server, store, mp4_bytes):
    outcome = fetch_media(MediaRequest(server.url + "/clip.mp4", "video"), store, max_bytes=1000)
    assert outcome.status == "failed"
    assert outcome.error == f"larger than the 1000 bytes limit ({len(mp4_bytes)} bytes)"
    assert staging_left(store) == []
    assert not any(p.is_file() for p in store.root.rglob("*"))


def test_stream_without_length_is_cut_off_at_the_limit(server, store):
    outcome = fetch_media(MediaRequest(server.url + "/streamed.mp4", "video"), store, max_bytes=500)
    assert outcome.status == "failed" and "limit (more than 500 bytes received)" in outcome.error
    assert staging_left(store) == []


def test_audio_bytes_are_not_a_video(server, store):
    outcome = fetch_media(MediaRequest(server.url + "/tone.wav", "video"), store)
    assert outcome.status == "failed" and outcome.error == "bytes are audio/x-wav, expected video"
    assert staging_left(store) == []


def test_audio_kept_as_downloaded_without_ffmpeg(server, store, wav_bytes, monkeypatch):
    monkeypatch.setattr(youtube_media, "ffmpeg_available", lambda: False)
    outcome = fetch_media(MediaRequest(server.url + "/tone.wav", "audio"), store)
    assert outcome.status == "ok" and outcome.blob.mime == "audio/x-wav"
    assert outcome.blob.path.read_bytes() == wav_bytes


def test_audio_is_converted_to_16k_mono_wav(server, store):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not on PATH; yt-dlp needs it to convert audio to WAV")
    outcome = fetch_media(MediaRequest(server.url + "/tone.wav", "audio"), store)
    assert outcome.status == "ok" and outcome.blob.mime == "audio/x-wav"
    info = sf.info(str(outcome.blob.path))
    assert (info.samplerate, info.channels) == (16_000, 1)
    assert abs(info.duration - 0.5) < 0.05
    assert staging_left(store) == []


def test_youtube_url():
    assert youtube_url("dQw4w9WgXcQ") == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert youtube_url("a-b_c-d_e-f", base_url="http://127.0.0.1:9/") == "http://127.0.0.1:9/watch?v=a-b_c-d_e-f"


@pytest.mark.parametrize("bad", ["short", "dQw4w9WgXcQQ", "dQw4w9WgXc!", "../../etc/x", "dQw4w9WgXcQ\n", "", None])
def test_youtube_url_refuses_bad_ids(bad):
    with pytest.raises(AssetError, match="not a YouTube video id"):
        youtube_url(bad)


def test_programming_errors_raise(store):
    with pytest.raises(ValueError, match="not 'image'"):
        fetch_media(MediaRequest("http://127.0.0.1:9/x.png", "image"), store)
    with pytest.raises(ValueError, match="outtmpl"):
        fetch_media(MediaRequest("http://127.0.0.1:9/x.mp4", "video"), store, ydl_options={"outtmpl": "/tmp/x"})
