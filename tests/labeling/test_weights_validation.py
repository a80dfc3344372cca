"""A weights file that is not finite numbers and whole seconds, not a file, or not UTF-8
is refused in one line before any label is written."""

from __future__ import annotations

import pytest

from support.cli_process import assert_fails_in_one_line, invoke_cli
from timgen_data.labeling import load_weights
from timgen_data.store import Store, fetch_rows, id_map, upsert_rows


@pytest.fixture
def shop(tmp_path) -> str:
    """A store URL with a click and a purchase to label, and no labels yet."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = Store.open(url)
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"], [("shop", "u1", "{}")],
                    conflict=["source", "external_id"])
        upsert_rows(conn, "items", ["source", "external_id", "category", "categories", "attributes"],
                    [("shop", "i1", "Books", '["Books"]', "{}")], conflict=["source", "external_id"])
        uid, iid = id_map(conn, "users", "shop")["u1"], id_map(conn, "items", "shop")["i1"]
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action"],
                    [(uid, iid, 0, "click"), (uid, iid, 10, "purchase")], conflict=["user_id", "item_id", "ts", "action"])
    store.dispose()
    return url


def stored_labels(url: str) -> int:
    store = Store.open(url)
    with store.begin() as conn:
        [(count,)] = fetch_rows(conn, "SELECT COUNT(*) FROM labels")
    store.dispose()
    return count


@pytest.mark.parametrize("text, key", [
    ("[ecommerce]\ngamma = inf\n", "ecommerce.gamma"),
    ("[ecommerce]\ngamma = -inf\n", "ecommerce.gamma"),
    ("[ecommerce]\ngamma = nan\n", "ecommerce.gamma"),
    ("[video]\nlambda2 = true\n", "video.lambda2"),
    ("[ecommerce]\nsession_gap = true\n", "ecommerce.session_gap"),
    ("[ecommerce]\nsession_gap = 1.5\n", "ecommerce.session_gap"),
])
def test_weights_that_are_not_finite_numbers_or_whole_seconds_are_refused(tmp_path, shop, text, key):
    weights = tmp_path / "weights.toml"
    weights.write_text(text)
    result = invoke_cli("--db", shop, "label", "--scenario", "ecommerce", "--weights", weights)
    assert_fails_in_one_line(result, 2, "ConfigError", str(weights), key)
    assert stored_labels(shop) == 0


def test_whole_seconds_and_integer_weights_are_accepted(tmp_path):
    weights = tmp_path / "weights.toml"
    weights.write_text("[ecommerce]\ngamma = 10\nsession_gap = 1800\n[video]\nlambda1 = 0.25\n")
    loaded = load_weights(weights)
    assert loaded.ecommerce.gamma == 10.0 and loaded.ecommerce.session_gap == 1800 and loaded.video.lambda1 == 0.25


def test_a_weights_folder_is_refused(tmp_path, shop):
    folder = tmp_path / "weights"
    folder.mkdir()
    result = invoke_cli("--db", shop, "label", "--scenario", "ecommerce", "--weights", folder)
    assert_fails_in_one_line(result, 2, "ConfigError", str(folder), "is a folder", "--weights")
    assert stored_labels(shop) == 0


def test_a_weights_file_that_is_not_utf8_is_refused(tmp_path, shop):
    weights = tmp_path / "weights.toml"
    weights.write_bytes("# poids pour la boutique à Orléans\n[ecommerce]\ngamma = 5\n".encode("latin-1"))
    result = invoke_cli("--db", shop, "label", "--scenario", "ecommerce", "--weights", weights)
    assert_fails_in_one_line(result, 2, "ConfigError", str(weights), "not UTF-8", "--weights")
    assert stored_labels(shop) == 0
