"""Turning library results into terminal output (tables on stdout)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def print_mapping(title: str, rows: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items():
        table.add_row(str(key), str(value))
    console.print(table)


def print_records(title: str, records: list[dict[str, Any]]) -> None:
    if not records:
        console.print(f"{title}: none")
        return
    table = Table(title=title)
    for key in records[0]:
        table.add_column(str(key))
    for record in records:
        table.add_row(*(str(v) for v in record.values()))
    console.print(table)
