"""``timgen-data collect youtube``: videos, categories, thumbnails and comments from the
YouTube Data API v3, media through yt-dlp."""

from __future__ import annotations

import click

from timgen_data.alignment.assets import FetchOptions
from timgen_data.cli.collect.media import fetch_planned_media, show_media
from timgen_data.cli.collect.report import show_report
from timgen_data.cli.common_options import base_url_option, credentials_option, json_option, load_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_json
from timgen_data.collectors.youtube import (
    API_KEY_ENV,
    DEFAULT_DAILY_QUOTA,
    MEDIA_MODALITIES,
    YouTubeRequest,
    collect_youtube,
    request_from_file,
    resolve_api_key,
)
from timgen_data.collectors.youtube.request import MAX_RESULTS_LIMIT


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@click.command("youtube")
@click.option("--videos", metavar="ID,ID", help="Video ids, comma-separated (videos.list, 50 ids a call).")
@click.option("--search", "query", metavar="TEXT", help="Videos a search finds (search.list: 100 quota units a page).")
@click.option("--channel", metavar="ID", help="A channel's uploads: its id (UC…) or @handle.")
@click.option("--playlist", metavar="ID", help="The videos of a playlist.")
@click.option("--comments", is_flag=True, help="Also collect comment threads and replies as `comment` interactions.")
@click.option("--media", metavar="video,audio",
              help=f"Plan these media ({', '.join(MEDIA_MODALITIES)}; image = the thumbnail) and fetch the "
                   "source's pending ones right after collecting, as `timgen-data align assets` would later.")
@click.option("--max-results", type=click.IntRange(1, MAX_RESULTS_LIMIT), default=50, show_default=True,
              help="At most this many videos from --search, --channel or --playlist.")
@click.option("--max-comment-pages", type=click.IntRange(1), default=20, show_default=True,
              help="At most this many pages of 100 comment threads per video, and of 100 replies per thread.")
@click.option("--daily-quota", type=click.IntRange(1), default=DEFAULT_DAILY_QUOTA, show_default=True,
              help="Quota units this key may spend per day; the run stops cleanly before passing it.")
@credentials_option(f"A file holding the API key (or JSON {{\"api_key\": …}}); default ${API_KEY_ENV}.")
@base_url_option("The API's root (default https://youtube.googleapis.com/): a proxy or mirror.")
@click.option("--media-base-url", metavar="URL",
              help="Where yt-dlp fetches watch pages (default https://www.youtube.com).")
@load_option("Replay raw responses a live run saved (under <data dir>/raw/youtube/) instead of the network.")
@json_option()
@pass_settings
def youtube(settings: Settings, videos, query, channel, playlist, comments, media, max_results, max_comment_pages,
            daily_quota, credentials, base_url, media_base_url, load, as_json):
    """Collect YouTube videos (metadata, category, thumbnail) and, with --comments, their
    comments with timestamps, through the YouTube Data API v3.

    Give exactly one of --videos, --search, --channel, --playlist (with --load they may be
    left out: the file says what it holds). The key comes from $YOUTUBE_API_KEY or
    --credentials and is never stored, logged or shown. Quota use is counted per day;
    when it runs out the run stops with its place saved: re-run the same command after
    midnight Pacific Time and it resumes.

    \b
    Example:
      timgen-data collect youtube --videos dQw4w9WgXcQ,9bZkp7q19f0 --comments
      timgen-data collect youtube --search "trailer 1999" --max-results 100 --media video,audio
      timgen-data collect youtube --load timgen-data/raw/youtube/search-0123456789abcdef.jsonl
    """
    chosen = {name: value for name, value in
              (("videos", videos), ("search", query), ("channel", channel), ("playlist", playlist)) if value}
    if len(chosen) > 1:
        raise click.UsageError(
            f"give only one of --videos, --search, --channel, --playlist (got --{', --'.join(chosen)})")
    if not chosen and load is None:
        raise click.UsageError("give one of --videos, --search, --channel or --playlist (or --load FILE)")
    if chosen:
        mode, value = next(iter(chosen.items()))
        request = YouTubeRequest(mode, tuple(_split(value)) if mode == "videos" else value, comments=comments,
                                 max_results=max_results, max_comment_pages=max_comment_pages)
    else:
        request = request_from_file(load)
    api_key = None if load is not None else resolve_api_key(credentials)
    options = FetchOptions(youtube_base_url=media_base_url) if media_base_url else FetchOptions()
    store = settings.open_store()
    with RichProgress() as progress:
        report = collect_youtube(
            store, request, data_dir=settings.data_path, api_key=api_key, base_url=base_url, load=load,
            daily_quota=daily_quota, media=_split(media), progress=progress,
        )
        # The align step's fetch, for this source only; nothing to fetch when no video was stored.
        assets = None
        if media and report.stored.get("videos_this_request"):
            assets = fetch_planned_media(settings, store, report.namespace, _split(media), options=options,
                                         progress=progress)
    if as_json:
        print_json({**report.as_dict(), "media": assets.as_dict() if assets else None})
        return
    show_report(report, as_json=False)
    if report.quota:
        quota = report.quota
        console.print(f"quota {quota['day']}: {quota['used']} of {quota['daily_quota']} units used "
                      f"({quota['spent_this_run']} by this run)")
    if report.raw_file:
        console.print(f"raw responses appended to {report.raw_file}")
    if report.message:
        console.print(report.message, style="yellow", markup=False)
    if assets:
        show_media(assets)
