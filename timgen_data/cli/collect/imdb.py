"""``timgen-data collect imdb``: the official TSV dumps, or title and review pages."""

from __future__ import annotations

from pathlib import Path

import click

from timgen_data.alignment.encoders.base import MODALITIES
from timgen_data.cli.collect.media import fetch_planned_media, show_media
from timgen_data.cli.collect.report import partial_report_on_rate_limit, show_report
from timgen_data.cli.common_options import base_url_option, force_option, json_option, load_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_json, print_mapping
from timgen_data.collectors.imdb import DEFAULT_TITLE_TYPES, DUMPS, collect_imdb_dumps, crawl_titles
from timgen_data.collectors.imdb.run import CrawlReport
from timgen_data.errors import UsageError


def _names(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@click.command("imdb")
@click.option("--dumps", metavar="NAMES", help=f"Official dumps to store, comma-separated: {','.join(DUMPS)}.")
@click.option("--title-types", metavar="TYPES", default=",".join(DEFAULT_TITLE_TYPES), show_default=True,
              help="title.basics titleType values to keep.")
@click.option("--from-file", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
              help="A folder holding the dumps (<name>.tsv.gz) you already have: no download.")
@click.option("--titles", metavar="IDS", help="IMDb title ids to crawl, comma-separated (tt0133093,tt0114709).")
@click.option("--reviews/--no-reviews", default=None,
              help="Also crawl each title's user reviews (with --load: as the saved crawl did).")
@click.option("--max-review-pages", type=click.IntRange(min=1), default=5, show_default=True,
              help="Review pages per title at most (each 'load more' is a page).")
@base_url_option("The dumps' mirror (default https://datasets.imdbws.com) or the site's (default https://www.imdb.com).")
@click.option("--delay", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds between page requests (AutoThrottle waits longer when the site is slow).")
@click.option("--user-agent", metavar="UA",
              help="User-Agent for the crawl (default: timgen-data/<version> (+research dataset builder)).")
@click.option("--http-cache", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Cache pages here and reuse them (for development).")
@load_option("Replay pages a live crawl saved (raw/imdb/crawl-*.jsonl) instead of the network.", metavar="FILE")
@click.option("--refresh", is_flag=True, help="Crawl titles again even if an earlier run finished them.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=360, show_default=True,
              help="Stop the crawl after this long (a re-run resumes).")
@click.option("--media", metavar="MODALITIES",
              help=f"Fetch the media found ({','.join(MODALITIES)}) now instead of with `align assets`.")
@force_option("Download the dumps again and store them again even if done before.")
@json_option()
@pass_settings
def imdb(settings: Settings, dumps, title_types, from_file, titles, reviews, max_review_pages, base_url, delay,
         user_agent, http_cache, load, refresh, max_minutes, media, force, as_json):
    """Store IMDb titles from the official dumps, or crawl title pages and user reviews.

    The dumps (https://developer.imdb.com/non-commercial-datasets/) are for personal,
    non-commercial use. The crawl obeys robots.txt, waits between requests and stops
    cleanly when rate-limited; a re-run resumes with the titles not finished.

    \b
    Example:
      timgen-data collect imdb --dumps title.basics,title.ratings
      timgen-data collect imdb --titles tt0133093,tt0114709 --reviews
      timgen-data collect imdb --load timgen-data/raw/imdb/crawl-0123456789abcdef.jsonl
    """
    crawl = bool(titles) or load is not None
    if bool(dumps) == crawl:
        raise UsageError("give either --dumps (the TSV dumps) or --titles/--load (the crawl), one at a time")
    modalities = _names(media)
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise UsageError(f"--media: unknown modality {', '.join(unknown)}; choose from {', '.join(MODALITIES)}")
    store = settings.open_store()
    with partial_report_on_rate_limit(lambda partial: _show(partial, None, as_json)), RichProgress() as progress:
        if dumps:
            report = collect_imdb_dumps(
                store, _names(dumps), data_dir=settings.data_path, base_url=base_url, from_file=from_file,
                title_types=_names(title_types), force=force, progress=progress,
            )
        else:
            report = crawl_titles(
                store, _names(titles), data_dir=settings.data_path, base_url=base_url, reviews=reviews,
                max_review_pages=max_review_pages, delay=delay, user_agent=user_agent, http_cache=http_cache,
                load=load, refresh=refresh, time_limit=max_minutes * 60, progress=progress,
            )
        assets = None
        if modalities:
            assets = fetch_planned_media(settings, store, report.namespace, modalities, progress=progress)
    _show(report, assets, as_json)


def _show(report, assets, as_json: bool) -> None:
    if as_json:
        print_json({**report.as_dict(), **({"assets": assets.as_dict()} if assets else {})})
        return
    show_report(report, as_json=False)
    if isinstance(report, CrawlReport):
        print_mapping("crawl", {
            "finished because": report.finish_reason,
            **{f"dropped {k.replace('_', ' ')}": v for k, v in sorted(report.dropped.items())},
            **({"raw pages saved to": report.raw_file} if report.raw_file else {}),
        })
        for url in report.robots_forbidden[:10]:
            console.print(f"  robots.txt forbids {url}")
        for url, reason in list(report.failed_pages.items())[:10]:
            console.print(f"  failed {url}: {reason}")
    if assets:
        show_media(assets)
