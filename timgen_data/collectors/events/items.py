"""The item file beside a log (a MovieLens-style ``movies.dat``): titles, years and genres by item id.

Read with the log reader (any delimiter, a header or ``names``, gzip or zstd) in batches;
each row becomes the item the log's rows point at: its id written as the log's are
(``[item_ids] format``), its title without the trailing ``(year)`` and the year apart (the
title as written kept in ``attributes.original_title``, as the MovieLens collector keeps
it), its genres split into categories, the first being the primary class. Every item of
the file is stored, rated or not: the file is the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from timgen_data.collectors.events.convert import EventValueError
from timgen_data.collectors.events.mapping import EventMapping, ItemFile, MappingError
from timgen_data.collectors.events.read import headerless_hint, read_batches, read_header, shown_row
from timgen_data.errors import UsageError
from timgen_data.store import to_json, upsert_rows

# "Title (1999)" and "Title (1999–2003)" (a series' run): the first year is the year.
_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$")
ITEM_COLUMNS = ["source", "external_id", "title", "year", "category", "categories", "attributes"]


@dataclass
class ItemRows:
    rows: list[tuple]  # ITEM_COLUMNS, ready to upsert
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    read: int = 0  # records read, rejected ones included


def split_year(raw: str) -> tuple[str, int | None]:
    """The title without its trailing "(year)", and the year.

    >>> split_year("The Kid (1921)")
    ('The Kid', 1921)
    >>> split_year("Untitled")
    ('Untitled', None)
    """
    match = _YEAR.search(raw)
    if not match:
        return raw.strip(), None
    return raw[:match.start()].strip() or raw.strip(), int(match.group(1))


def item_file_path(spec: ItemFile) -> Path:
    path = Path(spec.path)
    if not path.is_file():
        raise UsageError(f"the mapping's [items] path {spec.path} is no file; give the item file's path, relative "
                         "to the mapping file")
    return path


def check_item_columns(path: Path, spec: ItemFile) -> None:
    """A :class:`MappingError` when ``[items]`` names a column the item file lacks."""
    header = read_header(path, "csv", spec.delimiter, names=spec.names, encoding=spec.encoding)
    missing = [(key, column) for key, column in (("id", spec.id), ("title", spec.title), ("genres", spec.genres))
               if column is not None and column not in header.columns]
    if missing:
        wanted = ", ".join(f"items.{key} = {column!r}" for key, column in missing)
        hint = headerless_hint(header, [c for _, c in missing], spec.names, "items.names")
        raise MappingError(f"{path}: the mapping's {wanted} names no column of this file{hint}; its columns are "
                           f"{', '.join(map(repr, header.columns)) or '(none)'}; first row: "
                           f"{shown_row(header.first_row)}; fix the mapping's [items]. Nothing was stored.")


def read_item_rows(path: Path, mapping: EventMapping, batch_rows: int) -> Iterator[ItemRows]:
    """The item file's rows as items of ``mapping``'s namespace, one batch at a time; under
    ``on_error = "stop"`` the first bad record raises."""
    spec = mapping.items
    assert spec is not None
    for batch in read_batches(path, "csv", spec.used(), delimiter=spec.delimiter, names=spec.names,
                              encoding=spec.encoding, batch_rows=batch_rows):
        out = ItemRows([], read=len(batch.frame) + len(batch.malformed))
        for line, reason in batch.malformed:
            _reject(out, path, line, reason, mapping)
        for line, record in zip(batch.positions.tolist(), batch.frame.to_dict("records")):
            row = _item_row(record, spec, mapping)
            if isinstance(row, str):
                _reject(out, path, line, f"{row}; row: {shown_row(_theirs(record, spec))}", mapping)
            else:
                out.rows.append(row)
        yield out


def save_item_rows(conn, rows: list[tuple]) -> int:
    """Upsert the items: the file's title, year and classes win over what a log row gave."""
    return upsert_rows(conn, "items", ITEM_COLUMNS, rows, conflict=["source", "external_id"],
                       update=["title", "year", "category", "categories", "attributes"])


def _item_row(record: dict, spec: ItemFile, mapping: EventMapping) -> tuple | str:
    """The item's row, or why the record cannot be one."""
    raw_id = _text(record.get("item"))
    if raw_id is None:
        return f"column {spec.id!r} (the item id) is empty"
    try:
        external_id = mapping.item_ids.apply(raw_id)
    except ValueError:
        return (f"column {spec.id!r} holds {raw_id!r}, which item_ids.format {mapping.item_ids.format!r} cannot "
                "write (it takes a whole number)")
    raw_title = _text(record.get("title"))
    title, year = split_year(raw_title) if raw_title is not None else (None, None)
    genres = _text(record.get("category"))
    categories = [g.strip() for g in genres.split(spec.genre_separator) if g.strip()] if genres else []
    attributes = {"original_title": raw_title} if raw_title is not None else {}
    return (mapping.namespace, external_id, title, year, categories[0] if categories else None, to_json(categories),
            to_json(attributes))


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return None
    return str(value).strip() or None


def _theirs(record: dict, spec: ItemFile) -> dict:
    return {spec.used()[ours]: value for ours, value in record.items()}


def _reject(out: ItemRows, path: Path, line: int, reason: str, mapping: EventMapping) -> None:
    if mapping.on_error == "stop":
        raise EventValueError(f"{path} line {line}: {reason}; fix the item file, or set on_error = \"skip\" in the "
                              "mapping to reject such records. Nothing was stored.")
    out.rejected.append((line, reason))
