"""The store: schema on both databases, idempotent bulk writes, version checks."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from timgen_data.errors import SchemaVersionError, UsageError
from timgen_data.store import Store, fetch_rows, id_map, models, to_json, upsert_rows


def count(store: Store, table: str) -> int:
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(models.metadata.tables[table])).scalar_one()


def test_upsert_is_idempotent_and_updates(store):
    rows = [("src", str(i), to_json({"n": i})) for i in range(500)]
    for _ in range(2):
        with store.begin() as conn:
            upsert_rows(conn, "users", ["source", "external_id", "attributes"], rows,
                        conflict=["source", "external_id"], update=["attributes"])
    assert count(store, "users") == 500
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"], [("src", "7", to_json({"n": "new"}))],
                    conflict=["source", "external_id"], update=["attributes"])
        ids = id_map(conn, "users", "src")
        attrs = conn.execute(select(models.users.c.attributes).where(models.users.c.external_id == "7")).scalar_one()
    assert len(ids) == 500 and len(set(ids.values())) == 500
    assert attrs == '{"n":"new"}'


def test_duplicate_keys_in_one_batch_keep_the_last(store):
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"],
                    [("s", "1", "{}"), ("s", "1", '{"last":true}')],
                    conflict=["source", "external_id"], update=["attributes"])
        assert conn.execute(select(models.users.c.attributes)).scalar_one() == '{"last":true}'


def one_user_and_item(conn) -> tuple[int, int]:
    """A user "u" and an item "i" of source "s"; their surrogate ids."""
    upsert_rows(conn, "users", ["source", "external_id", "attributes"], [("s", "u", "{}")],
                conflict=["source", "external_id"])
    upsert_rows(conn, "items", ["source", "external_id", "categories", "attributes"], [("s", "i", "[]", "{}")],
                conflict=["source", "external_id"])
    return id_map(conn, "users", "s")["u"], id_map(conn, "items", "s")["i"]


def test_interactions_insert_keeps_existing_rows(store):
    with store.begin() as conn:
        uid, iid = one_user_and_item(conn)
    columns = ["user_id", "item_id", "ts", "action", "value"]
    key = ["user_id", "item_id", "ts", "action"]
    with store.begin() as conn:
        first = upsert_rows(conn, "interactions", columns, [(uid, iid, t, "rate", 3.0) for t in range(100)], conflict=key)
    with store.begin() as conn:
        again = upsert_rows(conn, "interactions", columns,
                            [(uid, iid, t, "rate", 5.0) for t in range(150)], conflict=key)
        values = conn.execute(select(models.interactions.c.value).where(models.interactions.c.ts == 5)).scalar_one()
    assert (first, again) == (100, 50)
    assert count(store, "interactions") == 150
    assert values == 3.0  # the stored row was kept, not overwritten


def test_failed_transaction_leaves_nothing(store):
    with pytest.raises(RuntimeError):
        with store.begin() as conn:
            upsert_rows(conn, "users", ["source", "external_id", "attributes"], [("s", "1", "{}")],
                        conflict=["source", "external_id"])
            raise RuntimeError("killed mid-way")
    assert count(store, "users") == 0


def test_reopening_keeps_data_and_checks_version(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    store = Store.open(url)
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"], [("s", "1", "{}")],
                    conflict=["source", "external_id"])
        conn.execute(models.schema_version.update().values(version=99))
    with pytest.raises(SchemaVersionError, match="schema version"):
        Store.open(url)


def test_sqlite_store_uses_wal(sqlite_store):
    with sqlite_store.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_bad_url_is_a_usage_error():
    with pytest.raises(UsageError, match="sqlite:///"):
        Store.open("mysql://nobody@127.0.0.1/x")


def test_interaction_ids_beyond_32_bits(store):
    """A platform's logs can pass 2**31 interactions: their keys (and the labels pointing at them) are 64-bit."""
    big = 2**31 + 7
    with store.begin() as conn:
        user, item = one_user_and_item(conn)
        upsert_rows(conn, "interactions", ["id", "user_id", "item_id", "ts", "action"], [(big, user, item, 1, "click")],
                    conflict=["user_id", "item_id", "ts", "action"])
        upsert_rows(conn, "labels", ["interaction_id", "scenario", "score"], [(big, "ecommerce", 1.0)],
                    conflict=["interaction_id", "scenario"])
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action"], [(user, item, 2, "cart")],
                    conflict=["user_id", "item_id", "ts", "action"])
        assert fetch_rows(conn, "SELECT interaction_id FROM labels") == [(big,)]
        assert fetch_rows(conn, "SELECT MAX(id) FROM interactions")[0][0] >= big



@contextmanager
def reopened_after_upgrade(store: Store):
    """The store opened again (which upgrades it), checked to be at the current schema version."""
    url = store.engine.url.render_as_string(hide_password=False)
    store.dispose()
    reopened = Store.open(url)
    try:
        with reopened.begin() as conn:
            assert fetch_rows(conn, "SELECT version FROM schema_version") == [(models.SCHEMA_VERSION,)]
        yield reopened
    finally:
        reopened.dispose()

def test_a_version_1_store_is_upgraded_in_place(store):
    """Stores written before interactions had a text column gain it on open; nothing stored changes."""
    with store.begin() as conn:
        user, item = one_user_and_item(conn)
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "value"],
                    [(user, item, 1, "rate", 4.0)], conflict=["user_id", "item_id", "ts", "action"])
        conn.exec_driver_sql("ALTER TABLE interactions DROP COLUMN attributes")
        conn.exec_driver_sql("ALTER TABLE interactions DROP COLUMN text")
        conn.exec_driver_sql("ALTER TABLE interactions DROP COLUMN utc_offset")
        conn.execute(models.schema_version.update().values(version=1))
    with reopened_after_upgrade(store) as reopened:
        with reopened.begin() as conn:
            assert fetch_rows(conn, "SELECT ts, action, value, text FROM interactions") == [(1, "rate", 4.0, None)]
            upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "text"],
                        [(user, item, 2, "comment", "Loved it")], conflict=["user_id", "item_id", "ts", "action"])
            assert fetch_rows(conn, "SELECT text FROM interactions WHERE ts = 2") == [("Loved it",)]


def test_a_version_2_store_gains_interaction_attributes_and_keeps_its_rows(store):
    """Stores written before interactions had attributes gain the column on open, NULL on every stored row."""
    with store.begin() as conn:
        user, item = one_user_and_item(conn)
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "value", "text"],
                    [(user, item, 1, "comment", 4.0, "Good")], conflict=["user_id", "item_id", "ts", "action"])
        conn.exec_driver_sql("ALTER TABLE interactions DROP COLUMN attributes")
        conn.exec_driver_sql("ALTER TABLE interactions DROP COLUMN utc_offset")
        conn.execute(models.schema_version.update().values(version=2))
    with reopened_after_upgrade(store) as reopened:
        with reopened.begin() as conn:
            assert fetch_rows(conn, "SELECT ts, action, value, text, attributes FROM interactions") == [
                (1, "comment", 4.0, "Good", None)]
            upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "attributes"],
                        [(user, item, 2, "comment", '{"helpful_votes": 3}')],
                        conflict=["user_id", "item_id", "ts", "action"])
            assert fetch_rows(conn, "SELECT attributes FROM interactions WHERE ts = 2") == [('{"helpful_votes": 3}',)]


def test_a_version_3_store_gains_the_utc_offset_column(store):
    """Stores written before interactions kept the local clock's offset gain the column on open,
    empty (unknown) for what they hold."""
    with store.begin() as conn:
        user, item = one_user_and_item(conn)
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "text"],
                    [(user, item, 1, "comment", "Fine")], conflict=["user_id", "item_id", "ts", "action"])
        conn.exec_driver_sql("ALTER TABLE interactions DROP COLUMN utc_offset")
        conn.execute(models.schema_version.update().values(version=3))
    with reopened_after_upgrade(store) as reopened:
        with reopened.begin() as conn:
            assert fetch_rows(conn, "SELECT ts, text, utc_offset FROM interactions") == [(1, "Fine", None)]
            upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "utc_offset"],
                        [(user, item, 2, "view", -300)], conflict=["user_id", "item_id", "ts", "action"])
            assert fetch_rows(conn, "SELECT utc_offset FROM interactions WHERE ts = 2") == [(-300,)]
