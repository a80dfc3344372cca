"""A real Scrapy crawl (in its child process) against a loopback site: two titles, two pages
of reviews, a review without a rating, a duplicate, a garbage date, robots.txt forbidding
one title's reviews; then a replay of the saved pages through the CLI, a re-run, and a
crawl stopped by a rate limit that a re-run completes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from support.http_server import LoopbackServer

from timgen_data.cli import cli
from timgen_data.collectors.imdb import crawl_titles
from timgen_data.errors import RateLimitError, UsageError
from timgen_data.store import Store, models

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imdb"
TITLES = ["tt0133093", "tt0114709"]
FORBIDDEN = "/title/tt0114709/reviews/"
HTML = "text/html; charset=utf-8"


def serve_site(server: LoopbackServer) -> None:
    server.add_file("/robots.txt", (FIXTURES / "robots.txt").read_bytes(), content_type="text/plain")
    for tconst in TITLES:
        server.add_file(f"/title/{tconst}/", (FIXTURES / f"title-{tconst}.html").read_bytes(), content_type=HTML)
        server.add_file(f"/title/{tconst}/reviews/", (FIXTURES / f"reviews-{tconst}-1.html").read_bytes(),
                        content_type=HTML)
    server.add_file("/title/tt0133093/reviews/?paginationKey=pk2",
                    (FIXTURES / "reviews-tt0133093-2.html").read_bytes(), content_type=HTML)


def snapshot(store: Store) -> dict[str, list]:
    """The store's rows by natural keys (surrogate ids depend on write order), without write times."""
    with store.begin() as conn:
        items = {r.id: r.external_id for r in conn.execute(select(models.items))}
        users = {r.id: r.external_id for r in conn.execute(select(models.users))}
        rows = {name: conn.execute(select(models.metadata.tables[name])).mappings().all()
                for name in ("users", "items", "interactions", "assets", "item_links", "collection_state", "sources")}
    return {
        "users": sorted((r["external_id"], r["attributes"]) for r in rows["users"]),
        "items": sorted(tuple(v for k, v in r.items() if k != "id") for r in rows["items"]),
        "interactions": sorted((users[r["user_id"]], items[r["item_id"]], r["ts"], r["action"], r["value"] or -1,
                                r["source_id"]) for r in rows["interactions"]),
        "assets": sorted((items[r["item_id"]], r["modality"], r["uri"], r["status"]) for r in rows["assets"]),
        "item_links": sorted((items[r["item_id"]], r["target_source"], r["target_external_id"], r["method"])
                             for r in rows["item_links"]),
        "collection_state": sorted((r["collector"], r["key"], r["cursor"]) for r in rows["collection_state"]),
        "sources": sorted((r["collector"], r["variant"], r["url"], r["sha256"], r["status"], r["counts"])
                          for r in rows["sources"]),
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One live crawl; the server stays up so later tests can see what it was asked."""
    root = tmp_path_factory.mktemp("imdb-live")
    with LoopbackServer() as server:
        serve_site(server)
        store = Store.open(f"sqlite:///{root / 'store.sqlite'}")
        report = crawl_titles(store, TITLES, data_dir=root / "data", base_url=server.url, reviews=True, delay=0)
        yield {"server": server, "store": store, "report": report, "root": root,
               "requests": list(server.requests)}
        store.dispose()


def test_live_crawl_stores_titles_reviews_and_media(live):
    store, report = live["store"], live["report"]
    with store.begin() as conn:
        items = {r.external_id: r for r in conn.execute(select(models.items))}
        users = {r.id: r.external_id for r in conn.execute(select(models.users))}
        interactions = conn.execute(select(models.interactions)).mappings().all()
        assets = {(r.modality, r.uri) for r in conn.execute(select(models.assets))}
        links = [tuple(r) for r in conn.execute(select(models.item_links))]
    assert set(items) == set(TITLES)
    matrix = items["tt0133093"]
    assert (matrix.title, matrix.year, matrix.category) == ("The Matrix", 1999, "Action")
    assert json.loads(matrix.attributes)["runtimeMinutes"] == 136
    by_user = sorted((users[i["user_id"]], i["ts"], i["action"], i["value"]) for i in interactions)
    assert by_user == [
        ("ur0000001", 1584230400, "rate", 9.0),  # 15 March 2020: a rating, with its review as text
        ("ur0000001", 1640995200, "rate", 10.0),  # 1 January 2022, on page 2
        ("ur0000002", 1622505600, "comment", None),  # no rating given: a comment
        ("ur0000004", 1549065600, "rate", 6.0),
    ]
    assert {i["source_id"] for i in interactions} == {1}
    texts = {users[i["user_id"]]: i["text"] for i in interactions if i["ts"] == 1622505600}
    assert texts == {"ur0000002": "No stars from me\nSynthetic review text two, without a rating."}
    assert ("video", "youtube:aBcDeF12345") in assets
    assert ("image", "https://images.example.org/posters/tt0133093.jpg") in assets
    assert links == [(items["tt0114709"].id, "youtube", "aBcDeF12345", "imdb-jsonld-trailer", 1.0)]
    assert report.finish_reason == "finished"
    assert report.read == {"pages": 5, "titles": 2, "reviews": 6}  # robots.txt, 2 titles, 2 review pages
    assert report.dropped == {"bad_date": 1, "duplicate_review": 1}
    assert report.rejections.count == 1 and "sometime last spring" in report.rejections.kept[0].reason
    assert report.rejections.kept[0].line == 3  # the third review on its page
    assert report.skipped["duplicate_reviews"] == 1 and report.skipped["titles_not_finished"] == 0
    assert report.stored == {"titles_done": 2, "reviews": 4}


def test_robots_txt_forbidden_reviews_are_never_fetched(live):
    paths = [r.path for r in live["requests"]]
    assert paths[0] == "/robots.txt"
    assert FORBIDDEN not in paths
    assert "/title/tt0114709/" in paths  # the title page itself is allowed
    report = live["report"]
    assert report.skipped["robots_forbidden"] == 1
    assert [url.removeprefix(live["server"].url) for url in report.robots_forbidden] == [FORBIDDEN]
    agents = {r.headers.get("user-agent") for r in live["requests"]}
    assert len(agents) == 1 and agents.pop().startswith("timgen-data/")
    with live["store"].begin() as conn:
        cursor = conn.execute(select(models.collection_state.c.cursor)
                              .where(models.collection_state.c.key == "title:tt0114709")).scalar_one()
    assert json.loads(cursor)["robots_forbidden"] is True


def test_saved_pages_replay_through_the_cli_into_the_same_store_without_network(live, tmp_path):
    raw = Path(live["report"].raw_file)
    assert raw.parent == live["root"] / "data" / "raw" / "imdb"
    records = [json.loads(line) for line in raw.read_text(encoding="utf-8").splitlines()]
    assert {r["status"] for r in records} == {200} and len(records) == 5  # robots.txt included
    asked = len(live["server"].requests)
    data = tmp_path / "data"
    # No --titles and no --base-url: both come from the file.
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "collect", "imdb", "--load", str(raw),
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(live["server"].requests) == asked  # nothing fetched
    assert report["robots_forbidden"] == live["report"].robots_forbidden  # the saved robots.txt is obeyed
    assert report["dropped"] == {"bad_date": 1, "duplicate_review": 1} and report["raw_file"] is None
    replayed = Store.open(f"sqlite:///{data / 'store.sqlite'}")
    assert snapshot(replayed) == snapshot(live["store"])
    assert not (data / "raw").exists()  # a replay saves nothing
    replayed.dispose()


def test_a_rerun_skips_titles_done(live):
    before, asked = snapshot(live["store"]), len(live["server"].requests)
    report = crawl_titles(live["store"], TITLES, data_dir=live["root"] / "data", base_url=live["server"].url,
                          reviews=True, delay=0)
    assert report.skipped["titles_already_done"] == 2 and report.read == {}
    assert len(live["server"].requests) == asked
    assert snapshot(live["store"]) == before


def test_a_rate_limited_crawl_stops_cleanly_and_a_rerun_completes_it(live, tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    with LoopbackServer() as server:
        serve_site(server)
        server.add_faults("/title/tt0114709/", [("status", 503)])  # retried, then fine
        server.add_faults("/title/tt0133093/reviews/", [("status", 429, {"Retry-After": "120"})])
        began = time.time()
        with pytest.raises(RateLimitError, match="re-run the same command after") as stop:
            crawl_titles(store, TITLES, data_dir=tmp_path / "data", base_url=server.url, reviews=True, delay=0,
                         concurrency=1)
        stopped = stop.value.report
        assert stopped.finish_reason == "rate_limited"
        assert began + 120 <= stop.value.resume_at <= time.time() + 121  # Retry-After: 120 (seconds)
        with store.begin() as conn:
            keys = set(conn.execute(select(models.collection_state.c.key)).scalars())
        assert "title:tt0133093" not in keys  # not finished: no cursor, so the re-run crawls it
        resumed = crawl_titles(store, TITLES, data_dir=tmp_path / "data", base_url=server.url, reviews=True,
                               delay=0)
        assert resumed.finish_reason == "finished"
    assert resumed.skipped["titles_not_finished"] == 0
    # The same rows as one clean run, apart from where the pages were served from (which
    # also makes the run's sources row, keyed by the request spec, another one).
    def port_free(snap):
        snap = {k: v for k, v in snap.items() if k != "sources"}
        return json.loads(json.dumps(snap).replace(server.url, "URL").replace(live["server"].url, "URL"))

    assert port_free(snapshot(store)) == port_free(snapshot(live["store"]))
    store.dispose()


def test_bad_titles_and_logins_in_urls_are_usage_errors(sqlite_store, tmp_path):
    with pytest.raises(UsageError, match="tt0133093"):
        crawl_titles(sqlite_store, ["matrix"], data_dir=tmp_path)
    with pytest.raises(UsageError, match="--titles"):
        crawl_titles(sqlite_store, [], data_dir=tmp_path)
    with pytest.raises(UsageError, match="login"):
        crawl_titles(sqlite_store, TITLES, data_dir=tmp_path, base_url="https://me:s3cret@mirror.example.org")
