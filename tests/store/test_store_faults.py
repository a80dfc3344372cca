"""Opening a store where it cannot or must not be: a file that is not SQLite, another
application's database (SQLite and PostgreSQL), a data dir that cannot be written, two
first-ever commands creating the schema at once, and a disk that fills up under SQLite."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import text

from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.postgres import fresh_database
from timgen_data.errors import DiskFullError, UsageError
from timgen_data.store import Store, fetch_rows, upsert_rows


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_db_file_that_is_not_sqlite_is_refused_untouched(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: milk, eggs\n")
    before = files_in(tmp_path)
    result = invoke_cli("--db", f"sqlite:///{notes}", "stats", data_dir=tmp_path / "data")
    assert_fails_in_one_line(result, 2, "UsageError", str(notes), "not a SQLite database", "--db")
    assert files_in(tmp_path) == before  # the same bytes, and no -wal or -shm beside it


def test_a_sqlite_db_of_another_application_is_refused_untouched(tmp_path):
    other = tmp_path / "accounts.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (9.5), (12.0)")
    conn.close()
    before = files_in(tmp_path)
    result = invoke_cli("--db", f"sqlite:///{other}", "stats", data_dir=tmp_path / "data")
    assert_fails_in_one_line(result, 2, "UsageError", str(other), "invoices", "another application", "--db")
    assert files_in(tmp_path) == before
    with sqlite3.connect(other) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_an_empty_sqlite_file_becomes_a_store(tmp_path):
    empty = tmp_path / "new.sqlite"
    sqlite3.connect(empty).close()  # SQLite creates a zero-byte file
    Store.open(f"sqlite:///{empty}").dispose()
    store = Store.open(f"sqlite:///{empty}")  # and it is then recognised as a store
    with store.begin() as conn:
        assert "interactions" in store.table_names(conn)
    store.dispose()


def test_a_postgres_database_of_another_application_is_refused_untouched(postgres_server):
    with fresh_database(postgres_server) as url:
        import psycopg

        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("CREATE TABLE invoices (id SERIAL PRIMARY KEY, total REAL)")
            conn.execute("INSERT INTO invoices (total) VALUES (9.5)")
        result = invoke_cli("--db", url, "stats")
        assert_fails_in_one_line(result, 2, "UsageError", "invoices", "another application", "--db")
        with psycopg.connect(plain) as conn:
            tables = conn.execute("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = current_schema()").fetchall()
            assert tables == [("invoices",)]
            assert conn.execute("SELECT total FROM invoices").fetchall() == [(9.5,)]


@contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """A read-only mount at ``folder``: refused to root too, unlike ``chmod 555``."""
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root or CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_data_dir_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder\n")
    result = invoke_cli("stats", data_dir=a_file / "data")
    assert_fails_in_one_line(result, 2, "UsageError", str(a_file / "data"), f"{a_file} is a file", "--data-dir")
    assert a_file.read_text() == "not a folder\n"

    result = invoke_cli("label", data_dir=Path("/proc/timgen-data"))
    assert_fails_in_one_line(result, 2, "UsageError", "/proc/timgen-data", "--data-dir")

    with read_only_folder(tmp_path / "read-only") as folder:
        result = invoke_cli("collect", "movielens", "--from-file", tmp_path, data_dir=folder / "data")
        assert_fails_in_one_line(result, 2, "UsageError", str(folder / "data"), "Read-only", "--data-dir")


def test_a_data_dir_is_not_needed_with_another_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    result = invoke_cli("--db", url, "stats", data_dir=Path("/proc/timgen-data"))
    assert result.returncode == 0, result.stderr


def test_an_os_error_with_an_unusable_data_dir_is_still_one_line(tmp_path, monkeypatch):
    def refused(store):
        raise PermissionError(13, "Permission denied", str(tmp_path / "elsewhere"))

    monkeypatch.setattr("timgen_data.cli.stats.store_stats", refused)
    result = invoke_cli("--db", f"sqlite:///{tmp_path / 's.sqlite'}", "stats", data_dir=Path("/proc/timgen-data"))
    assert_fails_in_one_line(result, 3, "FileAccessError", "Permission denied")


def _open_at_once(url: str, barrier, results) -> None:
    barrier.wait()
    try:
        Store.open(url).dispose()
        results.put("ok")
    except Exception as exc:  # reported to the parent, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


def open_concurrently(url: str, processes: int = 4) -> list[str]:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_open_at_once, args=(url, barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return outcomes


def schema_rows(url: str) -> list[tuple]:
    store = Store.open(url)
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT version FROM schema_version")
    store.dispose()
    return rows


def test_first_commands_racing_to_create_a_sqlite_store_all_succeed(tmp_path):
    for attempt in range(5):
        url = f"sqlite:///{tmp_path / f'race-{attempt}' / 'store.sqlite'}"
        assert open_concurrently(url) == ["ok"] * 4
        assert len(schema_rows(url)) == 1


def test_first_commands_racing_to_create_a_postgres_store_all_succeed(postgres_server):
    for _ in range(3):
        with fresh_database(postgres_server) as url:
            assert open_concurrently(url) == ["ok"] * 4
            assert len(schema_rows(url)) == 1


def test_a_full_sqlite_store_says_its_folder_and_keeps_what_was_committed(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    columns, key = ["source", "external_id", "attributes"], ["source", "external_id"]
    with store.begin() as conn:
        upsert_rows(conn, "users", columns, [("s", str(i), "{}") for i in range(100)], conflict=key)
    with pytest.raises(DiskFullError, match=f"the disk holding {tmp_path} is full") as caught:
        with store.begin() as conn:
            # SQLite's own "database or disk is full", as on a real full disk (see tests/cli/test_disk_full.py)
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
            upsert_rows(conn, "users", columns, [("s", f"{i}-new", "x" * 500) for i in range(2000)], conflict=key)
    assert "re-run" in str(caught.value) and "\n" not in str(caught.value)
    with store.begin() as conn:
        conn.exec_driver_sql("PRAGMA max_page_count = 1073741823")
        assert fetch_rows(conn, "SELECT COUNT(*) FROM users") == [(100,)]
    store.dispose()


def test_a_full_postgres_disk_is_one_line(postgres_server):
    import psycopg

    with fresh_database(postgres_server) as url:
        store = Store.open(url)
        with pytest.raises(DiskFullError, match="PostgreSQL server .* has no room left") as caught:
            with store.begin():  # what the server answers when it cannot extend a table's file
                raise psycopg.errors.DiskFull("could not extend file: No space left on device")
        assert "\n" not in str(caught.value)
        store.dispose()


def test_an_os_error_inside_a_transaction_is_not_called_a_full_store(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    with pytest.raises(OSError):
        with store.begin() as conn:
            conn.execute(text("SELECT 1"))
            raise OSError(28, "No space left on device", str(tmp_path / "elsewhere" / "file.bin"))
    with pytest.raises(UsageError):  # nor a library error passing through
        with store.begin():
            raise UsageError("a stage's own error")
    store.dispose()
