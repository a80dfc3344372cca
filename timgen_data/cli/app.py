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


# What `timgen-data --help` lists, without importing any command (tests/cli checks each
# against its command's own help).
SUMMARIES = {
    "collect": "Pull interactions and items from a source into the store.",
    "align": "Link items across sources, fetch their media, turn media into feature vectors.",
    "label": "Compute per-scenario score and class labels for stored interactions.",
    "build": "Build a Hugging Face dataset (Parquet + card) of per-user chronological sequences.",
    "export": "Export a built dataset to RecBole atomic files or the MMRec layout, keeping its split.",
    "publish": "Push a built dataset (Parquet shards + card) to the Hugging Face Hub.",
    "stats": "Show what is in the store: tables, sources, interactions per action, labels.",
    "train": "Train TIMGen on a dataset folder written by `build`, or a Hub dataset id.",
    "evaluate": "Evaluate a trained run: RMSE/MAE, accuracy/macro-F1, HR@10/NDCG@10 (full ranking).",
    "generate": "Personalized output for one user: per draw of the latent interest, the next items with their "
                "content and predicted scores, and the modality weights behind them.",
    "experiment": "Baselines and the three experiments of the paper's summary on one split: static vs dynamic "
                  "(mean pooling), modality ablations, and the latent map.",
    "demo": "Run collect → label → build → train offline on a generated MovieLens-format corpus.",
}


@click.group(cls=ErrorMappingGroup, lazy_commands=COMMANDS, summaries=SUMMARIES, context_settings={"help_option_names": ["-h", "--help"]})
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
