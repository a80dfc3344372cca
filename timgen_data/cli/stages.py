"""``label``, ``build``, ``publish`` and ``stats``: one library call each."""

from __future__ import annotations

from pathlib import Path

import click

from timgen_data.build import BuildOptions, build_dataset
from timgen_data.build.publish import publish_dataset
from timgen_data.cli.options import EpochOrDate, Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_json, print_mapping, print_records
from timgen_data.labeling import SCENARIOS, label_store, load_weights
from timgen_data.output_folder import protected_folders
from timgen_data.settings import remember_build
from timgen_data.store import store_stats


@click.command()
@click.option("--scenario", type=click.Choice(SCENARIOS), default="movie", show_default=True)
@click.option("--weights", type=click.Path(path_type=Path), help="TOML file of formula weights (see README).")
@pass_settings
def label(settings: Settings, scenario: str, weights: Path | None) -> None:
    """Compute per-scenario score and class labels for stored interactions.

    \b
    Example:
      timgen-data label --scenario movie
      timgen-data label --scenario ecommerce --weights weights.toml
    """
    score_weights = load_weights(weights)
    store = settings.open_store()
    with RichProgress() as progress:
        report = label_store(store, scenario, score_weights, progress=progress)
    print_mapping(f"labels: {scenario}", {
        "interactions considered": report.considered,
        "labels written": report.labeled,
        "recomputed all": f"yes ({report.recompute_reason})" if report.recomputed_all else "no (new interactions only)",
        "score range": f"{report.score_min} – {report.score_max}",
        "classes": len(report.classes),
        **({"classes outside the known list": ", ".join(report.unknown_classes)} if report.unknown_classes else {}),
    })


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
@click.option("--force", is_flag=True,
              help="Replace OUT even if it holds files build did not write (never the data dir, the store's "
                   "folder or another command's output).")
@pass_settings
def build(settings: Settings, out: Path, scenario, split, split_file, valid_start, test_start, min_interactions, k_core,
          sources, force):
    """Build a Hugging Face dataset (Parquet + card) of per-user chronological sequences.

    OUT must be new, empty, or a dataset build wrote before (it is then replaced whole).
    Interactions without a label for the scenario are left out, and counted.

    \b
    Example:
      timgen-data build out/ml-1m --split leave-last-out --min-interactions 5
      timgen-data build out/ml-1m-time --split time --valid-start 2000-12-01 --test-start 2001-01-01
      timgen-data build out/baby --split given --split-file timgen-data/imports/mmrec-baby/splits.csv
    """
    options = BuildOptions(
        scenario=scenario, split=split, split_file=split_file, valid_start=valid_start, test_start=test_start,
        min_interactions=min_interactions, k_core=k_core, sources=tuple(sources),
    )
    store = settings.open_store()
    protect = protected_folders(settings.data_dir, settings.db)
    with RichProgress() as progress:
        result = build_dataset(store, out, options, progress=progress, force=force, protect=protect)
    remember_build(settings.data_path, result.path)
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


@click.command()
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--repo-id", required=True, help="Hub dataset repository, e.g. someone/ml-1m-timgen.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--pseudonymize", is_flag=True, help="Replace user ids with salted hashes before upload.")
@click.option("--endpoint", envvar="HF_ENDPOINT", help="Hub endpoint (default huggingface.co). Env: HF_ENDPOINT.")
def publish(dataset_dir: Path, repo_id: str, private: bool, pseudonymize: bool, endpoint: str | None) -> None:
    """Push a built dataset (Parquet shards + card) to the Hugging Face Hub.

    The token comes from HF_TOKEN or your `hf auth login`; it is never printed.

    \b
    Example:
      timgen-data publish out/ml-1m --repo-id someone/ml-1m-timgen --private
    """
    result = publish_dataset(dataset_dir, repo_id, private=private, endpoint=endpoint, pseudonymize=pseudonymize)
    print_mapping(f"published {result.repo_id}", {
        "url": result.url, "files": len(result.files), "pseudonymized": result.pseudonymized,
    })


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
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
