"""schema.sql is canonical; the SQLAlchemy tables must mirror it exactly."""

from __future__ import annotations

from sqlalchemy import inspect

from timgen_data.store import models


def _affinity(type_) -> str:
    text = type_.upper() if isinstance(type_, str) else str(type_).upper()
    if "INT" in text:
        return "BIGINT" if "BIG" in text else "INTEGER"
    if "BYTEA" in text or "BLOB" in text or "BINARY" in text:
        return "BYTES"
    if "DOUBLE" in text or "FLOAT" in text or "REAL" in text:
        return "DOUBLE"
    return "TEXT"


def _declared_types(store, table: str) -> dict:
    """SQLite reflects unknown type names (BYTEA) as NullType; read the declared text."""
    if store.dialect != "sqlite":
        return {}
    with store.begin() as conn:
        return {row[1]: row[2] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")}


def describe_database(store) -> dict:
    inspector = inspect(store.engine)
    result = {}
    for table in inspector.get_table_names():
        declared = _declared_types(store, table)
        columns = {c["name"]: (_affinity(declared.get(c["name"], c["type"])), c["nullable"])
                   for c in inspector.get_columns(table)}
        pk = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
        uniques = sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table))
        fks = sorted((tuple(f["constrained_columns"]), f["referred_table"]) for f in inspector.get_foreign_keys(table))
        indexes = sorted(tuple(i["column_names"]) for i in inspector.get_indexes(table) if not i.get("unique"))
        result[table] = (columns, pk, uniques, fks, indexes)
    return result


def describe_models() -> dict:
    result = {}
    for table in models.metadata.sorted_tables:
        pk_cols = {c.name for c in table.primary_key.columns}
        columns = {c.name: (_affinity(c.type), c.nullable and c.name not in pk_cols) for c in table.columns}
        pk = tuple(c.name for c in table.primary_key.columns)
        uniques = sorted(tuple(c.name for c in u.columns) for u in table.constraints
                         if type(u).__name__ == "UniqueConstraint")
        fks = sorted((tuple(f.parent.name for f in [fk]), fk.column.table.name) for fk in table.foreign_keys)
        indexes = sorted(tuple(c.name for c in i.columns) for i in table.indexes if not i.unique)
        result[table.name] = (columns, pk, uniques, fks, indexes)
    return result


def test_schema_sql_and_models_match(store):
    database = describe_database(store)
    mirror = describe_models()
    assert sorted(database) == sorted(mirror)
    for table in mirror:
        db_columns, mirror_columns = database[table][0], mirror[table][0]
        # SQLite reports INTEGER PRIMARY KEY columns as nullable; compare types there. Its
        # integers are all 64-bit, so BIGINT in the mirror is INTEGER in the file.
        if store.dialect == "sqlite":
            db_columns = {k: (t, n if k not in database[table][1] else False) for k, (t, n) in db_columns.items()}
            mirror_columns = {k: ("INTEGER" if t == "BIGINT" and db_columns.get(k, ("",))[0] == "INTEGER" else t, n)
                              for k, (t, n) in mirror_columns.items()}
        assert db_columns == mirror_columns, table
        assert database[table][1:] == mirror[table][1:], table
