"""publish_dataset end to end, against the fake Hub on 127.0.0.1.

The dataset folder is written by hand here (what `timgen-data build` produces:
a card with `configs:` plus parquet files), published with the real
huggingface_hub client, and read back with the real `datasets.load_dataset` in a
subprocess, since both libraries read HF_ENDPOINT when they are imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub.errors import RepositoryNotFoundError
from support.fake_hub import FakeHub

from timgen_data.dataset.publish import PublishResult, publish_dataset
from timgen_data.errors import PublishError, UsageError

TOKEN = "hf_fake_token"
REPO_ID = "tester/timgen-small"

CARD = """\
---
license: cc-by-4.0
configs:
- config_name: interactions
  data_files:
  - split: train
    path: interactions/train-*.parquet
  - split: validation
    path: interactions/validation-*.parquet
  - split: test
    path: interactions/test-*.parquet
- config_name: items
  data_files:
  - split: train
    path: items/train-*.parquet
---

# timgen small

A tiny hand-written dataset for the publish tests.
"""

INTERACTIONS_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("item_ids", pa.list_(pa.string())), ("timestamps", pa.list_(pa.int64()))],
    metadata={b"huggingface": b'{"info": {"features": {}}}'},
)

SPLITS = {
    "train": [("u1", ["i1", "i2", "i3"], [10, 20, 30]), ("u2", ["i2"], [15]), ("u3", ["i3", "i1"], [5, 6])],
    "validation": [("u1", ["i4"], [40]), ("u2", ["i3"], [25])],
    "test": [("u1", ["i5"], [50]), ("u3", ["i2"], [7])],
}


def _interactions_path(folder: Path, split: str) -> Path:
    return folder / "interactions" / f"{split}-00000-of-00001.parquet"


@pytest.fixture(autouse=True)
def _no_ambient_hf_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own token, endpoint and salt out of the tests."""
    for var in (
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_ENDPOINT",
        "HF_OIDC_RESOURCE",
        "TIMGEN_PSEUDONYM_SALT",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-token"))


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "dataset"
    (folder / "interactions").mkdir(parents=True)
    (folder / "items").mkdir()
    for split, rows in SPLITS.items():
        columns = list(zip(*rows, strict=True))
        table = pa.table([list(c) for c in columns], schema=INTERACTIONS_SCHEMA)
        # Two-row groups and zstd, so the pseudonymized copy can be checked to keep both.
        pq.write_table(table, _interactions_path(folder, split), row_group_size=2, compression="zstd")
    items = pa.table(
        {"item_id": ["i1", "i2", "i3", "i4", "i5"], "title": ["One", "Two", "Three", "Four", "Five"]}
    )
    pq.write_table(items, folder / "items" / "train-00000-of-00001.parquet")
    (folder / "README.md").write_text(CARD, encoding="utf-8")
    (folder / "build.json").write_text(json.dumps({"seed": 0}), encoding="utf-8")
    return folder


@pytest.fixture
def hub(tmp_path: Path):
    with FakeHub(tmp_path, token=TOKEN, read_token="hf_read_only_token") as running:
        yield running
        assert running.crashes == []
        assert running.unhandled == []


def _local_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _read_parquet(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data))


_LOAD_SCRIPT = """
import json, sys
import datasets

# The parquet-export lookup goes to datasets-server.<endpoint host>, which is no part of the fake.
datasets.config.USE_PARQUET_EXPORT = False
out = {}
for config_name in sys.argv[2:]:
    loaded = datasets.load_dataset(sys.argv[1], config_name)
    out[config_name] = {split: loaded[split].to_dict() for split in loaded}
print(json.dumps(out))
"""


def _load_dataset_from_hub(hub: FakeHub, tmp_path: Path, repo_id: str, *configs: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(
        HF_ENDPOINT=hub.endpoint,
        HF_TOKEN=TOKEN,
        HF_HOME=str(tmp_path / "hf_home"),  # fresh cache: every byte comes through the fake
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_UPDATE_DOWNLOAD_COUNTS="0",
        HF_HUB_DISABLE_XET="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT, repo_id, *configs],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"load_dataset failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_publish_private_then_load_dataset_reads_the_same_rows(
    hub: FakeHub, dataset_dir: Path, tmp_path: Path
) -> None:
    (dataset_dir / ".DS_Store").write_bytes(b"finder litter")
    (dataset_dir / "items" / ".notes").write_text("local only")

    result = publish_dataset(dataset_dir, REPO_ID, private=True, token=TOKEN, endpoint=hub.endpoint)

    local = {k: v for k, v in _local_files(dataset_dir).items() if not Path(k).name.startswith(".")}
    remote = hub.repo_files(REPO_ID)
    assert result == PublishResult(
        repo_id=REPO_ID,
        url=f"{hub.endpoint}/datasets/{REPO_ID}",
        files=sorted(local),
        pseudonymized=False,
        commit_oid=hub.commits(REPO_ID)[-1]["oid"],
    )
    assert hub.is_private(REPO_ID)
    assert set(remote) == set(local) | {".gitattributes"}  # the Hub's own initial file
    assert all(remote[path] == data for path, data in local.items())
    assert (hub.repo_dir(REPO_ID) / "interactions" / "train-00000-of-00001.parquet").is_file()

    # Private: invisible without a token.
    with pytest.raises(RepositoryNotFoundError):
        huggingface_hub.HfApi(endpoint=hub.endpoint, token=False).dataset_info(REPO_ID)

    loaded = _load_dataset_from_hub(hub, tmp_path, REPO_ID, "interactions", "items")
    assert set(loaded["interactions"]) == set(SPLITS)
    for split in SPLITS:
        expected = pq.read_table(_interactions_path(dataset_dir, split))
        got = loaded["interactions"][split]
        assert got["user_id"] == expected.column("user_id").to_pylist()
        assert got["item_ids"] == expected.column("item_ids").to_pylist()
        assert got["timestamps"] == expected.column("timestamps").to_pylist()
    items = pq.read_table(dataset_dir / "items" / "train-00000-of-00001.parquet")
    assert loaded["items"]["train"] == items.to_pydict()


def test_pseudonymize_hashes_user_ids_with_a_saved_salt(hub: FakeHub, dataset_dir: Path) -> None:
    before = _local_files(dataset_dir)

    first = publish_dataset(dataset_dir, REPO_ID, token=TOKEN, endpoint=hub.endpoint, pseudonymize=True)

    assert first.pseudonymized
    salt_file = dataset_dir / ".pseudonym_salt"
    salt = salt_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", salt)
    assert _local_files(dataset_dir) == {
        **before,
        ".pseudonym_salt": salt_file.read_bytes(),
    }  # data untouched
    remote = hub.repo_files(REPO_ID)
    assert not any(".pseudonym_salt" in path for path in remote)
    assert ".pseudonym_salt" not in first.files

    for split in SPLITS:
        path = _interactions_path(dataset_dir, split).relative_to(dataset_dir).as_posix()
        local, uploaded = _read_parquet(before[path]), _read_parquet(remote[path])
        originals = local.column("user_id").to_pylist()
        hashed = uploaded.column("user_id").to_pylist()
        assert all(re.fullmatch(r"[0-9a-f]{16}", h) for h in hashed)
        assert hashed == [hashlib.sha256((salt + u).encode()).hexdigest()[:16] for u in originals]
        assert not set(hashed) & set(originals)
        assert uploaded.schema.equals(local.schema, check_metadata=True)
        assert uploaded.drop_columns(["user_id"]).equals(local.drop_columns(["user_id"]))
        local_meta = pq.ParquetFile(pa.BufferReader(before[path])).metadata
        uploaded_meta = pq.ParquetFile(pa.BufferReader(remote[path])).metadata
        assert [uploaded_meta.row_group(g).num_rows for g in range(uploaded_meta.num_row_groups)] == [
            local_meta.row_group(g).num_rows for g in range(local_meta.num_row_groups)
        ]
        assert uploaded_meta.row_group(0).column(1).compression == "ZSTD"
    # Only interactions carry user ids: the rest is uploaded byte for byte.
    assert remote["items/train-00000-of-00001.parquet"] == before["items/train-00000-of-00001.parquet"]
    assert remote["README.md"] == before["README.md"]

    # Republishing reuses the saved salt, so users keep their pseudonyms.
    second = publish_dataset(
        dataset_dir, "tester/timgen-again", token=TOKEN, endpoint=hub.endpoint, pseudonymize=True
    )
    assert second.pseudonymized
    assert salt_file.read_text().strip() == salt
    again = hub.repo_files("tester/timgen-again")
    for split in SPLITS:
        path = _interactions_path(dataset_dir, split).relative_to(dataset_dir).as_posix()
        assert (
            _read_parquet(again[path]).column("user_id").equals(_read_parquet(remote[path]).column("user_id"))
        )


def test_pseudonymize_leaves_the_users_config_out(hub: FakeHub, dataset_dir: Path) -> None:
    (dataset_dir / "users").mkdir()
    users = pa.table({"user_id": ["u1", "u2"], "attributes": ['{"age": 24, "zip": "85711"}', "{}"]})
    pq.write_table(users, dataset_dir / "users" / "train-00000-of-00001.parquet")
    card = CARD.replace("    path: items/train-*.parquet\n", "    path: items/train-*.parquet\n- config_name: users\n"
                        "  data_files:\n  - split: train\n    path: users/train-*.parquet\n")
    (dataset_dir / "README.md").write_text(card, encoding="utf-8")

    plain = publish_dataset(dataset_dir, "tester/plain", token=TOKEN, endpoint=hub.endpoint)
    assert "users/train-00000-of-00001.parquet" in hub.repo_files("tester/plain") and not plain.pseudonymized

    publish_dataset(dataset_dir, REPO_ID, token=TOKEN, endpoint=hub.endpoint, pseudonymize=True)
    remote = hub.repo_files(REPO_ID)
    assert not any(path.startswith("users/") for path in remote)
    readme = remote["README.md"].decode()
    front = yaml.safe_load(readme.split("---\n")[1])
    assert [c["config_name"] for c in front["configs"]] == ["interactions", "items"]
    assert front["license"] == "cc-by-4.0" and readme.endswith("A tiny hand-written dataset for the publish tests.\n")
    assert (dataset_dir / "users").is_dir() and (dataset_dir / "README.md").read_text() == card  # local copy kept


def test_pseudonymize_salt_from_argument_then_environment(
    hub: FakeHub, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = _interactions_path(dataset_dir, "train").relative_to(dataset_dir).as_posix()
    originals = pq.read_table(dataset_dir / train).column("user_id").to_pylist()

    monkeypatch.setenv("TIMGEN_PSEUDONYM_SALT", "salt-from-env")
    publish_dataset(dataset_dir, "tester/by-env", token=TOKEN, endpoint=hub.endpoint, pseudonymize=True)
    publish_dataset(
        dataset_dir, "tester/by-arg", token=TOKEN, endpoint=hub.endpoint, pseudonymize=True, salt="s1"
    )

    def uploaded_ids(repo_id: str) -> list[str]:
        return _read_parquet(hub.repo_files(repo_id)[train]).column("user_id").to_pylist()

    assert uploaded_ids("tester/by-env") == [
        hashlib.sha256(f"salt-from-env{u}".encode()).hexdigest()[:16] for u in originals
    ]
    assert uploaded_ids("tester/by-arg") == [
        hashlib.sha256(f"s1{u}".encode()).hexdigest()[:16] for u in originals
    ]
    assert not (dataset_dir / ".pseudonym_salt").exists()  # nothing to remember when the salt was given


def test_wrong_token_is_a_publish_error_without_the_token(hub: FakeHub, dataset_dir: Path) -> None:
    secret = "hf_wrong_secret_4f9a1c"

    with pytest.raises(PublishError) as caught:
        publish_dataset(dataset_dir, REPO_ID, token=secret, endpoint=hub.endpoint)

    message = str(caught.value)
    assert "401" in message and "HF_TOKEN" in message and "hf auth login" in message
    assert "\n" not in message
    chain, error = [], caught.value
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert all(secret not in str(e) and secret not in repr(e) for e in chain)
    assert not hub.repo_exists(REPO_ID)


def test_read_only_token_is_a_publish_error_about_write_permission(hub: FakeHub, dataset_dir: Path) -> None:
    with pytest.raises(PublishError, match="write permission") as caught:
        publish_dataset(dataset_dir, REPO_ID, token="hf_read_only_token", endpoint=hub.endpoint)
    assert "hf_read_only_token" not in str(caught.value)


def test_missing_token_is_a_publish_error_naming_the_fixes(hub: FakeHub, dataset_dir: Path) -> None:
    with pytest.raises(PublishError, match=r"HF_TOKEN.*hf auth login"):
        publish_dataset(dataset_dir, REPO_ID, endpoint=hub.endpoint)
    assert hub.requests == []


def test_token_from_environment_is_used(
    hub: FakeHub, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    result = publish_dataset(dataset_dir, REPO_ID, endpoint=hub.endpoint)
    assert hub.repo_files(REPO_ID)["README.md"] == (dataset_dir / "README.md").read_bytes()
    assert result.commit_oid == hub.commits(REPO_ID)[-1]["oid"]


@pytest.mark.parametrize("layout", ["missing", "empty", "card_only", "data_only"])
def test_folder_that_is_not_a_built_dataset_is_a_usage_error(
    hub: FakeHub, tmp_path: Path, layout: str
) -> None:
    folder = tmp_path / "not-built"
    if layout != "missing":
        folder.mkdir()
    if layout == "card_only":
        (folder / "README.md").write_text(CARD)
    if layout == "data_only":
        (folder / "interactions").mkdir()

    with pytest.raises(UsageError, match="timgen-data build"):
        publish_dataset(folder, REPO_ID, token=TOKEN, endpoint=hub.endpoint)
    assert hub.requests == []


@pytest.mark.parametrize("repo_id", ["no-namespace", "a/b/c", "/name", "bad name/x"])
def test_malformed_repo_id_is_a_usage_error(hub: FakeHub, dataset_dir: Path, repo_id: str) -> None:
    with pytest.raises(UsageError, match="Repo id"):
        publish_dataset(dataset_dir, repo_id, token=TOKEN, endpoint=hub.endpoint)
    assert hub.requests == []


def test_token_never_appears_in_request_paths_or_the_result(hub: FakeHub, dataset_dir: Path) -> None:
    result = publish_dataset(
        dataset_dir, REPO_ID, private=True, token=TOKEN, endpoint=hub.endpoint, pseudonymize=True, salt="s"
    )
    # Read back through the client too, so the log holds reads as well as writes.
    api = huggingface_hub.HfApi(endpoint=hub.endpoint, token=TOKEN)
    assert "README.md" in api.list_repo_files(REPO_ID, repo_type="dataset")

    requests = hub.requests
    assert requests and all(r.authorized for r in requests)  # the token was sent, in a header
    assert all(TOKEN not in r.path for r in requests)
    assert TOKEN not in repr(result) and TOKEN not in str(result)
