"""``collect`` is a package of one module per source: each loads on its own, with no circle
through the group and no sibling source pulled in."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from timgen_data.cli import cli
from timgen_data.sources import SOURCES

PACKAGE = Path(__file__).resolve().parents[2] / "timgen_data" / "cli" / "collect"


@pytest.mark.parametrize("source", SOURCES)
def test_a_source_module_imports_alone_and_loads_no_other_source(source):
    code = (f"import sys; import timgen_data.cli.collect.{source} as m; assert m.{source}.name == {source!r}\n"
            f"print(sorted(n for n in sys.modules if n.startswith('timgen_data.cli.collect.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(result.stdout.strip().splitlines()[-1])
    shared = {"timgen_data.cli.collect.report", "timgen_data.cli.collect.media"}  # helpers, not sources
    assert set(loaded) <= {f"timgen_data.cli.collect.{source}", *shared}


def test_no_source_imports_late_or_imports_the_group():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("timgen_data.cli"):
                assert node.col_offset == 0, f"{path.name}:{node.lineno} imports inside a function"
                assert node.module != "timgen_data.cli.collect", f"{path.name}:{node.lineno} imports the group"


def test_the_group_lists_every_source():
    result = CliRunner().invoke(cli, ["collect", "--help"])
    assert result.exit_code == 0
    for source in SOURCES:
        assert f"  {source}" in result.output


def test_a_rate_limited_run_shows_its_partial_report_once_and_still_fails():
    from timgen_data.cli.collect.report import partial_report_on_rate_limit
    from timgen_data.errors import RateLimitError

    shown = []
    stopped = RateLimitError("rate-limited; re-run later")
    stopped.report = "partial"
    with pytest.raises(RateLimitError), partial_report_on_rate_limit(shown.append):
        raise stopped
    with pytest.raises(RateLimitError), partial_report_on_rate_limit(shown.append):
        raise RateLimitError("no report to show")
    assert shown == ["partial"]
