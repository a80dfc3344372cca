"""``timgen-data collect <source>``: one subcommand per source in ``timgen_data.sources``.

Each source's module (``movielens``, ``amazon``, …) is imported only when its subcommand
runs; they share the report renderer in ``report`` and the ``--media`` fetch in ``media``,
and never import this module.
"""

from __future__ import annotations

import click

from timgen_data.cli.download_limits import apply_download_limits, download_limit_options
from timgen_data.cli.lazy_group import LazyGroup
from timgen_data.sources import SOURCES


@click.group(cls=LazyGroup, lazy_commands={name: source.command for name, source in SOURCES.items()})
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
