"""Video and audio assets through yt-dlp, used as a library, into the content store.

yt-dlp resolves a watch URL (or any page or direct media link its extractors know)
to one small format, downloads it into a fresh folder inside the store's staging area,
and, for audio when ffmpeg is available, converts it to 16 kHz mono WAV, which is what
the audio encoders read. The file is then sniffed like any other asset and moved into
the store by content hash; the staging folder is always removed.

As with ``fetch.fetch_asset``, a per-asset problem (video unavailable, private or
deleted, nothing under the size limit, network failure) never raises: it comes back
as a "failed" ``FetchOutcome`` with the reason. yt-dlp's own messages go to a
collecting logger, never to the terminal.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.utils import YoutubeDLError

from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.fetch import DEFAULT_MAX_BYTES, FetchOutcome, human_size
from timgen_data.alignment.sniff import SNIFF_BYTES, fits_modality, sniff
from timgen_data.errors import AssetError
from timgen_common.progress import SILENT, Progress

MEDIA_MODALITIES = ("video", "audio")
AUDIO_SAMPLE_RATE = 16_000  # what timgen_data.alignment.encoders expect; see encoders.base
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_UNFINISHED = (".part", ".ytdl", ".temp", ".tmp")  # yt-dlp's files of a download still under way
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OURS = ("outtmpl", "paths", "logger")  # options that keep files in staging and messages off the terminal


@dataclass(frozen=True)
class MediaRequest:
    url: str  # a watch URL, or any URL yt-dlp handles (its generic extractor takes direct .mp4 links)
    modality: str  # "video" | "audio"


def youtube_url(video_id: str, *, base_url: str = "https://www.youtube.com") -> str:
    """The watch URL of a YouTube video id; AssetError if the id is not 11 of [A-Za-z0-9_-]."""
    if not isinstance(video_id, str) or not _VIDEO_ID.fullmatch(video_id):
        raise AssetError(f"{video_id!r} is not a YouTube video id (11 characters of A-Z, a-z, 0-9, _ and -)")
    return f"{base_url.rstrip('/')}/watch?v={video_id}"


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def fetch_media(
    request: MediaRequest,
    store: ContentStore,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    rate_limit: int | None = 2 * 2**20,
    max_height: int = 360,
    retries: int = 3,
    socket_timeout: float = 30.0,
    progress: Progress = SILENT,
    ydl_options: dict[str, Any] | None = None,
) -> FetchOutcome:
    """Download ``request.url`` with yt-dlp as a small video or audio file into ``store``.

    ``ydl_options`` are extra yt-dlp options applied over ours (except those that decide
    where files go and where messages go); extra ``progress_hooks`` run alongside ours.
    """
    if request.modality not in MEDIA_MODALITIES:
        raise ValueError(f"fetch_media handles {' and '.join(MEDIA_MODALITIES)}, not {request.modality!r}")
    clashing = sorted(set(ydl_options or {}) & set(_OURS))
    if clashing:
        raise ValueError(f"ydl_options may not set {', '.join(clashing)}: fetch_media decides those")

    workdir = store.staging_dir(prefix="media-")
    logger = _CollectingLogger()
    hook = _ProgressHook(progress, max_bytes)
    options = _options(request.modality, workdir, logger, hook, max_bytes, rate_limit, max_height, retries,
                       socket_timeout)
    if ydl_options:
        extra = dict(ydl_options)
        extra_hooks = list(extra.pop("progress_hooks", []))
        options.update(extra)
        options["progress_hooks"] = [*extra_hooks, hook]
    try:
        try:
            with yt_dlp.YoutubeDL(options) as ydl:
                info = ydl.extract_info(request.url, download=True)
        except _TooLarge as exc:
            return _failed(request, str(exc))
        except YoutubeDLError as exc:  # DownloadError, ExtractorError, PostProcessingError, network errors
            return _failed(request, _plain(str(exc)) or logger.last_error() or type(exc).__name__)
        finally:
            hook.finish_all()
        produced = _produced_file(info, workdir)
        if produced is None:
            return _failed(request, logger.size_refusal(max_bytes) or "larger than the limit or no format fits")
        size = produced.stat().st_size
        if size > max_bytes:  # e.g. the WAV made from a compressed download
            return _failed(request, f"larger than the {human_size(max_bytes)} limit ({size} bytes after download)")
        with open(produced, "rb") as f:
            mime, extension = sniff(f.read(SNIFF_BYTES))
        if not fits_modality(mime, request.modality):
            return _failed(request, f"bytes are {mime or 'of an unknown type'}, expected {request.modality}")
        blob = store.put_file(produced, mime=mime, extension=extension or "bin")
        return FetchOutcome("ok", blob, None, request.url)
    except OSError as exc:  # our own disk; recorded on the asset like any other failure
        return _failed(request, f"could not store the media: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _options(
    modality: str,
    workdir: Path,
    logger: _CollectingLogger,
    hook: _ProgressHook,
    max_bytes: int,
    rate_limit: int | None,
    max_height: int,
    retries: int,
    socket_timeout: float,
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "outtmpl": str(workdir / "%(id)s.%(ext)s"),  # ids only: titles are outside input
        "restrictfilenames": True,
        "max_filesize": max_bytes,
        "ratelimit": rate_limit,
        "retries": retries,
        "fragment_retries": retries,
        "socket_timeout": socket_timeout,
        "noplaylist": True,
        "playlist_items": "1",  # a page that is a playlist still gives one asset
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": logger,
        "progress_hooks": [hook],
        "overwrites": True,
    }
    if modality == "video":
        options["format"] = f"best[height<={max_height}][ext=mp4]/best[height<={max_height}]/worst"
    else:
        options["format"] = "bestaudio[ext=m4a]/bestaudio/worst"
        if ffmpeg_available():  # without it, keep the container as downloaded; decode copes
            options["postprocessors"] = [{"key": "FFmpegExtractAudio", "preferredcodec": "wav"}]
            options["postprocessor_args"] = {"extractaudio": ["-ar", str(AUDIO_SAMPLE_RATE), "-ac", "1"]}
    return options


def _produced_file(info: dict[str, Any] | None, workdir: Path) -> Path | None:
    """The finished file yt-dlp left in ``workdir``, or None if it wrote none."""
    root = workdir.resolve()
    for path in _requested_paths(info):
        candidate = Path(path).resolve()
        if candidate.is_file() and candidate.is_relative_to(root):
            return candidate
    finished = [p for p in workdir.rglob("*") if p.is_file() and not p.name.endswith(_UNFINISHED)]
    return max(finished, key=lambda p: p.stat().st_size) if finished else None


def _requested_paths(info: dict[str, Any] | None) -> list[str]:
    if not info:
        return []
    paths = [d["filepath"] for d in info.get("requested_downloads") or [] if d.get("filepath")]
    for entry in info.get("entries") or []:  # playlists: the one entry we asked for
        paths.extend(_requested_paths(entry))
    return paths


def _failed(request: MediaRequest, error: str) -> FetchOutcome:
    return FetchOutcome("failed", None, error, request.url)


def _plain(message: str) -> str:
    """yt-dlp's error line without colour codes, "ERROR:" and the "(caused by ...)" tail."""
    text = _ANSI.sub("", message).strip().splitlines()[0] if message.strip() else ""
    text = text.removeprefix("ERROR:").strip()
    return re.sub(r"\s*\(caused by .*\)$", "", text)


class _TooLarge(Exception):
    """Raised from the progress hook: the bytes streamed passed the limit (the server lied or did not say)."""


class _ProgressHook:
    """Forwards yt-dlp's downloaded/total bytes to a Progress, and enforces max_bytes."""

    def __init__(self, progress: Progress, max_bytes: int) -> None:
        self.progress = progress
        self.max_bytes = max_bytes
        self.seen: dict[str, float] = {}  # task -> bytes reported so far

    def __call__(self, status: dict[str, Any]) -> None:
        info = status.get("info_dict") or {}
        task = f"media {info.get('id') or '?'}"
        done = status.get("downloaded_bytes")
        if status.get("status") == "downloading" and done is not None:
            if done > self.max_bytes:
                limit = human_size(self.max_bytes)
                raise _TooLarge(f"larger than the {limit} limit (more than {self.max_bytes} bytes received)")
            if task not in self.seen:
                total = status.get("total_bytes") or status.get("total_bytes_estimate")
                self.progress.start(task, total=total, unit="B")
                self.seen[task] = 0
            if done > self.seen[task]:
                self.progress.advance(task, done - self.seen[task])
                self.seen[task] = done
        elif status.get("status") in ("finished", "error") and task in self.seen:
            self.progress.finish(task)
            del self.seen[task]

    def finish_all(self) -> None:
        for task in list(self.seen):
            self.progress.finish(task)
        self.seen.clear()


class _CollectingLogger:
    """yt-dlp's logger: keeps messages for error reports; library code never prints."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def debug(self, msg: str) -> None:
        self.messages.append(("debug", msg))

    def info(self, msg: str) -> None:
        self.messages.append(("info", msg))

    def warning(self, msg: str) -> None:
        self.messages.append(("warning", msg))

    def error(self, msg: str) -> None:
        self.messages.append(("error", msg))

    def last_error(self) -> str | None:
        errors = [_plain(m) for level, m in self.messages if level == "error"]
        return errors[-1] if errors else None

    def size_refusal(self, max_bytes: int) -> str | None:
        """yt-dlp skips a file over max_filesize with only a message; find it."""
        for _, msg in self.messages:
            match = re.search(r"larger than max-filesize \((\d+) bytes", msg)
            if match:
                return f"larger than the {human_size(max_bytes)} limit ({match.group(1)} bytes)"
        return None
