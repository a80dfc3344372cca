"""``build``: the dataset of per-user sequences, on the local engine or Spark."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from timgen_common.output_folder import protected_folders
from timgen_contract import SCENARIOS
from timgen_data.cli.common_options import force_option, json_option
from timgen_data.cli.options import EngineChoice, EpochOrDate, Settings, engine_options, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_json, print_mapping
from timgen_data.dataset import BuildOptions, build_dataset
from timgen_data.settings import remember_build


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--scenario", type=click.Choice(SCENARIOS), default="movie", show_default=True)
@click.option("--split", type=click.Choice(["leave-last-out", "time", "given"]), default="leave-last-out",
              show_default=True, help="given: each interaction's split from --split-file.")
@click.option("--split-file", type=click.Path(exists=True, dir_okay=False), metavar="CSV",
              help="With --split given: user_id,item_id,ts,split (train/validation/test or 0/1/2), e.g. the "
                   "splits.csv `collect mmrec` writes.")
@click.option("--valid-start", type=EpochOrDate(), help="With --split time: first validation time (epoch or ISO date).")
@click.option("--test-start", type=EpochOrDate(), help="With --split time: first test time (epoch or ISO date).")
@click.option("--min-interactions", type=int, default=1, show_default=True, help="Drop users with fewer interactions.")
@click.option("--k-core", type=int, default=0, show_default=True, help="Iteratively keep users and items with >= K interactions.")
@click.option("--source", "sources", multiple=True, metavar="NAMESPACE",
              help="Only these sources (e.g. movielens-1m); repeatable. Default: all with labels for the scenario.")
@force_option("Replace OUT even if it holds files build did not write (never the data dir, the store's "
              "folder or another command's output).")
@json_option()
@engine_options
@pass_settings
def build(settings: Settings, out: Path, scenario, split, split_file, valid_start, test_start, min_interactions, k_core,
          sources, force, as_json, engine: EngineChoice):
    """Build a Hugging Face dataset (Parquet + card) of per-user chronological sequences.

    OUT must be new, empty, or a dataset build wrote before (it is then replaced whole).
    Interactions without a label for the scenario are left out, and counted.

    \b
    Example:
      timgen-data build out/ml-1m --split leave-last-out --min-interactions 5
      timgen-data build out/ml-1m-time --split time --valid-start 2000-12-01 --test-start 2001-01-01
      timgen-data build out/baby --split given --split-file timgen-data/imports/mmrec-baby/splits.csv
      timgen-data build out/ml-25m --engine spark --spark-master spark://head:7077 --k-core 5
    """
    options = BuildOptions(
        scenario=scenario, split=split, split_file=split_file, valid_start=valid_start, test_start=test_start,
        min_interactions=min_interactions, k_core=k_core, sources=tuple(sources),
    )
    store = settings.open_store()
    protect = protected_folders(settings.data_dir, settings.db)
    if engine.spark:
        from timgen_data.dataset.spark_engine import build_dataset_spark

        with engine.session() as spark, RichProgress() as progress:
            result = build_dataset_spark(spark, store, out, options, progress=progress, force=force, protect=protect,
                                         workdir=engine.workdir(settings))
    else:
        with RichProgress() as progress:
            result = build_dataset(store, out, options, progress=progress, force=force, protect=protect)
    remember_build(settings.data_path, result.path)
    if as_json:
        print_json(asdict(result))
        return
    stats = result.statistics
    print_mapping(f"dataset: {result.path}", {
        "users": stats["users"], "items": stats["items"], "interactions": stats["interactions"],
        **({f"left out (no {scenario} label)": ", ".join(f"{n} of {s}" for s, n in result.left_out.items())}
           if result.left_out else {}),
        **{f"{s} rows / targets": f"{v['rows']} / {v['targets']}" for s, v in stats["splits"].items()},
        "card": result.path / "README.md", "statistics plot": result.path / "stats.png",
    })
    if result.left_out:
        console.print(f"Interactions without a {scenario} label were left out: label them with "
                      f"`timgen-data label --scenario {scenario}` if its formula applies to them, then build again.")
    console.print(f'Load it with: datasets.load_dataset("{result.path}", "interactions")')
