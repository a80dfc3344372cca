"""``timgen-data collect <source>``: one subcommand per collector."""

from __future__ import annotations

from pathlib import Path

import click

from timgen_data.cli.download_limits import apply_download_limits, download_limit_options
from timgen_data.cli.lazy_group import LazyGroup
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_json, print_mapping
from timgen_data.collectors import CollectReport
from timgen_data.collectors.movielens import VARIANTS, collect_movielens
from timgen_data.downloads.checksums import checked_digest


@click.group(cls=LazyGroup, lazy_commands={
    name: f"timgen_data.cli.collect_{name}:{name}"
    for name in ("amazon", "events", "imdb", "mmrec", "twitter", "youtube")
})
@download_limit_options
@click.pass_context
def collect(ctx: click.Context, download_deadline, min_download_rate, max_download_size, max_unpacked_size) -> None:
    """Pull interactions and items from a source into the store.

    The download and archive limits apply to every source's downloads; a download that
    stops at one keeps what it received, and re-running resumes it.

    \b
    Example:
      timgen-data collect movielens --variant 1m
      timgen-data collect --download-deadline 2h --min-download-rate 50KB amazon --category Books
    """
    apply_download_limits(ctx, download_deadline, min_download_rate, max_download_size, max_unpacked_size)


def show_report(report: CollectReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
        return
    checked = "matches the published checksum" if report.md5_verified else "no published checksum to compare"
    print_mapping(f"{report.collector} {report.variant} → {report.namespace}", {
        "archive": report.archive,
        "sha256": report.sha256,
        **({"md5": f"{report.md5} ({checked})"} if report.md5 else {}),
        **{f"read {k}": v for k, v in report.read.items()},
        **{f"new {k}": v for k, v in report.written.items()},
        **{f"stored {k}": v for k, v in report.stored.items()},
        **{k.replace("_", " "): v for k, v in report.skipped.items() if v},
        "rejected": report.rejections.count,
        **({"resumed at row": report.resumed_from} if report.resumed_from else {}),
    })
    for rejection in report.rejections.kept[:20]:
        console.print(f"  rejected {rejection}")
    if report.rejections.count > 20:
        console.print(f"  … and {report.rejections.count - 20} more (see --json)")


@collect.command("movielens")
@click.option("--variant", type=click.Choice(list(VARIANTS)), default="100k", show_default=True,
              help="Which MovieLens release.")
@click.option("--base-url", metavar="URL", help="A mirror of files.grouplens.org/datasets/movielens.")
@click.option("--from-file", type=click.Path(exists=True, path_type=Path),
              help="A release zip or extracted folder you already have (no download).")
@click.option("--md5", "expected_md5", metavar="HEX", help="Checksum the archive must have (overrides the published one).")
@click.option("--sha256", "expected_sha256", metavar="HEX", help="sha256 the archive must have.")
@click.option("--strict", is_flag=True, help="Stop at the first malformed line instead of skipping it.")
@click.option("--force", is_flag=True, help="Download, extract and store again even if done before.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
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
