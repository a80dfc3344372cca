"""``generate`` as sampled, context-aware generation with content: draws of ℓ, the context of
the generated step, each item's title, text, class set and assets, and the HTML page."""

from __future__ import annotations

from dataclasses import asdict

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.contract import drifting_histories, write_contract

from timgen_model.config import load_run_config
from timgen_model.errors import ModelUsageError
from timgen_model.generation import generate_for_user
from timgen_model.generation_context import GenerationContext
from timgen_model.generation_page import render_page, write_page
from timgen_model.item_content import ItemAsset
from timgen_model.training import train

TINY = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=16",
        "model.num_heads=2", "train.batch_size=16", "train.learning_rate=0.01", "train.threads=1"]
# The device each genre's interactions happen on, so the device carries signal.
DEVICE = {"g0": "tv", "g1": "tv", "g2": "mobile", "g3": "mobile"}


def with_context_and_text(folder):
    """Give every interaction a device (by its class), a platform and a geo, and every item a text."""
    for path in (folder / "interactions").glob("*.parquet"):
        table = pq.read_table(path)
        devices = [[DEVICE[c] for c in row] for row in table["classes"].to_pylist()]
        table = table.set_column(table.schema.get_field_index("devices"), "devices", pa.array(devices, table["devices"].type))
        table = table.set_column(table.schema.get_field_index("platforms"), "platforms",
                                 pa.array([["app"] * len(d) for d in devices], table["platforms"].type))
        table = table.set_column(table.schema.get_field_index("geos"), "geos",
                                 pa.array([["FR"] * len(d) for d in devices], table["geos"].type))
        pq.write_table(table, path)
    items_path = next((folder / "items").glob("*.parquet"))
    items = pq.read_table(items_path)
    texts = pa.array([f"About {i}" for i in items["item_id"].to_pylist()], items["text"].type)
    pq.write_table(items.set_column(items.schema.get_field_index("text"), "text", texts), items_path)
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    histories, genres = drifting_histories(users=40, steps=16, seed=4)
    dataset = with_context_and_text(write_contract(tmp_path_factory.mktemp("gen") / "ds", histories, genres))
    out = tmp_path_factory.mktemp("run") / "run"
    train(dataset, out, load_run_config(None, TINY + ["train.epochs=3"]))
    return out


def item_lists(result):
    return [[r.item_id for r in draw.recommendations] for draw in result.samples]


def test_temperature_zero_gives_mu_in_every_draw_and_todays_output(run):
    once = generate_for_user(run, "u3", top_k=5)
    many = generate_for_user(run, "u3", top_k=5, samples=4, temperature=0.0, seed=11)
    assert len(many.samples) == 4
    assert all(draw.recommendations == many.recommendations for draw in many.samples)
    # One draw or four ranked in one product: equal up to float summation order.
    assert item_lists(many)[0] == [r.item_id for r in once.recommendations] and many.latent == once.latent
    assert [r.logit for r in many.recommendations] == pytest.approx([r.logit for r in once.recommendations], rel=1e-5)


def test_draws_differ_with_temperature(run):
    result = generate_for_user(run, "u3", top_k=5, samples=6, temperature=1.0, seed=0)
    logits = [tuple(r.logit for r in draw.recommendations) for draw in result.samples]
    assert len(set(logits)) == 6  # every draw ranks with its own ℓ
    hot = generate_for_user(run, "u3", top_k=5, samples=6, temperature=200.0, seed=0)
    assert len({tuple(items) for items in item_lists(hot)}) > 1  # far enough from μ to pick other items


def test_same_seed_same_output_other_seed_other_output(run):
    first = generate_for_user(run, "u3", top_k=5, samples=3, temperature=1.0, seed=5)
    again = generate_for_user(run, "u3", top_k=5, samples=3, temperature=1.0, seed=5)
    other = generate_for_user(run, "u3", top_k=5, samples=3, temperature=1.0, seed=6)
    assert asdict(first) == asdict(again)
    assert [r.logit for r in first.recommendations] != [r.logit for r in other.recommendations]


def test_context_changes_the_output(run):
    default = generate_for_user(run, "u3", top_k=5)
    assert default.context.device in ("tv", "mobile") and default.context.at == default.last_timestamp
    on_tv = generate_for_user(run, "u3", top_k=5, context=GenerationContext(device="tv"))
    on_mobile = generate_for_user(run, "u3", top_k=5, context=GenerationContext(device="mobile"))
    assert [r.predicted_score for r in on_tv.recommendations] != [r.predicted_score for r in on_mobile.recommendations]
    assert on_tv.context.device == "tv" and on_mobile.context.device == "mobile"
    same = on_tv if default.context.device == "tv" else on_mobile
    assert same.recommendations == default.recommendations  # naming the context it had changes nothing
    later = generate_for_user(run, "u3", top_k=5, context=GenerationContext(at=default.last_timestamp + 40 * 86400))
    assert later.latent != default.latent and later.context.at == default.last_timestamp + 40 * 86400
    assert later.context.platform == "app" and later.context.geo == "FR"


def test_context_the_model_cannot_read_is_refused(run):
    with pytest.raises(ModelUsageError, match="known: mobile, tv"):
        generate_for_user(run, "u3", context=GenerationContext(device="fridge"))
    result = generate_for_user(run, "u3")
    with pytest.raises(ModelUsageError, match="before the user's newest interaction"):
        generate_for_user(run, "u3", context=GenerationContext(at=result.last_timestamp - 1))
    with pytest.raises(ModelUsageError, match="--samples"):
        generate_for_user(run, "u3", samples=0)
    with pytest.raises(ModelUsageError, match="--temperature"):
        generate_for_user(run, "u3", temperature=-1.0)


def test_items_carry_their_content_and_assets(run, tmp_path):
    poster = tmp_path / "poster.png"
    poster.write_bytes(b"\x89PNG\r\n\x1a\n")
    asked = []

    def lookup(item_ids):
        asked.append(list(item_ids))
        return {item: [ItemAsset("image", f"https://example.org/{item}.png", str(poster), "image/png"),
                       ItemAsset("video", f"https://example.org/{item}.mp4")] for item in item_ids}

    result = generate_for_user(run, "u3", top_k=4, samples=2, temperature=50.0, assets=lookup)
    shown = {r.item_id for draw in result.samples for r in draw.recommendations}
    assert set(asked[0]) == shown  # one lookup for every item of every draw
    for draw in result.samples:
        for r in draw.recommendations:
            genre = r.item_id.split("_")[0].replace("i", "g")
            assert r.title == f"Title {r.item_id}" and r.text == f"About {r.item_id}" and r.classes == [genre]
            assert [a.modality for a in r.assets] == ["image", "video"]
            assert r.assets[0].path == str(poster) and r.assets[1].uri.endswith(f"{r.item_id}.mp4")
    page = write_page(result, tmp_path / "pages")
    html = page.read_text()
    assert page.name == "generated-u3.html"
    assert html.count(f'<img src="{poster.resolve().as_uri()}"') == 8  # 2 draws × 4 items, shown in place
    assert f'href="https://example.org/{result.recommendations[0].item_id}.mp4"' in html  # not fetched: a link
    assert "Draw 2" in html and result.recommendations[0].text in html
    assert render_page(result) == html
