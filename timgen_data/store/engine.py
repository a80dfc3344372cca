"""Opening a store: engine setup, per-dialect tuning, schema creation and version check.

Two first-ever commands may open a new store at the same instant: creating and upgrading
the schema run one process at a time (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory
lock), and the second finds the first one's schema. Only an empty database or a timgen
store is ever written (see ``ownership``). A full disk is said in one place,
``Store.begin``, which every write passes through.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from timgen_data.disk_space import disk_full_error, is_disk_full
from timgen_data.errors import DiskFullError, SchemaVersionError, StoreError, UsageError
from timgen_data.store import models, ownership

# Any fixed number shared by every timgen process: the key of the schema's advisory lock.
_SCHEMA_LOCK_KEY = 0x7469_6D67  # "timg"
# PostgreSQL's SQLSTATE for "disk full" (class 53, insufficient resources).
_PG_DISK_FULL = "53100"
# About 20 s of retries in all (see _switch_to_wal).
_WAL_ATTEMPTS = 60
# The least room a full SQLite store is said to need: enough for a few chunks of rows.
_MIN_ROOM = 16_000_000


def schema_sql() -> str:
    """The canonical schema text shipped with the package."""
    return resources.files("timgen_data").joinpath("schema.sql").read_text(encoding="utf-8")


def schema_statements() -> list[str]:
    """``schema.sql`` split into statements (it has no triggers or quoted semicolons)."""
    lines = [line.split("--", 1)[0] for line in schema_sql().splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets readers (stats, build) run while a collect writes; NORMAL sync is safe
    # under WAL (a crash loses at most the last commit, never corrupts). A 32 MiB page cache
    # per connection: measured at 5M ratings, collect's CPU time is the same as with 256 MiB,
    # whose filling made every stage's memory grow with the store up to that size.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")
    _switch_to_wal(cursor)
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "cache_size=-32768", "temp_store=MEMORY"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _switch_to_wal(cursor) -> None:
    # When two processes open a new store at once, one may find the other switching the
    # file to WAL: SQLite then answers "database is locked" at once, without its busy
    # timeout (waiting there could deadlock), so the switch is retried for a while here.
    for attempt in range(_WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


class Store:
    """A handle on the relational store (SQLite or PostgreSQL through one URL).

    >>> store = Store.open("sqlite://")          # in-memory, for experiments
    >>> store.dialect
    'sqlite'
    """

    def __init__(self, engine: Engine, file: Path | None = None):
        self.engine = engine
        self.file = file  # a SQLite store's database file; None on PostgreSQL and in memory

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> "Store":
        """Open (and by default create) the store at ``url``.

        A file that is not SQLite, or a database holding another application's tables, is
        refused with a UsageError and left exactly as it was.
        """
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise UsageError(
                f"not a database URL: {url!r}; use sqlite:///path/store.sqlite or "
                "postgresql+psycopg://user@host/db"
            ) from exc
        file = None
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                file = Path(parsed.database)
                _make_folder(file.parent)
                ownership.check_sqlite_file(file)
            engine = create_engine(parsed)
            event.listen(engine, "connect", _tune_sqlite)
        elif parsed.get_backend_name() == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            try:
                engine = create_engine(parsed, pool_pre_ping=True)
            except NoSuchModuleError as exc:
                raise UsageError(f"unsupported PostgreSQL driver in {url!r}; use postgresql+psycopg://") from exc
        else:
            raise UsageError(
                f"unsupported store {parsed.get_backend_name()!r}; use a sqlite:/// or postgresql:// URL"
            )
        store = cls(engine, file)
        try:
            if create:
                store.create_schema()
            store.upgrade()
            store.check_version()
        except DBAPIError as exc:
            raise StoreError(
                f"cannot open the store at {store.url}: {exc.orig}; check --db / TIMGEN_DB "
                "and that the server is running"
            ) from exc
        return store

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction (committed on success).

        A full disk met by the database (SQLite's "database or disk is full", PostgreSQL's
        disk_full) becomes one DiskFullError; what earlier transactions committed stays.
        """
        with self._disk_full_said():
            with self.engine.begin() as conn:
                yield conn

    @contextmanager
    def _disk_full_said(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # driver errors come wrapped by SQLAlchemy or raw (bulk writes use the driver)
            full = self._full_disk_error(exc)
            if full is None:
                raise
            raise full from exc

    def _full_disk_error(self, error: BaseException) -> DiskFullError | None:
        """The error to raise for a database error that means "no room", else None.

        Only errors the database itself raised count: an OSError from a file a stage writes
        inside a transaction is about that file's folder, not the store's.
        """
        driver_error = error.orig if isinstance(error, DBAPIError) else error
        if getattr(driver_error, "sqlstate", None) == _PG_DISK_FULL:
            return DiskFullError(
                f"the PostgreSQL server at {self.url} has no room left ({driver_error}); free space on the "
                "server's data disk and re-run: what was committed so far is kept and resumed")
        if self.file is None or not isinstance(driver_error, sqlite3.Error) or not is_disk_full(driver_error):
            return None
        return disk_full_error(self.file.absolute().parent, self._room_needed(), what=f"the store {self.file.name}")

    def _room_needed(self) -> int:
        """Free space a full SQLite store needs to go on: as much again as its files take now.

        SQLite writes a transaction into the WAL first and a checkpoint then copies those pages
        into the database file, so a write needs room for its pages twice; building an index
        or a VACUUM needs room for a copy of what it rebuilds. The store's own size (database
        plus WAL) bounds all of these for the work a stage does; the floor keeps the estimate
        for a new, small store above what one chunk of rows takes.
        """
        size = 0
        for suffix in ("", "-wal", "-journal"):
            try:
                size += Path(f"{self.file}{suffix}").stat().st_size
            except OSError:
                pass
        return max(size, _MIN_ROOM)

    @contextmanager
    def _schema_transaction(self) -> Iterator[Connection]:
        """A transaction that one process at a time runs, for creating and upgrading the schema."""
        if self.dialect != "sqlite":
            with self.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
                yield conn
            return
        with self._disk_full_said(), self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            previous = raw.isolation_level
            # Without this, sqlite3 would start a deferred transaction of its own; IMMEDIATE
            # takes the write lock before the check, so a second process waits, then sees the schema.
            raw.isolation_level = None
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
                conn.commit()
            finally:
                raw.isolation_level = previous

    def table_names(self, conn: Connection) -> list[str]:
        """The tables (and views) of the store's database, or of its schema on PostgreSQL."""
        if self.dialect == "sqlite":
            sql = ("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                   "AND substr(name, 1, 7) != 'sqlite_'")
        else:
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        return list(conn.execute(text(sql)).scalars())

    def _holds_store(self, conn: Connection) -> bool:
        """True for a timgen store, False for an empty database; another application's is refused."""
        names = self.table_names(conn)
        found = ownership.classify(names)
        if found == "foreign":
            raise ownership.foreign_database_error(f"the database at {self.url}", names)
        return found == "store"

    def create_schema(self) -> None:
        """Run ``schema.sql`` if the database is empty; a no-op on an existing store.

        A database holding another application's tables is refused and left unchanged.
        """
        with self.begin() as conn:
            if self._holds_store(conn):
                return
        with self._schema_transaction() as conn:
            if self._holds_store(conn):  # another process created it while this one waited
                return
            for statement in schema_statements():
                conn.exec_driver_sql(statement)
            if self.dialect == "postgresql":
                for table, column in models.WIDE_KEYS:
                    conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BIGINT")
                for table in models.SURROGATE_KEY_TABLES:
                    conn.exec_driver_sql(
                        f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
                    )
            conn.execute(
                models.schema_version.insert().values(
                    version=models.SCHEMA_VERSION, applied_at=int(time.time())
                )
            )

    def upgrade(self) -> None:
        """Bring a store written by an earlier schema version up to this one, in one transaction.

        Each step only adds (a column, a wider key), so nothing stored is touched.
        """
        if not self._upgrade_due():
            return
        with self._schema_transaction() as conn:
            if not self._upgrade_due(conn):  # another process upgraded it while this one waited
                return
            versions = conn.execute(select(models.schema_version.c.version)).scalars().all()
            for version in range(versions[0], models.SCHEMA_VERSION):
                for statement in models.UPGRADES[version]:
                    conn.exec_driver_sql(statement)
            conn.execute(models.schema_version.update().values(version=models.SCHEMA_VERSION,
                                                               applied_at=int(time.time())))

    def _upgrade_due(self, conn: Connection | None = None) -> bool:
        """True when the store has one known, older schema version (current, newer or unknown:
        check_version says which)."""
        if conn is None:
            with self.begin() as conn:
                return self._upgrade_due(conn)
        if not conn.execute(text(self._table_exists_sql()), {"name": "schema_version"}).first():
            return False
        versions = conn.execute(select(models.schema_version.c.version)).scalars().all()
        return len(versions) == 1 and versions[0] < models.SCHEMA_VERSION and versions[0] in models.UPGRADES

    def check_version(self) -> None:
        with self.begin() as conn:
            versions = conn.execute(select(models.schema_version.c.version)).scalars().all()
        if versions != [models.SCHEMA_VERSION]:
            raise SchemaVersionError(
                f"the store at {self.url} has schema version {versions or 'none'}, this "
                f"timgen-data expects {models.SCHEMA_VERSION}; use a new --db or upgrade timgen-data"
            )

    def _table_exists_sql(self) -> str:
        if self.dialect == "sqlite":
            return "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"
        return "SELECT 1 FROM information_schema.tables WHERE table_name = :name AND table_schema = current_schema()"

    def dispose(self) -> None:
        self.engine.dispose()


def _make_folder(folder: Path) -> None:
    """The folder of a SQLite store's file, created if needed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(folder, what="the store") from None
        raise UsageError(f"cannot create the folder {folder} for the store ({exc.strerror or exc}); pass --db "
                         "a sqlite:/// path in a folder you can write, or --data-dir") from None
