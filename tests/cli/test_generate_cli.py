"""``generate`` and ``evaluate`` through the command line: draws, context, content from the
store, the HTML page, and diversity next to accuracy."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from support.contract import drifting_histories, write_contract

from timgen_data.cli import cli
from timgen_data.store import Store, fetch_rows, upsert_rows

SMALL = ["--set", "model.embedding_size=16", "--set", "model.feedforward_size=32", "--set", "model.latent_size=8",
         "--set", "model.max_len=16", "--set", "train.threads=1", "--batch-size", "16"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    histories, genres = drifting_histories(users=20, steps=12, seed=8)
    folder = tmp_path_factory.mktemp("gencli")
    dataset = write_contract(folder / "ds", histories, genres)
    out = folder / "run"
    result = run("train", dataset, "--out", out, "--epochs", 1, *SMALL)
    assert result.exit_code == 0, result.output
    return out


def store_with_posters(data_dir, items):
    """A store in ``data_dir`` holding a fetched poster for each of ``items``."""
    store = Store.open(f"sqlite:///{data_dir / 'store.sqlite'}")
    (data_dir / "assets" / "p").mkdir(parents=True)
    with store.begin() as conn:
        upsert_rows(conn, "items", ["source", "external_id", "categories", "attributes"],
                    [("demo", item, "[]", "{}") for item in items], conflict=["source", "external_id"])
        ids = dict(fetch_rows(conn, "SELECT external_id, id FROM items"))
        rows = []
        for item in items:
            (data_dir / "assets" / "p" / f"{item}.png").write_bytes(b"png")
            rows.append((ids[item], "image", f"http://media/{item}.png", f"p/{item}.png", "image/png", "ok",
                         int(time.time())))
        upsert_rows(conn, "assets", ["item_id", "modality", "uri", "local_path", "mime", "status", "updated_at"], rows,
                    conflict=["item_id", "modality", "uri"])


def test_generate_draws_with_content_and_a_page(trained, tmp_path):
    result = run("generate", trained, "--user", "u2", "--top-k", 3, "--samples", 3, "--seed", 4, "--json",
                 "--out", tmp_path / "pages")
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert len(output["samples"]) == 3 and output["temperature"] == 1.0 and output["seed"] == 4
    assert output["recommendations"] == output["samples"][0]["recommendations"]
    first = output["recommendations"][0]
    assert first["title"] == f"Title {first['item_id']}" and first["classes"] and first["assets"] == []
    assert output["context"]["at"] == output["last_timestamp"]
    page = tmp_path / "pages" / "generated-u2.html"
    assert output["page"] == str(page) and first["title"] in page.read_text()

    shown = run("generate", trained, "--user", "u2", "--top-k", 3, "--samples", 2)
    assert shown.exit_code == 0, shown.output
    assert "draw 2 of 2" in shown.output and (trained / "generated-u2.html").exists()


def test_generate_lists_assets_from_the_store(trained, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    plain = json.loads(run("generate", trained, "--user", "u2", "--top-k", 3, "--json").output)
    items = [r["item_id"] for r in plain["recommendations"]]
    store_with_posters(data_dir, items)
    result = run("--data-dir", data_dir, "generate", trained, "--user", "u2", "--top-k", 3, "--store", "--json")
    assert result.exit_code == 0, result.output
    for r in json.loads(result.output)["recommendations"]:
        assert r["assets"] == [{"modality": "image", "uri": f"http://media/{r['item_id']}.png",
                                "path": str(data_dir / "assets" / "p" / f"{r['item_id']}.png"), "mime": "image/png"}]
    missing = run("--data-dir", tmp_path / "empty", "generate", trained, "--user", "u2", "--store")
    assert missing.exit_code == 2 and "no store" in missing.output


def test_generate_context_options(trained):
    now = run("generate", trained, "--user", "u2", "--at", "now", "--json")
    assert now.exit_code == 0, now.output
    assert abs(json.loads(now.output)["context"]["at"] - time.time()) < 3600
    early = run("generate", trained, "--user", "u2", "--at", "2000-01-01")
    assert early.exit_code == 2 and "before the user's newest interaction" in early.output
    unknown = run("generate", trained, "--user", "u2", "--device", "fridge")
    assert unknown.exit_code == 2 and "--device 'fridge'" in unknown.output
    bad = run("generate", trained, "--user", "u2", "--samples", 0)
    assert bad.exit_code == 2 and "--samples" in bad.output


def test_evaluate_reports_diversity(trained):
    result = run("evaluate", trained, "--samples", 3, "--temperature", 2, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["samples"] == 3 and metrics["temperature"] == 2.0
    assert 10 <= metrics["distinct@10"] <= 30 and metrics["ild@10"] is not None and metrics["ndcg@10"] is not None
    shown = run("evaluate", trained)
    assert shown.exit_code == 0 and "distinct@10" in shown.output and "ild@10" in shown.output
