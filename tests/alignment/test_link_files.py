"""``align links`` around the linking: inputs given as a path or a URL (downloaded into the data dir), and the
unmatched items written as CSV."""

from __future__ import annotations

import csv

import pytest
from support.http_server import LoopbackServer

from timgen_data.alignment.input_files import local_input
from timgen_data.alignment.link_files import UNMATCHED_COLUMNS, write_unmatched
from timgen_data.errors import UsageError


def test_a_url_is_downloaded_to_one_place_in_the_data_dir_and_a_path_is_used_where_it_is(tmp_path):
    with LoopbackServer() as server:
        server.add_file("/files/ml-youtube.csv", b"youtubeId,movieId,title\n")
        url = f"{server.url}/files/ml-youtube.csv?token=x"
        first = local_input(url, tmp_path / "data")
        again = local_input(url, tmp_path / "data")
    assert first == again == tmp_path / "data" / "downloads" / "alignment" / "ml-youtube.csv"
    assert first.read_bytes() == b"youtubeId,movieId,title\n"
    assert local_input(str(first), tmp_path / "elsewhere") == first
    assert local_input(None, tmp_path) is None
    with pytest.raises(UsageError, match="missing.csv does not exist"):
        local_input(str(tmp_path / "missing.csv"), tmp_path)


def test_unmatched_items_are_written_as_csv_in_a_new_folder(tmp_path):
    rows = [{"source": "movielens-100k", "item_id": "7", "title": "Sabrina, \"the\" remake", "year": 1995,
             "reason": "no title + year match"}]
    path = write_unmatched(rows, tmp_path / "reports" / "links-unmatched.csv")
    with path.open(encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert tuple(read[0]) == UNMATCHED_COLUMNS and read[0]["title"] == rows[0]["title"] and read[0]["year"] == "1995"
