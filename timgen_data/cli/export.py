"""``export``: a built dataset folder to RecBole atomic files or the MMRec layout."""

from __future__ import annotations

from pathlib import Path

import click

from timgen_data.cli.common_options import force_option, json_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import print_json, print_mapping
from timgen_data.dataset.export import FORMATS, export_dataset
from timgen_common.output_folder import protected_folders
from timgen_data.settings import last_build


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dataset", "dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Dataset folder written by `timgen-data build` (default: the last one built with this data dir).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Target toolkit layout.")
@click.option("--name", help="Dataset name: the folder and file prefix (default: the dataset folder's name).")
@json_option()
@force_option("Replace OUT/<name> even if it holds files export did not write (never another command's "
              "output, the data dir or the store's folder).")
@pass_settings
def export(settings: Settings, out: Path, dataset_dir: Path | None, fmt: str, name: str | None,
           as_json: bool, force: bool) -> None:
    """Export a built dataset to RecBole atomic files or the MMRec layout, keeping its split.

    Writes OUT/<name>/, which must be new, empty, or an earlier export (then replaced whole).

    \b
    Example:
      timgen-data export out/recbole --format recbole          # the dataset built last
      timgen-data export out/mmrec --dataset out/ml-100k --format mmrec --name ml-100k
    """
    if dataset_dir is None:
        dataset_dir = last_build(settings.resolved_data_dir)  # only read: the data dir need not be writable
        if dataset_dir is None:
            raise click.UsageError("no dataset built yet with this data dir; run `timgen-data build OUT` first, "
                                   "or pass --dataset DIR")
    protect = protected_folders(settings.data_dir, settings.db)
    if as_json:
        report = export_dataset(dataset_dir, out, fmt, name=name, force=force, protect=protect)
        print_json(report.as_dict())
        return
    with RichProgress() as progress:
        report = export_dataset(dataset_dir, out, fmt, name=name, progress=progress, force=force, protect=protect)
    print_mapping(f"export: {fmt} → {report.path}", {
        "users": report.users, "items": report.items, "interactions": report.interactions,
        **{f"{s} interactions": n for s, n in report.splits.items()},
        **({"untargeted (exported as train)": report.untargeted} if report.untargeted else {}),
        **{f"items without {m} vector (zeros)": n for m, n in report.missing_features.items()},
        "files": ", ".join(p.name for p in report.files),
    })
