"""Options shared by every command, worded once."""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from timgen_data.errors import UsageError
from timgen_data.settings import DATA_DIR_ENV, DB_ENV, resolve_data_dir, resolve_db_url, writable_data_dir

if TYPE_CHECKING:
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
        # Imported here: the store pulls in pandas and SQLAlchemy, which `--help` and `--version` never need.
        from timgen_data.store import Store

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


ENGINES = ("local", "spark")
SPARK_WORKDIR_ENV = "TIMGEN_SPARK_WORKDIR"


@dataclass(frozen=True)
class EngineChoice:
    """Which engine runs a whole-table stage (``label``, ``build``), and how Spark is reached."""

    name: str = "local"
    spark_master: str | None = None
    spark_conf: tuple[str, ...] = ()
    jdbc_jar: Path | None = None
    spark_workdir: Path | None = None

    @property
    def spark(self) -> bool:
        return self.name == "spark"

    def check(self) -> None:
        given = [flag for flag, value in (("--spark-master", self.spark_master), ("--spark-conf", self.spark_conf),
                                          ("--jdbc-jar", self.jdbc_jar), ("--spark-workdir", self.spark_workdir))
                 if value]
        if given and not self.spark:
            raise UsageError(f"{', '.join(given)} {'apply' if len(given) > 1 else 'applies'} only with --engine spark")
        for setting in self.spark_conf:
            if "=" not in setting or not setting.split("=", 1)[0].strip():
                raise UsageError(f"--spark-conf {setting!r}: give KEY=VALUE, e.g. spark.executor.memory=8g")

    @contextmanager
    def session(self):
        """A SparkSession for one command; stopped afterwards unless it was running before (a notebook)."""
        from timgen_data.spark.session import spark_session

        conf = dict(setting.split("=", 1) for setting in self.spark_conf)
        before = _active_spark()
        spark = spark_session(self.spark_master, conf={k.strip(): v.strip() for k, v in conf.items()},
                              jdbc_jar=self.jdbc_jar)
        try:
            yield spark
        finally:
            if spark is not before:
                spark.stop()

    def workdir(self, settings: Settings) -> Path:
        """Where the Spark engine's scratch files go: ``--spark-workdir`` (a path every executor sees on
        a cluster), else ``$TIMGEN_SPARK_WORKDIR``, else a folder in the data dir."""
        chosen = self.spark_workdir or os.environ.get(SPARK_WORKDIR_ENV)
        folder = Path(chosen) if chosen else settings.data_path / "spark-work"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _active_spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def engine_options(func):
    """``--engine`` and the Spark engine's options, handed to the command as one ``engine: EngineChoice``."""

    @functools.wraps(func)
    def command(*args, engine, spark_master, spark_conf, jdbc_jar, spark_workdir, **kwargs):
        choice = EngineChoice(engine, spark_master, tuple(spark_conf), jdbc_jar, spark_workdir)
        choice.check()
        return func(*args, engine=choice, **kwargs)

    options = [
        click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                     help="spark: run on Spark (pip install 'timgen-data[spark]'); same results as local."),
        click.option("--spark-master", metavar="URL",
                     help="With --engine spark: local[*], spark://host:7077, yarn, k8s://... Default: the session "
                          "spark-submit started, else $SPARK_MASTER, else local[*]."),
        click.option("--spark-conf", multiple=True, metavar="KEY=VALUE",
                     help="With --engine spark: a Spark setting, e.g. spark.executor.memory=8g; repeatable."),
        click.option("--jdbc-jar", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="With --engine spark: the PostgreSQL JDBC driver jar, to read a PostgreSQL store through "
                          "JDBC. Default: $TIMGEN_JDBC_JAR, /usr/share/java/postgresql.jar, ~/.m2."),
        click.option("--spark-workdir", type=click.Path(file_okay=False, path_type=Path),
                     help=f"With --engine spark: scratch folder for snapshots and results; on a cluster one the "
                          f"driver and every executor see. Default: ${SPARK_WORKDIR_ENV}, else DATA_DIR/spark-work."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
