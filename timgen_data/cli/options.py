"""Options shared by every command, worded once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click

from timgen_data.settings import DATA_DIR_ENV, DB_ENV, resolve_data_dir, resolve_db_url, writable_data_dir
from timgen_data.store import Store


@dataclass
class Settings:
    db: str | None
    data_dir: str | None
    _checked_data_path: Path | None = field(default=None, init=False, repr=False)

    @property
    def data_path(self) -> Path:
        """The data dir, created and checked writable on first use (a UsageError if it cannot be)."""
        if self._checked_data_path is None:
            self._checked_data_path = writable_data_dir(self.resolved_data_dir)
        return self._checked_data_path

    @property
    def resolved_data_dir(self) -> Path:
        """Where the data dir is, without creating or checking it: for reading and for messages."""
        return resolve_data_dir(self.data_dir)

    def open_store(self) -> Store:
        if self.db or os.environ.get(DB_ENV):
            return Store.open(resolve_db_url(self.db))
        return Store.open(resolve_db_url(None, self.data_path))  # the default store lives in the data dir


pass_settings = click.make_pass_decorator(Settings)


def store_options(func):
    """``--db`` and ``--data-dir`` on the top-level group."""
    func = click.option(
        "--db", envvar=DB_ENV, metavar="URL",
        help=f"Store URL (sqlite:///file or postgresql+psycopg://...); default a SQLite file in the data dir. Env: {DB_ENV}.",
    )(func)
    func = click.option(
        "--data-dir", envvar=DATA_DIR_ENV, metavar="DIR", type=click.Path(file_okay=False),
        help=f"Where downloads, raw files and the default store live (default ./timgen-data). Env: {DATA_DIR_ENV}.",
    )(func)
    return func


class EpochOrDate(click.ParamType):
    """UTC epoch seconds, or an ISO 8601 date/time (UTC unless it names a zone)."""

    name = "TIME"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is neither epoch seconds nor an ISO date such as 2000-06-01", param, ctx)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp())
