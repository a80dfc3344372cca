"""``stats``: what is in the store."""

from __future__ import annotations

import click

from timgen_data.cli.common_options import json_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.render import print_json, print_mapping, print_records
from timgen_data.store import store_stats


@click.command()
@json_option("Print as JSON.")
@pass_settings
def stats(settings: Settings, as_json: bool) -> None:
    """Show what is in the store: tables, sources, interactions per action, labels.

    \b
    Example:
      timgen-data stats
      timgen-data --db postgresql+psycopg://me@127.0.0.1/timgen stats --json
    """
    summary = store_stats(settings.open_store())
    if as_json:
        print_json(summary)
        return
    print_mapping(f"store: {summary['store']}", summary["tables"])
    print_records("interactions", summary["interactions"])
    print_mapping("labels per scenario", summary["labels"] or {"(none)": 0})
    print_records("sources", [
        {k: (v[:12] + "…" if k == "sha256" else v) for k, v in s.items() if k != "counts"} for s in summary["sources"]
    ])
