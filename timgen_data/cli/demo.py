"""``timgen-data demo``."""

from __future__ import annotations

import click

from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_mapping
from timgen_data.demo.run import run_demo


@click.command()
@pass_settings
def demo(settings: Settings) -> None:
    """Run collect → label → build offline on a generated MovieLens-format corpus.

    Needs no network: the corpus is served from a loopback HTTP server.

    \b
    Example:
      timgen-data demo
      timgen-data --data-dir /tmp/tg demo
    """
    with RichProgress() as progress:
        result = run_demo(settings.data_path, progress=progress)
    stats = result.build.statistics
    print_mapping("demo: collect → label → build", {
        "store": result.store_url,
        "interactions collected": result.collect.stored["interactions"],
        "archive checksum verified": result.collect.md5_verified,
        "labels (movie)": result.label.labeled,
        "users / items": f"{stats['users']} / {stats['items']}",
        **{f"{s} rows": v["rows"] for s, v in stats["splits"].items()},
        "dataset": result.build.path,
        "card": result.build.path / "README.md",
        "statistics plot": result.build.path / "stats.png",
    })
    console.print(f'Load it with: datasets.load_dataset("{result.build.path}", "interactions")')
