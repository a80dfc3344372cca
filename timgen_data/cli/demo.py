"""``timgen-data demo``."""

from __future__ import annotations

from dataclasses import asdict

import click

from timgen_data.cli.common_options import json_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_json, print_mapping
from timgen_data.demo.run import run_demo
from timgen_common.output_folder import protected_folders


@click.command()
@click.option("--no-train", is_flag=True, help="Stop after build; do not train the small TIMGen model.")
@json_option()
@pass_settings
def demo(settings: Settings, no_train: bool, as_json: bool) -> None:
    """Run collect → label → build → train offline on a generated MovieLens-format corpus.

    Needs no network: the corpus is served from a loopback HTTP server. Everything goes
    to <data dir>/demo, which a re-run replaces (only if the demo wrote it).

    \b
    Example:
      timgen-data demo
      timgen-data --data-dir /tmp/tg demo
    """
    with RichProgress() as progress:
        result = run_demo(settings.data_path, progress=progress, train_model=not no_train,
                          protect=protected_folders(settings.data_dir, settings.db))
    if as_json:
        print_json({
            "folder": result.folder, "store": result.store_url, "collect": result.collect.as_dict(),
            "assets": result.assets.as_dict() if result.assets else None,
            "features": result.features.as_dict() if result.features else None,
            "label": asdict(result.label), "build": asdict(result.build),
            "model": asdict(result.model) if result.model is not None else None,
        })
        return
    stats = result.build.statistics
    print_mapping("demo: collect → align → label → build", {
        "store": result.store_url,
        "interactions collected": result.collect.stored["interactions"],
        "archive checksum verified": result.collect.md5_verified,
        **({"assets fetched / failed": f"{result.assets.fetched} / {result.assets.failed}"} if result.assets else {}),
        **({f"{m} features ({f.encoder}, dim {f.dim})": f.computed + f.copied
            for m, f in result.features.modalities.items()} if result.features else {}),
        "labels (movie)": result.label.labeled,
        "users / items": f"{stats['users']} / {stats['items']}",
        **{f"{s} rows": v["rows"] for s, v in stats["splits"].items()},
        "dataset": result.build.path,
        "card": result.build.path / "README.md",
        "statistics plot": result.build.path / "stats.png",
    })
    console.print(f'Load it with: datasets.load_dataset("{result.build.path}", "interactions")')
    if result.model is not None:
        test = result.model.metrics["test"]
        print_mapping(f"demo: TIMGen trained (best epoch {result.model.best_epoch})", {
            **{f"test {k}": round(test[k], 4) for k in ("rmse", "mae", "accuracy", "hr@10", "ndcg@10")},
            "run folder": result.model.run_dir,
            **{f"plot: {name}": path for name, path in result.model.plots.items()},
        })
        console.print(f"Next: timgen-data generate {result.model.run_dir} --user 1 --top-k 10")
