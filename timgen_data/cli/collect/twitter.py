"""``timgen-data collect twitter``: X API v2 recent search or user timelines into the store."""

from __future__ import annotations

import click

from timgen_data.cli.collect.report import partial_report_on_rate_limit, show_report
from timgen_data.cli.common_options import base_url_option, credentials_option, json_option, load_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console
from timgen_data.collectors.twitter import (
    DEFAULT_BASE_URL,
    TOKEN_ENV,
    XReport,
    XRequest,
    collect_twitter,
)


@click.command("twitter")
@click.option("--query", metavar="TEXT", help='A recent-search query (last 7 days), e.g. "#movie has:media".')
@click.option("--users", metavar="NAME,NAME", help="Read these users' timelines instead of searching.")
@click.option("--since", metavar="TIME", help="Earliest post time: ISO 8601 date/time or epoch seconds (UTC).")
@click.option("--until", metavar="TIME", help="Latest post time, the same way.")
@click.option("--max-results", type=click.IntRange(min=1), default=100, show_default=True,
              help="Posts per query or user in one run (and likers per post with --engagement); "
                   "a re-run continues where this stopped.")
@click.option("--engagement", is_flag=True, help="Also collect each post's liking users as `like` interactions.")
@base_url_option("The X API root (a proxy or a test server).", default=DEFAULT_BASE_URL)
@credentials_option(f"A file holding the bearer token (default: ${TOKEN_ENV}).", must_exist=False)
@click.option("--max-wait", type=click.FloatRange(min=0), default=900, show_default=True, metavar="SECONDS",
              help="Longest wait for a rate limit to reset; a longer one stops the run (re-run to resume).")
@load_option("Replay a raw file saved by earlier runs (<data dir>/raw/twitter/*.jsonl) instead of the API.",
             must_exist=False)
@json_option()
@pass_settings
def twitter(settings: Settings, query, users, since, until, max_results, engagement, base_url, credentials,
            max_wait, load, as_json):
    """Collect posts, authors, media and (optionally) likes from the X API v2.

    Posts become items and their authors users. The author `comment`s on each post; a reply
    is also a `comment` on the replied-to post, a quote a `share` of the quoted post, a
    retweet only a `share` of the retweeted post. Likers `like` the post at the time they
    were first collected (the API gives no like time). Photos, videos (best MP4) and video
    previews are planned as assets for `timgen-data align assets`. Every raw response is
    saved under <data dir>/raw/twitter/ for --load; the token comes from $X_BEARER_TOKEN or
    --credentials and is never written anywhere.

    \b
    Example:
      export X_BEARER_TOKEN=...
      timgen-data collect twitter --query "#movie has:media" --since 2026-11-20 --max-results 500
      timgen-data collect twitter --users nasa,esa --engagement
      timgen-data collect twitter --load timgen-data/raw/twitter/search-0123456789abcdef.jsonl
    """
    if load is not None and (query or users):
        raise click.UsageError("--load replays what a raw file holds; leave out --query and --users")
    store = settings.open_store()
    with partial_report_on_rate_limit(lambda partial: _show(partial, as_json)), RichProgress() as progress:
        request = None if load is not None else XRequest.build(
            query=query, users=users or (), since=since, until=until, max_results=max_results,
            engagement=engagement)
        report = collect_twitter(store, request, data_dir=settings.data_path, load=load, base_url=base_url,
                                 credentials_file=credentials, max_wait=max_wait, progress=progress)
    _show(report, as_json)


def _show(report: XReport, as_json: bool) -> None:
    show_report(report, as_json)
    if not as_json:
        for note in report.notes:
            console.print(f"  note: {note}")
