"""``timgen-data collect imdb`` through click's runner: the dumps end to end, and usage errors.

(The crawl through the CLI is tested in test_imdb_crawl.py, on the live crawl's saved pages.)
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.http_server import LoopbackServer

from timgen_data.cli import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imdb"


def invoke(tmp_path, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), "collect", "imdb", *map(str, args)])


def test_dumps_through_the_cli(tmp_path):
    with LoopbackServer() as server:
        for name in ("title.basics", "title.ratings"):
            server.add_file(f"/{name}.tsv.gz", gzip.compress((FIXTURES / f"{name}.tsv").read_bytes(), mtime=0))
        result = invoke(tmp_path, "--dumps", "title.basics,title.ratings", "--base-url", server.url, "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["collector"] == "imdb" and report["variant"] == "title.basics+title.ratings"
        assert report["stored"] == {"items": 5} and report["rejected"] == 5
        assert "title.basics.tsv.gz:5: malformed line" in report["rejections"][0]
        again = invoke(tmp_path, "--dumps", "title.ratings,title.basics", "--base-url", server.url)
    assert again.exit_code == 0, again.output
    assert "imdb title.basics+title.ratings → imdb" in again.stdout and "title basics already stored" in again.stdout



def test_media_is_fetched_right_after_the_collect(tmp_path):
    # `text` media need no network: each title's own text is its asset (item:text), planned and stored.
    with LoopbackServer() as server:
        server.add_file("/title.basics.tsv.gz", gzip.compress((FIXTURES / "title.basics.tsv").read_bytes(), mtime=0))
        result = invoke(tmp_path, "--dumps", "title.basics", "--base-url", server.url, "--media", "text", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        titles = report["stored"]["items"]
        assert titles > 0 and report["assets"]["planned"] == report["assets"]["fetched"] == titles
        assert report["assets"]["by_modality"] == {"text": {"ok": titles, "failed": 0}}
        again = invoke(tmp_path, "--dumps", "title.basics", "--base-url", server.url, "--media", "text")
    assert again.exit_code == 0, again.output
    text = " ".join(again.stdout.split())
    assert "media" in text and f"done in an earlier run │ {titles}" in text and "fetched │ 0" in text


@pytest.mark.parametrize("args, message", [
    ((), "either --dumps"),
    (("--dumps", "title.basics", "--titles", "tt0133093"), "one at a time"),
    (("--titles", "tt0133093,matrix"), "matrix"),
    (("--dumps", "name.basics"), "name.basics"),
    (("--titles", "tt0133093", "--media", "smell"), "smell"),
])
def test_usage_errors_exit_2_with_a_fix(tmp_path, args, message):
    result = invoke(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_help_has_examples():
    result = CliRunner().invoke(cli, ["collect", "imdb", "--help"])
    assert result.exit_code == 0
    assert "timgen-data collect imdb --titles tt0133093,tt0114709 --reviews" in result.output
