"""``timgen-data collect events``: a platform's own logs, through a TOML column mapping."""

from __future__ import annotations

from pathlib import Path

import click

from timgen_data.cli.collect.report import show_report
from timgen_data.cli.common_options import force_option, json_option
from timgen_data.cli.options import EngineChoice, Settings, engine_options, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.collectors.events import collect_events, load_mapping


@click.command("events")
@click.option("--path", "paths", multiple=True, required=True, metavar="PATH",
              help="A log file (.csv/.tsv/.dat/.jsonl/.parquet, gzip or zstd allowed), a folder of them, a glob or an "
                   "http(s) URL; repeat it, or list more files after it.")
@click.argument("more", nargs=-1, metavar="[PATH]...")
@click.option("--mapping", required=True, type=click.Path(path_type=Path), metavar="TOML",
              help="How your columns map to ours (see above).")
@click.option("--name", metavar="NAME", help="The namespace events-<NAME> (overrides the mapping's name).")
@force_option("Download URLs again and re-read files stored before.")
@json_option()
@engine_options
@pass_settings
def events(settings: Settings, paths, more, mapping, name, force, as_json, engine: EngineChoice):
    """Store a platform's interaction logs (click, cart, purchase, view with watch time, …).

    The mapping names your columns for user, item, time (required), action (or one fixed
    action), value, duration, device, platform, geo, category and title; [time] gives the
    format (auto, iso8601, epoch_s/ms/us/ns or a strftime pattern) and the zone of times
    without an offset; [action.values] maps your event names to ours. A file without a header
    lists its columns in `names`; `delimiter = "::"` reads MovieLens-style .dat files;
    [item_ids] writes ids in a source's form (format = "tt%07d", link = "imdb"); [items] reads
    an item file beside the log (titles, years, genres); rating_scale = [0, 10] records the
    scale (see docs/collecting.md). Everything is checked before anything is stored; an
    interrupted run re-run resumes where it stopped.

    \b
    mapping.toml:
      name = "shop"
      [columns]
      user = "customer_id"
      item = "sku"
      time = "event_time"
      action = "event"
      [time]
      format = "%Y-%m-%d %H:%M:%S"
      zone = "Europe/Berlin"
      [action.values]
      page_view = "click"
      add_to_cart = "cart"

    \b
    Example:
      timgen-data collect events --path logs/*.parquet --mapping mapping.toml
      timgen-data collect events --path https://example.com/export/events.csv.gz --mapping mapping.toml

    \b
    With --engine spark, Spark reads Parquet logs where they lie (any URI it reads):
      timgen-data collect events --engine spark --spark-master yarn \\
        --path 's3a://lake/logs/2026/*/*.parquet' --mapping mapping.toml
    """
    parsed = load_mapping(mapping, name=name)
    store = settings.open_store()
    if engine.spark:
        from timgen_data.collectors.events.spark_engine import collect_events_spark

        with engine.session() as spark, RichProgress() as progress:
            report = collect_events_spark(spark, store, [*paths, *more], parsed, workdir=engine.workdir(settings),
                                          force=force, progress=progress)
    else:
        with RichProgress() as progress:
            report = collect_events(store, [*paths, *more], parsed, data_dir=settings.data_path, force=force,
                                    progress=progress)
    show_report(report, as_json)
