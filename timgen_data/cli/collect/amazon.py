"""``timgen-data collect amazon``: one category of the Amazon Reviews 2023 or 2018 release."""

from __future__ import annotations

import click

from timgen_data.cli.collect.report import show_report
from timgen_data.cli.common_options import base_url_option, force_option, json_option, load_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.collectors.amazon import RELEASES, collect_amazon


@click.command("amazon")
@click.option("--release", type=click.Choice(sorted(RELEASES)), default="2023", show_default=True,
              help="Which release: 2023 (McAuley Lab, ms timestamps) or 2018 (amazon_v2).")
@click.option("--category", required=True, metavar="NAME", help="The category file to collect, e.g. All_Beauty.")
@click.option("--meta", is_flag=True, help="Also collect item metadata (titles, descriptions, classes, media URLs).")
@base_url_option("The release's root on a mirror (default: the release's home).")
@load_option("A local reviews file, or a folder holding the release's files, instead of downloading "
             "(the downloaded files are the raw copy a run can be replayed from).",
             names=("--from-file", "--load"), dest="from_file", folders=True)
@force_option("Download again and re-read from the first line.")
@json_option()
@pass_settings
def amazon(settings: Settings, release, category, meta, base_url, from_file, force, as_json):
    """Collect Amazon reviews (as `comment` interactions, plus `purchase` when verified) and,
    with --meta, the items' metadata; images and videos are planned for `align assets`.

    Files are downloaded (resumably) under <data dir>/downloads/amazon/ and streamed line by
    line; an interrupted run re-run resumes at the line it reached.

    \b
    Example:
      timgen-data collect amazon --release 2023 --category All_Beauty --meta
      timgen-data collect amazon --release 2018 --category All_Beauty --from-file ./All_Beauty.json.gz
    """
    store = settings.open_store()
    with RichProgress() as progress:
        report = collect_amazon(store, release, category, data_dir=settings.data_path, meta=meta, base_url=base_url,
                                from_file=from_file, force=force, progress=progress)
    show_report(report, as_json)
