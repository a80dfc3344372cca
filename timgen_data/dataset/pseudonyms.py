"""Pseudonymous user ids for a published copy of a dataset: salted hashes, one salt kept per folder.

A dataset folder is never changed but for its salt file: :func:`stage_pseudonymized_copy`
writes a copy whose ``interactions`` carry ``sha256(salt + user_id)[:16]`` instead of the
user ids, and without the ``users`` config. Keeping the salt (``.pseudonym_salt``, owner
only, never uploaded) gives a user the same pseudonym each time the dataset is published.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from timgen_data.errors import UsageError

SALT_FILE_NAME = ".pseudonym_salt"
SALT_ENV_VAR = "TIMGEN_PSEUDONYM_SALT"
PSEUDONYM_HEX_CHARS = 16


def pseudonymize_user_id(user_id: str, salt: str) -> str:
    """The published id for ``user_id``: 16 hex chars of sha256(salt + user_id)."""
    return hashlib.sha256((salt + user_id).encode()).hexdigest()[:PSEUDONYM_HEX_CHARS]


def resolve_salt(dataset_dir: Path, salt: str | None) -> str:
    """``salt`` when given, else ``$TIMGEN_PSEUDONYM_SALT``, else the one saved in ``dataset_dir``,
    else a new random one saved there."""
    if salt:
        return salt
    from_env = os.environ.get(SALT_ENV_VAR)
    if from_env:
        return from_env
    salt_file = dataset_dir / SALT_FILE_NAME
    if salt_file.is_file():
        saved = salt_file.read_text(encoding="utf-8").strip()
        if saved:
            return saved
    new_salt = secrets.token_hex(16)
    # Owner-only: whoever has the salt can test guesses of user ids against the hashes.
    fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_salt + "\n")
    return new_salt


def stage_pseudonymized_copy(source: Path, staging: Path, salt: str) -> None:
    """Copy ``source`` to ``staging`` (dot-paths left out) and hash user ids there.

    The ``users`` config is left out: age, gender and zip code next to a hashed id would
    undo the pseudonym.
    """
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(".*"))
    parquet_files = sorted((staging / "interactions").rglob("*.parquet"))
    for path in parquet_files:
        _pseudonymize_parquet(path, salt)
    if (staging / "users").is_dir():
        shutil.rmtree(staging / "users")
        _drop_card_config(staging / "README.md", "users")


def _drop_card_config(card: Path, config: str) -> None:
    """Remove ``config`` from the card's ``configs:`` front matter, leaving the rest as it was."""
    text = card.read_text(encoding="utf-8")
    _, front, body = text.split("---\n", 2)
    meta = yaml.safe_load(front)
    meta["configs"] = [c for c in meta.get("configs", []) if c.get("config_name") != config]
    card.write_text(f"---\n{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)}---\n{body}", encoding="utf-8")


def _pseudonymize_parquet(path: Path, salt: str) -> None:
    """Rewrite ``path`` in place with hashed ``user_id`` values.

    Row groups, row order, the schema and its metadata (the ``huggingface``
    features entry) and each column's compression are kept as they were.
    """
    with pq.ParquetFile(path) as source:
        _rewrite_user_ids(source, path, salt)


def _rewrite_user_ids(source: pq.ParquetFile, path: Path, salt: str) -> None:
    schema = source.schema_arrow
    index = schema.get_field_index("user_id")
    if index < 0 or not (
        pa.types.is_string(schema.field(index).type) or pa.types.is_large_string(schema.field(index).type)
    ):
        raise UsageError(
            f"{path.name} has no string user_id column, so it cannot be pseudonymized: "
            "rebuild with `timgen-data build`."
        )
    field = schema.field(index)
    compression = _column_compression(source)
    tmp_path = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp_path, schema, compression=compression) as writer:
        for group in range(source.num_row_groups):
            table = source.read_row_group(group)
            hashed = pa.array(
                [
                    None if uid is None else pseudonymize_user_id(uid, salt)
                    for uid in table.column(index).to_pylist()
                ],
                type=field.type,
            )
            # One write per source row group keeps the group boundaries as they were.
            writer.write_table(table.set_column(index, field, hashed), row_group_size=max(1, table.num_rows))
    os.replace(tmp_path, path)


def _column_compression(parquet_file: pq.ParquetFile) -> dict[str, str] | str:
    """Per-column compression codec of the first row group (the writer reuses it)."""
    metadata = parquet_file.metadata
    if metadata.num_row_groups == 0:
        return "snappy"
    group = metadata.row_group(0)
    codecs: dict[str, str] = {}
    for column in range(group.num_columns):
        chunk = group.column(column)
        codec = chunk.compression.lower()
        codecs[chunk.path_in_schema] = "none" if codec == "uncompressed" else codec
    return codecs
