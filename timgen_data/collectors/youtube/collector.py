"""``collect youtube``: run a request against the YouTube Data API v3 (or replay one).

Orchestration only: ``plan`` decides the next call from the cursor, ``api`` (or ``raw``'s
replay) answers it, ``parse`` turns the answer into records, ``save`` stores them, and
the rows and the new cursor commit together, one call at a time. So a run stopped for
any reason resumes at the first call it had not finished and never stores a row twice;
a finished request run again starts over (refreshing counts and new comments).

Live runs append every answer to ``<data dir>/raw/youtube/<run key>.jsonl``; ``--load``
of that file goes through the same code and gives the same store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from timgen_data.collectors.report import Rejection
from timgen_data.collectors.save import begin_source, finish_source
from timgen_data.collectors.youtube import plan
from timgen_data.collectors.youtube.api import ApiRefusal, QuotaExhausted, YouTubeApi
from timgen_data.collectors.youtube.credentials import resolve_api_key
from timgen_data.collectors.youtube.parse import (
    Origin,
    category_ids,
    listed_video_ids,
    parse_categories,
    parse_comment_threads,
    parse_replies,
    parse_videos,
    threads_with_more_replies,
    uploads_playlist,
)
from timgen_data.collectors.youtube.quota import DEFAULT_DAILY_QUOTA, QuotaLedger, QuotaStop, quota_reset_message
from timgen_data.collectors.youtube.raw import RawLog, ReplayApi, ReplayGap
from timgen_data.collectors.youtube.report import YouTubeReport
from timgen_data.collectors.youtube.request import PAGE_SIZE, YouTubeRequest
from timgen_data.collectors.youtube.save import NAMESPACE, save_comments, save_videos
from timgen_data.errors import DownloadError, UsageError
from timgen_common.progress import SILENT, Progress
from timgen_data.sources import SOURCES
from timgen_data.store import Store, fetch_rows, load_cursor, models, save_cursor, to_json

COLLECTOR = "youtube"
LICENSE = SOURCES[COLLECTOR].license
MEDIA_MODALITIES = ("image", "video", "audio")
SKIPPABLE = (403, 404)  # refusals about one video: skip it with the reason, go on
EARLIER_VIDEO_PARTS = "snippet,contentDetails,statistics"  # what raw files saved before status/topicDetails asked


def raw_path(data_dir: Path, request: YouTubeRequest) -> Path:
    """Where live runs of ``request`` append their raw responses."""
    return Path(data_dir) / "raw" / COLLECTOR / f"{request.run_key}.jsonl"


def request_from_file(path: Path) -> YouTubeRequest:
    """The request a saved raw-response file was made for (its first run line)."""
    replay = ReplayApi(path)
    if not replay.specs:
        raise UsageError(f"{path} does not say which request it holds; give --videos, --search, --channel or "
                         "--playlist as the live run had them")
    return YouTubeRequest.from_spec(replay.specs[0])


def collect_youtube(
    store: Store,
    request: YouTubeRequest,
    *,
    data_dir: Path,
    api_key: str | None = None,
    base_url: str | None = None,
    load: Path | None = None,
    daily_quota: int = DEFAULT_DAILY_QUOTA,
    media: Sequence[str] = (),
    progress: Progress = SILENT,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int = 5,
) -> YouTubeReport:
    """Collect what ``request`` asks for into ``store`` (or replay it from ``load``).

    The key comes from ``api_key`` or ``$YOUTUBE_API_KEY`` (not needed with ``load``).
    ``clock`` gives the time the quota day is taken from; ``sleep`` waits between
    retries (tests inject both). ``media`` only plans: each video's ``youtube:<id>``
    video/audio assets become pending rows that ``align assets`` fetches.

    >>> report = collect_youtube(store, YouTubeRequest("search", "trailer 1999", comments=True),
    ...                          data_dir=Path("timgen-data"))                  # doctest: +SKIP
    >>> report.stopped, report.written["interactions"]                          # doctest: +SKIP
    (False, 1843)
    """
    unknown = [m for m in media if m not in MEDIA_MODALITIES]
    if unknown:
        raise UsageError(f"unknown media {', '.join(unknown)}; choose from {', '.join(MEDIA_MODALITIES)}")
    if load is not None:
        source: _Live | _Replay = _Replay(ReplayApi(Path(load)))
        raw = None
    else:
        key = api_key or resolve_api_key()
        ledger = QuotaLedger(store, daily_quota, clock)
        api = YouTubeApi(key, base_url=base_url, sleep=sleep, max_attempts=max_attempts)
        raw = RawLog(raw_path(data_dir, request), key)
        source = _Live(api, raw, ledger)
    run = _Run(store, request, source, media=tuple(media), progress=progress, clock=clock)
    if raw is not None:
        raw.start_run(request.spec(), int(clock()))
        run.report.raw_file = str(raw.path)
    run.execute()
    return run.finish()


class _Live:
    """Calls the API, spending quota, and saves every answer it gets."""

    def __init__(self, api: YouTubeApi, raw: RawLog, ledger: QuotaLedger):
        self.api, self.raw, self.ledger = api, raw, ledger
        self.url = f"{api.root_url}youtube/v3/"

    def call(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], Origin]:
        self.ledger.charge(method)
        try:
            body = self.api.call(method, params)
        except QuotaExhausted:
            self.ledger.mark_exhausted()
            raise QuotaStop(api_said=True) from None
        except ApiRefusal as refusal:
            refusal.origin = self.raw.refusal(method, params, refusal)
            raise
        return body, self.raw.response(method, params, body)


class _Replay:
    """Answers from a saved file; spends no quota. Files saved before videos.list asked for
    status and topicDetails, and before replies were read, replay as they did then."""

    ledger = None

    def __init__(self, replay: ReplayApi):
        self.replay = replay
        self.url = str(replay.path)
        self.before_replies = False  # the file was saved by a run that asked for fewer video parts and no replies

    def call(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], Origin]:
        try:
            body = self.replay.call(method, params)
        except ApiRefusal as refusal:
            refusal.origin = self.replay.origin(method, params)
            raise
        except ReplayGap:
            if method == "comments.list" and self.before_replies:
                raise RepliesNotSaved(params["parentId"]) from None
            if method != "videos.list" or params.get("part") != plan.VIDEO_PARTS:
                raise
            params = {**params, "part": EARLIER_VIDEO_PARTS}
            body = self.replay.call(method, params)
            self.before_replies = True
        return body, self.replay.origin(method, params)


class RepliesNotSaved(Exception):
    """A --load file from before replies were read has none for this thread."""


class _Run:
    def __init__(self, store: Store, request: YouTubeRequest, source: _Live | _Replay, *, media: tuple[str, ...],
                 progress: Progress, clock: Callable[[], float]):
        self.store, self.request, self.source = store, request, source
        self.media, self.progress, self.clock = media, progress, clock
        self.ledger: QuotaLedger | None = source.ledger
        # Replays keep their own cursor, so replaying never disturbs a live run's resume point.
        self.cursor_key = ("load:" if isinstance(source, _Replay) else "run:") + request.run_key
        self.report = YouTubeReport(COLLECTOR, request.mode, NAMESPACE, source.url, request.sha256)
        self.report.read = {"responses": 0, "videos": 0, "comments": 0}
        self.report.written = {"items": 0, "users": 0, "interactions": 0, "assets": 0}
        self.report.skipped = {"videos_not_found": 0, "comments_skipped": 0, "comment_pages_left": 0,
                               "replies_not_returned": 0, "reply_pages_left": 0}
        if isinstance(source, _Replay):  # lines of the --load file that hold no answer were passed over
            self.report.rejections.extend(source.replay.rejections)
        with store.begin() as conn:
            self.source_id = begin_source(
                conn, collector=COLLECTOR, variant=request.mode, namespace=NAMESPACE, url=source.url,
                sha256=request.sha256, md5=None, license=LICENSE,
            )
            cursor = load_cursor(conn, COLLECTOR, self.cursor_key)
        if cursor is None or cursor.get("complete") or cursor.get("version") != plan.CURSOR_VERSION:
            cursor = plan.new_cursor(request)
        self.cursor = cursor
        self.report.resumed_from = cursor["steps"]

    # -- the loop ---------------------------------------------------------------------------
    def execute(self) -> None:
        self.progress.start("youtube videos", total=None, unit="videos")
        if self.request.comments:
            self.progress.start("youtube comments", total=None, unit="comments")
        try:
            while (call := plan.next_call(self.request, self.cursor)) is not None:
                method, params = call
                try:
                    body, origin = self._call(method, params)
                except ApiRefusal as refusal:
                    self._refused(method, params, refusal)
                    continue
                except RepliesNotSaved as gap:
                    self.report.rejections.add(Rejection(Path(self.source.url).name, 0, f"thread {gap}: replies "
                                                         "not in the file (saved before replies were read)"))
                    self._replies_done(plan.after_replies(self.request, self.cursor, None, 0))
                    continue
                self._handle(method, params, body, origin)
            self._commit(plan.finished(self.cursor))
        except QuotaStop as stop:
            self._stop(quota_reset_message(self.clock(), api_said=stop.api_said,
                                           used=self.ledger.used, daily=self.ledger.daily))
        except ReplayGap as gap:
            self._stop(f"stopped: {gap}; the live run it was saved from stopped there. Re-run the live command to "
                       "finish it, then --load the file again.")
        finally:
            if self.ledger is not None:  # units charged for a call that then failed still count
                with self.store.begin() as conn:
                    self.ledger.save(conn)
            self.progress.finish("youtube videos")
            if self.request.comments:
                self.progress.finish("youtube comments")

    def _call(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], Origin]:
        try:
            answer = self.source.call(method, params)
        except ApiRefusal:
            self.report.read["responses"] += 1  # a refusal is an answer too
            raise
        self.report.read["responses"] += 1
        return answer

    def _handle(self, method: str, params: dict[str, Any], body: dict[str, Any], origin: Origin) -> None:
        if method == "videos.list":
            self._videos(body, origin)
        elif method == "channels.list":
            uploads = uploads_playlist(body)
            if uploads is None and not body.get("items"):
                raise UsageError(f"channel {self.request.target} was not found; check --channel (a channel id "
                                 "like UC… or a handle like @name)")
            self._commit(plan.after_channel(self.cursor, uploads))
        elif method in ("search.list", "playlistItems.list"):
            self._commit(plan.after_listing(self.request, self.cursor, listed_video_ids(body),
                                            body.get("nextPageToken")))
        elif method == "commentThreads.list":
            self._comments(params["videoId"], body, origin)
        elif method == "comments.list":
            self._replies(body, origin)

    def _videos(self, body: dict[str, Any], origin: Origin) -> None:
        categories = self._categories(category_ids(body))
        known = {**self.cursor["categories"], **categories}
        parsed = parse_videos(body, known, origin=origin)
        self.report.read["videos"] += len(body.get("items") or ())
        self.report.rejections.extend(parsed.rejections)
        answered = {video.get("id") for video in body.get("items") or ()}
        # videos.list says nothing about ids it cannot give: deleted and private videos are just absent.
        missing = [v for v in self.cursor["pending"][:PAGE_SIZE] if v not in answered]
        for video in missing:
            self.report.rejections.add(Rejection(*origin, f"video {video} not found: videos.list did not return "
                                                          "it (deleted, private, or a wrong id)"))
        self.report.skipped["videos_not_found"] += len(missing)
        stored = [item.external_id for item in parsed.items]
        new_items, new_assets = self._commit(plan.after_videos(self.cursor, stored, categories),
                                             lambda conn: save_videos(conn, parsed, self.media))
        self.report.written["items"] += new_items
        self.report.written["assets"] += new_assets
        self.progress.advance("youtube videos", len(stored))

    def _categories(self, wanted: set[str]) -> dict[str, str | None]:
        """Names of the category ids not seen before in this run (one call for all of them)."""
        unknown = sorted(wanted - set(self.cursor["categories"]))
        if not unknown:
            return {}
        try:
            body, _ = self._call("videoCategories.list", {"part": "snippet", "id": ",".join(unknown)})
        except ApiRefusal:
            body = {}  # the items are still worth keeping; they just get no category
        names = parse_categories(body)
        return {cid: names.get(cid) for cid in unknown}

    def _comments(self, video: str, body: dict[str, Any], origin: Origin) -> None:
        parsed = parse_comment_threads(body, video, origin=origin)
        self.report.read["comments"] += len(parsed.comments) + parsed.rejections.count
        self.report.rejections.extend(parsed.rejections)
        more = threads_with_more_replies(body, video)  # their replies are read next, by comments.list
        cursor, truncated = plan.after_comments(self.request, self.cursor, body.get("nextPageToken"), more)
        self.report.skipped["comment_pages_left"] += int(truncated)
        new_users, new_rows = self._commit(cursor, lambda conn: save_comments(
            conn, parsed, self.source_id, origin=origin, rejections=self.report.rejections))
        self.report.written["users"] += new_users
        self.report.written["interactions"] += new_rows
        self.progress.advance("youtube comments", len(parsed.comments))

    def _replies(self, body: dict[str, Any], origin: Origin) -> None:
        video = self.cursor["replies"]["threads"][0][0]
        parsed = parse_replies(body, video, origin=origin)
        read = len(body.get("items") or ())
        self.report.read["comments"] += read
        self.report.rejections.extend(parsed.rejections)
        step = plan.after_replies(self.request, self.cursor, body.get("nextPageToken"), read)
        self._replies_done(step, lambda conn: save_comments(
            conn, parsed, self.source_id, origin=origin, rejections=self.report.rejections))
        self.progress.advance("youtube comments", len(parsed.comments))

    def _replies_done(self, step: tuple[dict[str, Any], int, bool],
                      write: Callable[[Connection], Any] | None = None) -> None:
        cursor, left, truncated = step
        self.report.skipped["replies_not_returned"] += left
        self.report.skipped["reply_pages_left"] += int(truncated)
        new_users, new_rows = self._commit(cursor, write) or (0, 0)
        self.report.written["users"] += new_users
        self.report.written["interactions"] += new_rows

    def _refused(self, method: str, params: dict[str, Any], refusal: ApiRefusal) -> None:
        origin = refusal.origin or Origin(method, 0)
        if method == "commentThreads.list" and refusal.status in SKIPPABLE:
            video = params["videoId"]
            self.report.rejections.add(Rejection(*origin, f"video {video}: comments skipped: {refusal.describe()}"))
            self.report.skipped["comments_skipped"] += 1
            self._commit(plan.after_comments(self.request, self.cursor, None)[0])
        elif method == "comments.list" and refusal.status in SKIPPABLE:
            thread = params["parentId"]
            self.report.rejections.add(Rejection(*origin, f"thread {thread}: replies skipped: {refusal.describe()}"))
            self._replies_done(plan.after_replies(self.request, self.cursor, None, 0))
        elif method == "videos.list" and refusal.status in SKIPPABLE:
            batch = params["id"].split(",")
            for video in batch:
                self.report.rejections.add(Rejection(*origin, f"video {video} skipped: {refusal.describe()}"))
            self.report.skipped["videos_not_found"] += len(batch)
            self._commit(plan.after_videos(self.cursor, [], {}))
        elif (method in ("playlistItems.list", "channels.list") and refusal.status in (400, 403, 404)
              or method == "search.list" and refusal.status == 400):
            option = f"--{self.request.mode}"
            hint = "" if self.request.mode == "search" else " (a private or deleted one cannot be read)"
            raise UsageError(f"{option} {self.request.target}: {method} was refused ({refusal.describe()}); "
                             f"check {option}{hint}")
        else:
            raise DownloadError(f"{method} failed: {refusal.describe()}; re-run to try again (it resumes)")

    def _commit(self, cursor: dict[str, Any], write: Callable[[Connection], Any] | None = None) -> Any:
        # The rows, the cursor and the quota used commit together: a kill leaves all or none.
        with self.store.begin() as conn:
            result = write(conn) if write is not None else None
            save_cursor(conn, COLLECTOR, self.cursor_key, cursor)
            if self.ledger is not None:
                self.ledger.save(conn)
        self.cursor = cursor
        return result

    def _stop(self, message: str) -> None:
        self.report.stopped, self.report.message = True, message

    # -- after the loop ---------------------------------------------------------------------
    def finish(self) -> YouTubeReport:
        self.report.stored = self._stored()
        if self.ledger is not None:
            self.report.quota = self.ledger.as_dict()
        counts = {**self.report.stored, "rejected": self.report.rejections.count}
        with self.store.begin() as conn:
            if self.report.stopped:
                conn.execute(models.sources.update().where(models.sources.c.id == self.source_id)
                             .values(status="stopped", counts=to_json(counts)))
            else:
                finish_source(conn, self.source_id, counts)
        return self.report

    def _stored(self) -> dict[str, int]:
        with self.store.begin() as conn:
            users, items, interactions = fetch_rows(conn, """
                SELECT (SELECT COUNT(*) FROM users WHERE source = :ns),
                       (SELECT COUNT(*) FROM items WHERE source = :ns),
                       (SELECT COUNT(*) FROM interactions i JOIN items t ON t.id = i.item_id WHERE t.source = :ns)
            """, {"ns": NAMESPACE})[0]
        return {"videos_this_request": len(self.cursor["stored"]), "items": items, "users": users,
                "interactions": interactions}
