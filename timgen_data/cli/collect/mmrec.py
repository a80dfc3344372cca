"""``timgen-data collect mmrec``: import a folder in the MMRec toolbox layout."""

from __future__ import annotations

from pathlib import Path

import click

from timgen_data.cli.collect.report import show_report
from timgen_data.cli.common_options import json_option
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.collectors.mmrec import collect_mmrec


@click.command("mmrec")
@click.option("--path", "folder", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar="DIR", help="The MMRec folder (<name>.inter, u_/i_id_mapping.csv, image_/text_feat.npy).")
@click.option("--name", metavar="NAME", help="The dataset name: <name>.inter (default: the folder's name).")
@json_option()
@pass_settings
def mmrec(settings: Settings, folder, name, as_json):
    """Store an MMRec dataset: interactions, original ids and feature vectors.

    Users and items go to namespace mmrec-<name>; the x_label split is written to
    <data dir>/imports/mmrec-<name>/splits.csv.

    \b
    Example:
      timgen-data collect mmrec --path data/baby
    """
    store = settings.open_store()
    with RichProgress() as progress:
        report = collect_mmrec(store, folder, name=name, data_dir=settings.data_path, progress=progress)
    show_report(report, as_json)
