"""``publish``: push a built dataset to the Hugging Face Hub."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from timgen_data.cli.common_options import json_option
from timgen_data.cli.render import print_json, print_mapping
from timgen_data.dataset.publish import publish_dataset


@click.command()
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--repo-id", required=True, help="Hub dataset repository, e.g. someone/ml-1m-timgen.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--pseudonymize", is_flag=True, help="Replace user ids with salted hashes before upload.")
@click.option("--endpoint", envvar="HF_ENDPOINT", help="Hub endpoint (default huggingface.co). Env: HF_ENDPOINT.")
@json_option()
def publish(dataset_dir: Path, repo_id: str, private: bool, pseudonymize: bool, endpoint: str | None,
            as_json: bool) -> None:
    """Push a built dataset (Parquet shards + card) to the Hugging Face Hub.

    The token comes from HF_TOKEN or your `hf auth login`; it is never printed.

    \b
    Example:
      timgen-data publish out/ml-1m --repo-id someone/ml-1m-timgen --private
    """
    result = publish_dataset(dataset_dir, repo_id, private=private, endpoint=endpoint, pseudonymize=pseudonymize)
    if as_json:
        print_json(asdict(result))
        return
    print_mapping(f"published {result.repo_id}", {
        "url": result.url, "files": len(result.files), "pseudonymized": result.pseudonymized,
    })
