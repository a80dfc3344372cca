"""``align links`` on real MovieLens titles: ML-100K (no IMDb ids of its own) linked by title +
year against an IMDb-format index made from latest-small's IMDb-linked movies; the trailer
file with spreadsheet damage; idempotent re-runs; the CLI."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from timgen_data.alignment.links import IMDB, TITLE_METHOD, YOUTUBE, link_items
from timgen_data.cli import cli
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.errors import NothingToDoError
from timgen_data.store import fetch_rows

HEADER = "tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\truntimeMinutes\tgenres\n"


def basics_from_latest_small(shared_data: Path, dest: Path) -> Path:
    """title.basics.tsv.gz in IMDb's official format, one row per latest-small movie: real
    titles and years keyed by the real IMDb ids of links.csv. MovieLens's display form
    ("Usual Suspects, The") is turned into IMDb's ("The Usual Suspects")."""
    from timgen_data.collectors.movielens import split_title

    folder = shared_data / "ml-latest-small"
    with (folder / "links.csv").open(encoding="utf-8") as handle:
        imdb = {row["movieId"]: f"tt{int(row['imdbId']):07d}" for row in csv.DictReader(handle)}
    lines = [HEADER]
    with (folder / "movies.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            title, year = split_title(row["title"])
            lines.append(f"{imdb[row['movieId']]}\tmovie\t{title}\t{title}\t0\t{year or chr(92) + 'N'}\t\\N\t\\N\t\\N\n")
    lines.append("tt9999999\ttvSeries\tToy Story\tToy Story\t0\t1995\t\\N\t\\N\tAnimation\n")  # wrong type
    with gzip.open(dest, "wt", encoding="utf-8") as handle:
        handle.writelines(lines)
    return dest


@pytest.fixture(scope="module")
def linked_100k(tmp_path_factory, shared_data):
    from timgen_data.store import Store

    folder = tmp_path_factory.mktemp("links")
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}")
    collect_movielens(store, "100k", data_dir=folder, from_file=shared_data / "ml-100k")
    basics = basics_from_latest_small(shared_data, folder / "title.basics.tsv.gz")
    report = link_items(store, imdb_basics=basics)
    yield store, report, basics
    store.dispose()


def test_ml_100k_titles_link_to_imdb_ids(linked_100k):
    store, report, _ = linked_100k
    assert report.items == 1682 and report.direct == 0
    # Latest-small (2016) is a sample: it lacks some ML-100K films and dates a few a year apart
    # (beyond the default tolerance of one year some do not match); 83 % link at confidence >= 0.9.
    share = report.title_matched / report.items
    assert share > 0.8, share
    with store.begin() as conn:
        links = dict(fetch_rows(conn, "SELECT it.external_id, l.target_external_id FROM item_links l "
                                      "JOIN items it ON it.id = l.item_id WHERE l.target_source = :s", {"s": IMDB}))
        methods = {m for (m,) in fetch_rows(conn, "SELECT DISTINCT method FROM item_links")}
    assert links["1"] == "tt0114709"  # Toy Story (1995)
    assert links["12"] == "tt0114814"  # Usual Suspects, The (1995)
    assert methods == {TITLE_METHOD}
    assert len(report.unmatched) == report.items - report.title_matched
    assert all(row["reason"] for row in report.unmatched)


def test_re_running_links_changes_nothing(linked_100k):
    store, report, basics = linked_100k
    with store.begin() as conn:
        before = fetch_rows(conn, "SELECT * FROM item_links ORDER BY item_id, target_external_id")
    again = link_items(store, imdb_basics=basics)
    with store.begin() as conn:
        after = fetch_rows(conn, "SELECT * FROM item_links ORDER BY item_id, target_external_id")
    assert after == before and again.title_matched == report.title_matched


def test_trailer_file_links_validated_youtube_ids(tmp_path, shared_data, sqlite_store):
    collect_movielens(sqlite_store, "latest-small", data_dir=tmp_path, from_file=shared_data / "ml-latest-small")
    trailers = tmp_path / "ml-youtube.csv"
    trailers.write_text(
        "youtubeId,movieId,title\n"
        "K26_sDKnvMU,1,Toy Story (1995)\n"  # good
        "#NAME?,2,Jumanji (1995)\n"  # spreadsheet damage
        "3LPANjHlPxo,3,Toy Story (1995)\n"  # title disagrees with movie 3
        "dupdupdup01,5,Father of the Bride Part II (1995)\n"
        "dupdupdup01,6,Heat (1995)\n",  # one id on two movies: neither linked
        encoding="utf-8",
    )
    report = link_items(sqlite_store, trailers=trailers)
    assert report.direct == report.items  # latest-small ships links.csv
    with sqlite_store.begin() as conn:
        youtube = fetch_rows(conn, "SELECT it.external_id, l.target_external_id FROM item_links l JOIN items it "
                                   "ON it.id = l.item_id WHERE l.target_source = :s", {"s": YOUTUBE})
    assert youtube == [("1", "K26_sDKnvMU")]
    reasons = {r.line: r.reason for r in report.trailer_rejections}
    assert set(reasons) == {3, 4, 5, 6}
    assert "#NAME?" in reasons[3]


def test_nothing_collected_is_a_clear_error(sqlite_store):
    with pytest.raises(NothingToDoError, match="collect"):
        link_items(sqlite_store)


def test_cli_links_writes_the_unmatched_report(tmp_path, shared_data):
    data_dir = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "collect", "movielens", "--variant", "100k",
                                 "--from-file", str(shared_data / "ml-100k")])
    assert result.exit_code == 0, result.output
    basics = basics_from_latest_small(shared_data, tmp_path / "title.basics.tsv.gz")
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "align", "links", "--imdb-basics", str(basics), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    with (data_dir / "reports" / "links-unmatched.csv").open(encoding="utf-8") as handle:
        unmatched = list(csv.DictReader(handle))
    assert len(unmatched) == len(report["unmatched"]) == report["items"] - report["title_matched"]
