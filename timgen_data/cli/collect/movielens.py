"""``timgen-data collect movielens``: a GroupLens MovieLens release."""

from __future__ import annotations

from pathlib import Path

import click

from timgen_data.cli.collect.report import show_report
from timgen_data.cli.common_options import base_url_option, force_option, json_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.downloads.checksums import checked_digest
from timgen_data.collectors.movielens import VARIANTS, collect_movielens


@click.command("movielens")
@click.option("--variant", type=click.Choice(list(VARIANTS)), default="100k", show_default=True,
              help="Which MovieLens release.")
@base_url_option("A mirror of files.grouplens.org/datasets/movielens.")
@click.option("--from-file", type=click.Path(exists=True, path_type=Path),
              help="A release zip or extracted folder you already have (no download).")
@click.option("--md5", "expected_md5", metavar="HEX", help="Checksum the archive must have (overrides the published one).")
@click.option("--sha256", "expected_sha256", metavar="HEX", help="sha256 the archive must have.")
@click.option("--strict", is_flag=True, help="Stop at the first malformed line instead of skipping it.")
@force_option("Download, extract and store again even if done before.")
@json_option()
@pass_settings
def movielens(settings: Settings, variant, base_url, from_file, expected_md5, expected_sha256, strict, force, as_json):
    """Download, verify, parse and store a MovieLens release.

    The data stays under the GroupLens license: research use, no redistribution.

    \b
    Example:
      timgen-data collect movielens --variant 1m
      timgen-data collect movielens --variant 100k --from-file ~/data/ml-100k.zip
    """
    # Checked before anything else, so a typo fails at once, not after a download.
    expected_md5, expected_sha256 = checked_digest(expected_md5, "md5"), checked_digest(expected_sha256, "sha256")
    store = settings.open_store()
    with RichProgress() as progress:
        report = collect_movielens(
            store, variant, data_dir=settings.data_path, base_url=base_url, from_file=from_file,
            expected_md5=expected_md5, expected_sha256=expected_sha256, strict=strict, force=force,
            progress=progress,
        )
    show_report(report, as_json)
