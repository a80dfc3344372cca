"""The source registry is the one list of sources: ``collect`` commands, collector
constants and the README's data terms all agree with it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from timgen_data.cli import cli
from timgen_data.cli.collect import collect
from timgen_data.sources import SOURCES

ROOT = Path(__file__).resolve().parents[1]


def test_every_collect_subcommand_is_registered_and_every_source_has_one():
    ctx = click.Context(collect)
    assert collect.list_commands(ctx) == sorted(SOURCES)
    for name in SOURCES:
        command = collect.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name


def test_collect_rejects_a_name_not_in_the_registry():
    result = CliRunner().invoke(cli, ["collect", "no-such-source"])
    assert result.exit_code != 0 and "No such command" in result.output


def test_the_registry_imports_nothing_of_the_project():
    tree = ast.parse((ROOT / "timgen_data" / "sources.py").read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith(("timgen", "click", "torch"))]
    code = "import sys, timgen_data.sources; print(sorted(m for m in sys.modules if m.startswith('timgen_data.')))"
    loaded = eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    stages = ("collectors", "alignment", "labeling", "dataset", "cli", "demo", "spark")
    assert not [m for m in loaded if m.split(".")[1] in stages]


def test_the_readme_data_terms_table_names_every_source():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Data terms", 1)[1].split("\n## ", 1)[0]
    names = {m.group(1).strip() for m in re.finditer(r"^\| ([^|]+) \|", section, re.MULTILINE)} - {"source"}
    missing = [s.title for s in SOURCES.values() if not any(n.startswith(s.title) for n in names)]
    assert not missing, f"README's data terms table lacks {missing}"


def test_collectors_record_the_registered_name_license_and_namespaces():
    from timgen_data.collectors.amazon.releases import RELEASES
    from timgen_data.collectors.events.mapping import EventMapping
    from timgen_data.collectors.imdb import names as imdb
    from timgen_data.collectors.mmrec.collector import namespace_of
    from timgen_data.collectors.movielens.variants import VARIANTS
    from timgen_data.collectors.twitter import spec as twitter
    from timgen_data.collectors.youtube import save as youtube

    namespaces = {
        "movielens": [v.namespace for v in VARIANTS.values()],
        "amazon": [r.namespace for r in RELEASES.values()],
        "imdb": [imdb.NAMESPACE],
        "youtube": [youtube.NAMESPACE],
        "twitter": [twitter.NAMESPACE],
        "events": [EventMapping.model_construct(name="shop").namespace],
        "mmrec": [namespace_of("baby")],
    }
    assert set(namespaces) == set(SOURCES)
    for name, found in namespaces.items():
        assert all(SOURCES[name].owns_namespace(n) for n in found), (name, found)
    assert imdb.PAGES_LICENSE != imdb.DUMPS_LICENSE == SOURCES["imdb"].license


def test_every_collector_name_in_the_code_is_registered():
    named = set()
    for path in (ROOT / "timgen_data" / "collectors").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COLLECTOR" for t in node.targets):
                named.add(node.value.value)
    assert named == set(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_source_is_described(name):
    source = SOURCES[name]
    assert source.name == name and source.title and source.summary and "\n" not in source.summary
    module, attribute = source.command.split(":")
    assert module == f"timgen_data.cli.collect.{name}" and attribute
