"""``collect mmrec`` reads ``<name>.inter`` in chunks: the store, the splits file and every
error are those of one read of the whole file, whatever the chunk size; times are read
in the unit the whole column has, so a chunk of small values is no other unit."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from timgen_data.collectors.mmrec import collect_mmrec
from timgen_data.errors import TimeValueError
from timgen_data.store import Store, fetch_rows

WHOLE = 1 << 30


def write_inter(folder: Path, times: list, users: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    users = users or [(k * 7) % 5 for k in range(len(times))]
    lines = ["userID\titemID\trating\ttimestamp\tx_label"]
    lines += [f"{u}\t{(k * 3) % 4}\t{k % 5 + 1}.0\t{t}\t{k % 3}" for k, (u, t) in enumerate(zip(users, times))]
    (folder / "tiny.inter").write_text("\n".join(lines) + "\n")
    return folder


def collect(folder: Path, tmp_path: Path, name: str, chunk_rows: int):
    store = Store.open(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
    try:
        report = collect_mmrec(store, folder, data_dir=tmp_path / name, chunk_rows=chunk_rows)
        with store.begin() as conn:
            rows = [fetch_rows(conn, f"SELECT * FROM {t} ORDER BY id") for t in ("users", "items")]
            rows.append(fetch_rows(conn, "SELECT id, user_id, item_id, ts, action, value, source_id "
                                         "FROM interactions ORDER BY id"))
    finally:
        store.dispose()
    splits = (tmp_path / name / "imports" / "mmrec-tiny" / "splits.csv").read_bytes()
    return report, hashlib.sha256(repr(rows).encode()).hexdigest(), splits


def without_paths(report: dict) -> dict:
    return {**report, "stored": {k: v for k, v in report["stored"].items() if k != "splits file"}}


def error_of(folder: Path, tmp_path: Path, name: str, chunk_rows: int) -> str:
    store = Store.open(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
    try:
        with pytest.raises(TimeValueError) as caught:
            collect_mmrec(store, folder, data_dir=tmp_path / name, chunk_rows=chunk_rows)
        with store.begin() as conn:
            assert fetch_rows(conn, "SELECT COUNT(*) FROM interactions")[0][0] == 0
    finally:
        store.dispose()
    assert not (tmp_path / name / "imports" / "mmrec-tiny").exists() or \
        not any((tmp_path / name / "imports" / "mmrec-tiny").iterdir())
    # The accepted range ends a little after now, which moves between two runs.
    return re.sub(r"\.\. \S+Z", ".. (now)", str(caught.value))


@pytest.mark.parametrize("times", [
    [1_600_000_000 + 3600 * k for k in range(11)],  # seconds
    [1_600_000_000_000 + 3_600_000 * k for k in range(11)],  # milliseconds
    [f"{1_600_000_000 + k}.5" for k in range(11)],  # fractional seconds
])
def test_chunks_of_two_rows_store_what_the_whole_file_stores(tmp_path, times):
    folder = write_inter(tmp_path / "tiny", times, users=[4, 2, 4, 0, 1, 3, 2, 0, 4, 1, 3])

    whole = collect(folder, tmp_path, "whole", WHOLE)
    chunked = collect(folder, tmp_path, "chunked", 2)

    assert chunked[1:] == whole[1:]
    assert without_paths(chunked[0].as_dict()) == without_paths(whole[0].as_dict())
    assert whole[0].stored["interactions"] == 11 and whole[2].count(b"\n") == 12


@pytest.mark.parametrize("times, row", [
    # Seconds early on, milliseconds later: a mix-up, though the first chunks alone read as seconds.
    ([1_600_000_000] * 4 + [1_600_000_000_000] * 5, 0),
    ([1_600_000_000] * 5 + ["nan"] + [1_600_000_000] * 3, 5),  # not a time
    # Nanoseconds, the largest in the year 2255: the chunks before it are passed over, its row named.
    ([1_600_000_000_000_000_000] * 5 + [9_000_000_000_000_000_000] + [1_600_000_000_000_000_000] * 3, 5),
])
def test_a_bad_time_is_named_by_its_row_in_the_file_whatever_the_chunks(tmp_path, times, row):
    folder = write_inter(tmp_path / "tiny", times)

    whole = error_of(folder, tmp_path, "whole", WHOLE)
    chunked = error_of(folder, tmp_path, "chunked", 2)

    assert chunked == whole
    assert whole.startswith(f"tiny.inter row {row}:")
