"""``label``: per-scenario score and class labels, on the local engine or Spark."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from timgen_data.cli.common_options import json_option
from timgen_data.cli.options import EngineChoice, Settings, engine_options, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import print_json, print_mapping
from timgen_data.labeling import SCENARIOS, label_store, load_weights
from timgen_data.labeling.rating_scales import describe_scales


@click.command()
@click.option("--scenario", type=click.Choice(SCENARIOS), default="movie", show_default=True)
@click.option("--weights", type=click.Path(path_type=Path), help="TOML file of formula weights (see README).")
@json_option()
@engine_options
@pass_settings
def label(settings: Settings, scenario: str, weights: Path | None, as_json: bool, engine: EngineChoice) -> None:
    """Compute per-scenario score and class labels for stored interactions.

    \b
    Example:
      timgen-data label --scenario movie
      timgen-data label --scenario ecommerce --weights weights.toml
      timgen-data label --scenario video --engine spark --spark-master spark://head:7077
    """
    score_weights = load_weights(weights)
    store = settings.open_store()
    if engine.spark:
        from timgen_data.labeling.spark_engine import label_store_spark

        with engine.session() as spark, RichProgress() as progress:
            report = label_store_spark(spark, store, scenario, score_weights, workdir=engine.workdir(settings),
                                       progress=progress)
    else:
        with RichProgress() as progress:
            report = label_store(store, scenario, score_weights, progress=progress)
    if as_json:
        print_json(asdict(report))
        return
    print_mapping(f"labels: {scenario}", {
        "interactions considered": report.considered,
        "labels written": report.labeled,
        "recomputed all": f"yes ({report.recompute_reason})" if report.recomputed_all else "no (new interactions only)",
        "score range": f"{report.score_min} – {report.score_max}",
        **({"rating scales": describe_scales(report.rating_scales)} if report.rating_scales else {}),
        "classes": len(report.classes),
        **({"classes outside the known list": ", ".join(report.unknown_classes)} if report.unknown_classes else {}),
    })
