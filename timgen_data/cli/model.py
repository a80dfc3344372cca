"""``train``, ``evaluate``, ``generate`` and ``experiment``: the bundled TIMGen model."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from timgen_common.locations import resolve_db_url
from timgen_data.cli.common_options import json_option
from timgen_data.cli.options import EpochOrDate, Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_json, print_mapping, print_records
from timgen_common.output_folder import protected_folders

METRIC_COLUMNS = ("rmse", "mae", "accuracy", "macro_f1", "class_set_micro_f1", "class_set_macro_f1", "hr@10", "ndcg@10",
                  "hr@10_unseen", "ndcg@10_unseen")


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def config_options(func):
    """The options every training command words the same way."""
    options = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="TOML / JSON / YAML file with [model], [loss], [train] sections."),
        click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                     help="Override one config value, e.g. --set model.dropout=0.1; repeatable."),
        click.option("--epochs", type=int, help="Shorthand for --set train.epochs=N."),
        click.option("--batch-size", type=int, help="Shorthand for --set train.batch_size=N."),
        click.option("--learning-rate", type=float, help="Shorthand for --set train.learning_rate=F."),
        click.option("--seed", type=int, help="Shorthand for --set train.seed=N."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Shorthand for --set train.device=..."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _overrides(overrides, epochs, batch_size, learning_rate, seed, device) -> list[str]:
    extra = list(overrides)
    for key, value in (("epochs", epochs), ("batch_size", batch_size), ("learning_rate", learning_rate),
                       ("seed", seed), ("device", device)):
        if value is not None:
            extra.append(f"train.{key}={json.dumps(value)}")
    return extra


def _metrics_table(title: str, rows: list[tuple[str, dict]]) -> None:
    print_records(title, [{"model": name, **{c: _round(m.get(c)) for c in METRIC_COLUMNS}} for name, m in rows])


def _epoch_line(entry: dict) -> None:
    shown = {k.removeprefix("validation_"): _round(v) for k, v in entry.items()
             if k in ("validation_loss", "validation_rmse", "validation_ndcg@10", "validation_accuracy")}
    console.print(f"epoch {entry['epoch']}: train loss {entry.get('train_loss', float('nan')):.4f} · "
                  + " · ".join(f"{k} {v}" for k, v in shown.items()))


@click.command()
@click.argument("dataset")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoints, metrics.json and plots go here.")
@click.option("--variant", default="timgen", show_default=True,
              help="timgen, timgen-mean-pooling, timgen-paper-fusion, sasrec, sasrec-recbole or "
                   "timgen-without-<modality>.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last epoch.")
@click.option("--overwrite", is_flag=True,
              help="Replace the run in --out with a new one (the earlier run stays until the new one finishes).")
@click.option("--revision", help="Hub revision when DATASET is a Hub id.")
@json_option("Print the summary as JSON (no line per epoch).")
@config_options
@pass_settings
def train(settings: Settings, dataset, out_dir, variant, resume, overwrite, revision, as_json, config_path, overrides,
          epochs, batch_size, learning_rate, seed, device) -> None:
    """Train TIMGen on a dataset folder written by `build`, or a Hub dataset id.

    --out must be new or empty; a run already there is continued with --resume or
    replaced with --overwrite. Several GPUs or machines: `accelerate launch --multi_gpu
    --num_processes N -m timgen_data train ...` (same options; --batch-size is the batch
    of all processes together).

    \b
    Example:
      timgen-data train out/ml-100k --out runs/ml100k
      timgen-data train user/my-dataset --out runs/hub --set model.dropout=0.1 --epochs 30
      timgen-data train out/ml-100k --out runs/ml100k --resume
    """
    from timgen_model.run_folder import claim_run_folder
    from timgen_model.training import train as train_model
    from timgen_model.variants import variant_config

    protect = protected_folders(settings.data_dir, settings.db)
    claim_run_folder(out_dir, resume=resume, overwrite=overwrite, protect=protect)  # refuse before reading data
    config = variant_config(variant, config_path, _overrides(overrides, epochs, batch_size, learning_rate, seed, device))
    with RichProgress() as progress:
        result = train_model(dataset, out_dir, config, variant=variant, resume=resume, overwrite=overwrite,
                             protect=protect, progress=progress, on_epoch=None if as_json else _epoch_line,
                             revision=revision)
    if not result.main_process:
        return  # the main process of a multi-process run reports for all of them
    written = {"metrics": out_dir / "metrics.json", "checkpoint": out_dir / "checkpoint.pt"}
    if as_json:
        print_json({"variant": variant, **asdict(result), "written": {**written, **result.plots}})
        return
    _metrics_table(f"{variant}: best epoch {result.best_epoch}",
                   [("validation", result.metrics["validation"]), ("test", result.metrics["test"])])
    print_mapping("written", {**written, **result.plots})


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["test", "validation"]), default="test", show_default=True)
@click.option("--dataset", help="The dataset, when it has moved since training (checked by fingerprint).")
@click.option("--samples", type=int, default=5, show_default=True,
              help="Draws of ℓ per target for the diversity figures.")
@click.option("--temperature", type=float, default=1.0, show_default=True,
              help="Scales σ in the draws (0: every draw is μ).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draws.")
@json_option("Print the metrics as JSON.")
def evaluate(run_dir: Path, split: str, dataset: str | None, samples: int, temperature: float, seed: int,
             as_json: bool) -> None:
    """Evaluate a trained run: RMSE/MAE, accuracy/macro-F1, HR@10/NDCG@10 (full ranking), and
    the diversity of several draws of the latent interest: distinct@10 (distinct items across
    the draws' top-10 unseen lists, from 10 to 10 × samples), ild@10 (mean cosine distance
    between two items of a list) and hr@10_unseen_sampled (how often a draw's list holds the
    target).

    Writes evaluation-<split>.json into the run folder.

    \b
    Example:
      timgen-data evaluate runs/ml100k
      timgen-data evaluate runs/ml100k --split validation --json
      timgen-data evaluate runs/ml100k --samples 10 --temperature 2
    """
    from timgen_model.evaluation import Diversity
    from timgen_model.run_evaluation import evaluate_run

    evaluation = evaluate_run(run_dir, split, dataset, Diversity(samples, temperature, seed))
    metrics = evaluation.metrics
    if as_json:
        print_json(metrics)
        return
    _metrics_table(f"{evaluation.variant} on {split} ({metrics['targets']} targets)", [(evaluation.variant, metrics)])
    print_mapping(f"diversity across {samples} draws of ℓ (temperature {temperature:g})",
                  {name: _round(metrics.get(name)) for name in ("distinct@10", "ild@10", "hr@10_unseen_sampled")})


class GenerationTime(EpochOrDate):
    """``EpochOrDate``, or ``now``."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip().lower() == "now":
            return int(time.time())
        return super().convert(value, param, ctx)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--user", "user_id", required=True, help="User id as it appears in the dataset.")
@click.option("--top-k", type=int, default=10, show_default=True)
@click.option("--include-seen", is_flag=True, help="Also recommend items the user already interacted with.")
@click.option("--dataset", help="The dataset, when it has moved since training (checked by fingerprint).")
@click.option("--samples", type=int, default=1, show_default=True,
              help="Draws of the latent interest ℓ ~ N(μ, (temperature·σ)²), one list of items each.")
@click.option("--temperature", type=float,
              help="Scales σ: 0 gives ℓ = μ (every draw the same), 1 the learned spread. "
                   "Default 0 with one sample, 1 with several.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draws: the same seed, the same output.")
@click.option("--at", "at", type=GenerationTime(),
              help="When the generated step happens: ISO 8601 (UTC unless it names a zone), epoch seconds, or "
                   "'now'. Default: the user's newest interaction's time.")
@click.option("--device", help="Device the user is on in the generated step (a value of the data's devices, e.g. mobile; "
                               "not a compute device). Default: the newest "
                               "interaction's.")
@click.option("--platform", help="Platform of the generated step. Default: the newest interaction's.")
@click.option("--geo", help="Geo of the generated step. Default: the newest interaction's.")
@click.option("--store", "from_store", is_flag=True,
              help="List each item's image/video/audio/text assets from the store (--db, files under --data-dir).")
@click.option("--out", "page_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the HTML page (default: the run folder).")
@json_option("Print the result as JSON.")
@pass_settings
def generate(settings: Settings, run_dir: Path, user_id: str, top_k: int, include_seen: bool, dataset: str | None,
             samples: int, temperature: float | None, seed: int, at: int | None, device: str | None,
             platform: str | None, geo: str | None, from_store: bool, page_dir: Path | None, as_json: bool) -> None:
    """Personalized output for one user: per draw of the latent interest, the next items with
    their content and predicted scores, and the modality weights behind them.

    Each item comes with its title, text, class set and (with --store) its image, video and
    audio assets; each draw with the likely next class; the step is generated in the context
    given (--at, --device, --platform, --geo).

    Writes generated-<user>.html (the items with their local images, videos and audio) into
    the run folder or --out.

    \b
    Example:
      timgen-data generate runs/ml100k --user 42 --top-k 10
      timgen-data generate runs/ml100k --user 42 --samples 5 --temperature 1 --seed 7
      timgen-data --data-dir timgen-data/demo generate timgen-data/demo/run --user 5 --store \\
          --at 2024-12-24T20:00:00+01:00 --device mobile
    """
    from timgen_model.generation import generate_for_user
    from timgen_model.generation_context import GenerationContext
    from timgen_model.generation_page import write_page

    if temperature is None:
        temperature = 0.0 if samples == 1 else 1.0
    lookup = _store_assets(settings, run_dir, dataset) if from_store else None
    result = generate_for_user(run_dir, user_id, top_k=top_k, exclude_seen=not include_seen, dataset=dataset,
                               samples=samples, temperature=temperature, seed=seed,
                               context=GenerationContext(at, device, platform, geo), assets=lookup)
    page = write_page(result, page_dir or run_dir)
    if as_json:
        print_json({**asdict(result), "page": page})
        return
    for draw in result.samples:
        title = f"next for user {result.user_id} (after {result.history_length} interactions)"
        if len(result.samples) > 1:
            title += f": draw {draw.sample + 1} of {len(result.samples)}"
        print_records(title, [{"rank": r.rank, "item": r.item_id, "title": r.title,
                               "predicted score": "–" if r.predicted_score is None else f"{r.predicted_score:.2f}",
                               "classes": ", ".join(r.classes), "assets": _asset_summary(r.assets)}
                              for r in draw.recommendations])
        if draw.next_classes:
            print_mapping("likely next class", {name: f"{p:.1%}" for name, p in draw.next_classes})
    if result.modality_weights:
        print_mapping("modality weights α", {m: f"{w:.3f}" for m, w in result.modality_weights.items()})
    when = datetime.fromtimestamp(result.context.at, timezone.utc).isoformat()
    print_mapping("context", {**asdict(result.context), "at": when, "temperature": result.temperature,
                              "seed": result.seed})
    print_mapping("written", {"page": page})


def _asset_summary(assets) -> str:
    """One word per asset: its modality, with ✓ when the file is here."""
    return " ".join(f"{a.modality}{'✓' if a.path else ''}" for a in assets)


def _store_assets(settings: Settings, run_dir: Path, dataset: str | None):
    """A lookup of items' assets in the store, keyed as the run's dataset names its items."""
    from timgen_data.cli.align import ASSETS_FOLDER
    from timgen_data.errors import UsageError
    from timgen_data.store.item_assets import item_assets
    from timgen_model.checkpoint import load_checkpoint
    from timgen_model.contract import open_contract
    from timgen_model.item_content import ItemAsset

    url = resolve_db_url(settings.db, settings.data_dir)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise UsageError(f"--store: there is no store at {url}; give --db or --data-dir of the store that "
                         "collected the dataset's media")
    sources = open_contract(dataset or load_checkpoint(run_dir).dataset_source).parameters.get("sources")
    store = settings.open_store()
    root = settings.resolved_data_dir / ASSETS_FOLDER

    def lookup(item_ids: list[str]) -> dict[str, list[ItemAsset]]:
        with store.begin() as conn:
            found = item_assets(conn, item_ids, root, sources)
        return {item: [ItemAsset(a.modality, a.uri, None if a.path is None else str(a.path), a.mime) for a in assets]
                for item, assets in found.items()}

    return lookup


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dataset", required=True, help="Dataset folder written by `build`, or a Hub dataset id.")
@click.option("--variant", "variants", multiple=True,
              help="Only these network variants (repeatable). Default: TIMGen, its ablations and SASRec-style.")
@click.option("--no-rating-baselines", is_flag=True, help="Skip global mean, biases and biased MF.")
@json_option("Print the results as JSON (no line per model).")
@config_options
@pass_settings
def experiment(settings: Settings, out_dir, dataset, variants, no_rating_baselines, as_json, config_path, overrides,
               epochs, batch_size, learning_rate, seed, device) -> None:
    """Baselines and the three experiments of the paper's summary on one split: static vs
    dynamic (mean pooling), modality ablations, and the latent map. The paper plans none
    and states no number; each pass/fail target says where it comes from.

    Writes experiment.md, experiment.json, comparison.png and a run folder per variant
    into OUT_DIR, which must be new, empty, or an earlier experiment (replaced when this
    one finishes).

    \b
    Example:
      timgen-data experiment runs/ml100k-exp --dataset out/ml-100k
    """
    from timgen_model.experiment import COLUMNS, RESULTS_MARKDOWN, run_experiment

    def report(row: dict) -> None:
        test = row["test"]
        console.print(f"{row['model']}: " + " · ".join(f"{c} {_round(test.get(c))}" for c in COLUMNS
                                                        if test.get(c) is not None) + f" ({row['seconds']:.0f} s)")

    with RichProgress() as progress:
        result = run_experiment(dataset, out_dir, config_path=config_path,
                                overrides=_overrides(overrides, epochs, batch_size, learning_rate, seed, device),
                                variants=list(variants) or None, include_rating_baselines=not no_rating_baselines,
                                progress=progress, on_model=None if as_json else report,
                                protect=protected_folders(settings.data_dir, settings.db))
    if as_json:
        print_json(asdict(result))
        return
    _metrics_table("test split", [(row["model"], row["test"]) for row in result.rows])
    if result.targets:
        print_records("targets", [{"target": c["target"], "from": c["source"], "met": "yes" if c["met"] else "no",
                                   "figures": c["detail"]} for c in result.targets])
    console.print(f"Tables: {out_dir / RESULTS_MARKDOWN}, {out_dir / 'experiment.json'}; latent map: "
                  f"{out_dir / 'timgen' / 'latent_map.png'}")
