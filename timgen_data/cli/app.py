"""The ``timgen-data`` command group."""

from __future__ import annotations

import click

from timgen_data import __version__
from timgen_data.cli.errors import ErrorMappingGroup
from timgen_data.cli.options import Settings, store_options


# Each command's module is imported when it runs (see lazy_group.py).
COMMANDS = {
    "collect": "timgen_data.cli.collect:collect",
    "align": "timgen_data.cli.align:align",
    "label": "timgen_data.cli.label:label",
    "build": "timgen_data.cli.build:build",
    "export": "timgen_data.cli.export:export",
    "publish": "timgen_data.cli.publish:publish",
    "stats": "timgen_data.cli.stats:stats",
    "train": "timgen_data.cli.model:train",
    "evaluate": "timgen_data.cli.model:evaluate",
    "generate": "timgen_data.cli.model:generate",
    "experiment": "timgen_data.cli.model:experiment",
    "demo": "timgen_data.cli.demo:demo",
}


@click.group(cls=ErrorMappingGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@store_options
@click.version_option(__version__, prog_name="timgen-data")
@click.pass_context
def cli(ctx: click.Context, db: str | None, data_dir: str | None) -> None:
    """Collect, label and build time-aware multimodal recommendation datasets.

    \b
    Example:
      timgen-data collect movielens --variant 1m
      timgen-data label --scenario movie
      timgen-data build out/ml-1m --min-interactions 5
    """
    ctx.obj = Settings(db=db, data_dir=data_dir)
