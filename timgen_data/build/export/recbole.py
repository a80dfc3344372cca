"""RecBole atomic files: ``.inter``, ``.item``, ``.user`` and the ``benchmark_filename`` split files.

Field headers carry RecBole's ``name:type`` suffixes; ``token_seq`` fields are space
separated, so a multi-word genre is joined with underscores to stay one token. The split
files (``<name>.train.inter`` …) let RecBole reproduce our split through its
``benchmark_filename: [train, valid, test]`` option instead of re-splitting.
"""

from __future__ import annotations

import math
from pathlib import Path

from timgen_data.build.export.history import FlatDataset, Interaction, natural_key

BENCHMARK = {"train": "train", "validation": "valid", "test": "test"}


def clean(value: object) -> str:
    """One field: tabs and line breaks would break the row, so they become spaces."""
    text = "" if value is None else str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ").strip()


def number(value: float) -> str:
    """A float field; empty where there is no value (a click has no rating), which RecBole reads as NaN."""
    value = float(value)
    if math.isnan(value):
        return ""
    return str(int(value)) if value.is_integer() else repr(value)


def _inter_lines(rows: list[Interaction], with_action: bool) -> list[str]:
    """With actions besides ``rate``, ``action:token`` and the scenario's ``score:float`` (y_score) follow,
    since the raw value alone (a purchase amount, watch seconds, often nothing) is no preference."""
    header = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
    if with_action:
        header += ["action:token", "score:float"]
    lines = ["\t".join(header)]
    for r in rows:
        fields = [clean(r.user_id), clean(r.item_id), number(r.value), str(r.timestamp)]
        if with_action:
            fields += [clean(r.action), number(r.score)]
        lines.append("\t".join(fields))
    return lines


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_recbole(data: FlatDataset, folder: Path, name: str) -> list[Path]:
    """Write the atomic files of ``data`` into ``folder``; returns the files written."""
    with_action = any(r.action != "rate" for r in data.interactions)
    written = []
    inter = folder / f"{name}.inter"
    _write(inter, _inter_lines(data.interactions, with_action))
    written.append(inter)
    for split, suffix in BENCHMARK.items():
        path = folder / f"{name}.{suffix}.inter"
        _write(path, _inter_lines([r for r in data.interactions if r.split == split], with_action))
        written.append(path)
    lines = ["item_id:token\ttitle:token_seq\trelease_year:token\tgenre:token_seq"]
    for item_id in sorted(data.items, key=natural_key):
        item = data.items[item_id]
        genres = " ".join(clean(g).replace(" ", "_") for g in item.classes if clean(g))
        year = "" if item.year is None else str(item.year)
        lines.append("\t".join([clean(item_id), clean(item.title), year, genres]))
    path = folder / f"{name}.item"
    _write(path, lines)
    written.append(path)
    if data.users:
        path = folder / f"{name}.user"
        _write(path, _user_lines(data))
        written.append(path)
    return written


def _user_lines(data: FlatDataset) -> list[str]:
    """RecBole's ``.user``: one ``token`` field per attribute (``token_seq`` for lists), as its own
    MovieLens files type age and zip code; users with no interaction are left out."""
    wanted = sorted({r.user_id for r in data.interactions}, key=natural_key)
    keys = sorted({k for u in wanted for k in data.users.get(u, {})})
    lists = {k for u in wanted for k, v in data.users.get(u, {}).items() if isinstance(v, list)}
    lines = ["\t".join(["user_id:token", *(f"{k}:{'token_seq' if k in lists else 'token'}" for k in keys)])]
    for user_id in wanted:
        attributes = data.users.get(user_id, {})
        fields = [clean(user_id)]
        for key in keys:
            value = attributes.get(key)
            if isinstance(value, list):
                fields.append(" ".join(clean(v).replace(" ", "_") for v in value if clean(v)))
            else:
                fields.append(clean(value))
        lines.append("\t".join(fields))
    return lines
