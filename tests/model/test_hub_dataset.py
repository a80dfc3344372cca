"""A dataset published to the Hub trains exactly like the local folder it came from, and
is refused as a local one is when its format is newer than this installation reads.

The Hub is the fake one on 127.0.0.1; training runs in a subprocess because ``datasets``
and ``huggingface_hub`` read HF_ENDPOINT when they are imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.contract import drifting_histories, write_contract
from support.fake_hub import FakeHub

from timgen_contract import FORMAT_VERSION
from timgen_data.dataset.publish import publish_dataset
from timgen_model.config import load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.training import train

TOKEN = "hf_fake_token"
REPO_ID = "tester/timgen-drift"
SETTINGS = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=16",
            "train.batch_size=16", "train.epochs=2", "train.threads=1"]
CARD = """\
---
configs:
- config_name: interactions
  data_files:
  - {split: train, path: interactions/train-*.parquet}
  - {split: validation, path: interactions/validation-*.parquet}
  - {split: test, path: interactions/test-*.parquet}
- config_name: items
  data_files:
  - {split: train, path: items/train-*.parquet}
---
# drift
"""

TRAIN_FROM_HUB = """
import json, sys
from pathlib import Path
import datasets
datasets.config.USE_PARQUET_EXPORT = False  # the parquet-export lookup is no part of the fake Hub
from timgen_model.config import load_run_config
from timgen_model.training import train
result = train(sys.argv[1], Path(sys.argv[2]), load_run_config(None, json.loads(sys.argv[3])))
print(json.dumps({"fingerprint": result.metrics["dataset"]["fingerprint"], "test": result.metrics["test"]}))
"""

OPEN_FROM_HUB = """
import sys
import datasets
datasets.config.USE_PARQUET_EXPORT = False
from timgen_model.contract import open_contract
from timgen_model.errors import DatasetError
for repo_id in sys.argv[1:]:
    try:
        print(repo_id, "opened", open_contract(repo_id).splits["train"].num_rows)
    except DatasetError as error:
        print(error)
"""


def hub_env(hub: FakeHub, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=hub.endpoint, HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf_home"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1", NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost")
    return env


def test_hub_dataset_trains_like_the_local_folder(tmp_path: Path) -> None:
    histories, genres = drifting_histories(users=24, steps=12, seed=4)
    folder = write_contract(tmp_path / "ds", histories, genres)
    (folder / "README.md").write_text(CARD)
    local = train(folder, tmp_path / "local", load_run_config(None, SETTINGS))

    with FakeHub(tmp_path / "hub", token=TOKEN) as hub:
        publish_dataset(folder, REPO_ID, token=TOKEN, endpoint=hub.endpoint)
        proc = subprocess.run(
            [sys.executable, "-c", TRAIN_FROM_HUB, REPO_ID, str(tmp_path / "hub-run"), json.dumps(SETTINGS)],
            env=hub_env(hub, tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=280,
        )
    assert proc.returncode == 0, proc.stderr[-4000:]
    remote = json.loads(proc.stdout.strip().splitlines()[-1])
    assert remote["fingerprint"] == encode_dataset(read_contract(folder)).fingerprint
    assert remote["test"] == local.metrics["test"]


def test_hub_dataset_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    histories, genres = drifting_histories(users=6, steps=6, seed=4)
    with FakeHub(tmp_path / "hub", token=TOKEN) as hub:
        for repo_id, version in (("tester/current", FORMAT_VERSION), ("tester/newer", FORMAT_VERSION + 1)):
            folder = write_contract(tmp_path / repo_id, histories, genres)
            (folder / "README.md").write_text(CARD)
            (folder / "build.json").write_text(json.dumps({"parameters": {"format_version": version}}))
            publish_dataset(folder, repo_id, token=TOKEN, endpoint=hub.endpoint)
        proc = subprocess.run([sys.executable, "-c", OPEN_FROM_HUB, "tester/current", "tester/newer"],
                              env=hub_env(hub, tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-4000:]
    opened, refused = proc.stdout.strip().splitlines()[-2:]
    assert opened == "tester/current opened 6"
    assert refused.startswith(f"tester/newer: it has dataset format version {FORMAT_VERSION + 1}, newer")
