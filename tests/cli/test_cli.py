"""The CLI: help with examples everywhere, the error table, and a full run on real data."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from click.testing import CliRunner

from timgen_data.cli import cli


def all_commands(group: click.Group, prefix=()):
    context = click.Context(group)
    for name in group.list_commands(context):  # subcommands are imported when asked for
        command = group.get_command(context, name)
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    commands = [((), cli), *all_commands(cli)]
    assert len(commands) >= 19  # 12 commands, 7 collectors
    for path, _command in commands:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example:" in result.output and "timgen-data" in result.output.split("Example:")[1], path


def invoke(tmp_path, *args, **kwargs):
    return CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), *args], **kwargs)


def test_collect_label_build_stats_on_real_data(tmp_path, shared_data):
    result = invoke(tmp_path, "collect", "movielens", "--variant", "100k", "--from-file",
                    str(shared_data / "ml-100k"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stored"]["interactions"] == 100_000 and report["rejected"] == 0
    assert invoke(tmp_path, "label", "--scenario", "movie").exit_code == 0
    built = invoke(tmp_path, "build", str(tmp_path / "out"), "--min-interactions", "5")
    assert built.exit_code == 0, built.output
    assert (tmp_path / "out" / "interactions" / "test-00000-of-00001.parquet").exists()
    stats = invoke(tmp_path, "stats", "--json")
    summary = json.loads(stats.stdout)
    assert summary["tables"]["interactions"] == 100_000 and summary["labels"] == {"movie": 100_000}


def test_usage_errors_exit_2_with_a_fix(tmp_path):
    bad = tmp_path / "w.toml"
    bad.write_text("[ecommerce]\nalfa = 1\n")
    result = invoke(tmp_path, "label", "--scenario", "ecommerce", "--weights", str(bad))
    assert result.exit_code == 2
    assert "alfa" in result.output and "ConfigError" in result.output and "Traceback" not in result.output
    result = invoke(tmp_path, "build", str(tmp_path / "out"))
    assert result.exit_code == 2 and "timgen-data collect" in result.output


def test_failures_exit_3(tmp_path):
    broken = tmp_path / "ml-100k.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    result = invoke(tmp_path, "collect", "movielens", "--variant", "100k", "--from-file", str(broken))
    assert result.exit_code == 3 and "ArchiveError" in result.output


def test_debug_variable_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("TIMGEN_DEBUG", "1")
    result = invoke(tmp_path, "build", str(tmp_path / "out"))
    assert result.exit_code == 1 and result.exception is not None


def test_console_script_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "timgen_data", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "timgen-data" in result.stdout


def test_a_command_imports_only_its_own_module():
    # the start-up of every command: scrapy, yt-dlp, torch and the others load when used
    code = ("import sys; from timgen_data.cli import main; sys.argv = ['timgen-data', 'collect', 'movielens', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('scrapy', 'yt_dlp', 'torch', 'googleapiclient', 'timgen_data.cli.model') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_help_lists_every_command_with_its_own_summary_without_importing_it():
    from timgen_data.cli.app import COMMANDS, SUMMARIES

    assert set(SUMMARIES) == set(COMMANDS)
    context = click.Context(cli)
    for name in COMMANDS:
        help_text = " ".join(cli.get_command(context, name).help.split())
        assert help_text.startswith(SUMMARIES[name].rstrip(".")), name
    code = ("import sys; from timgen_data.cli import main; sys.argv = ['timgen-data', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('timgen_data.cli.') and m.split('.')[2] in "
            "('collect', 'align', 'label', 'build', 'export', 'publish', 'stats', 'model', 'demo')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "stats" in result.stdout and "experiment" in result.stdout  # the listing is there
    assert result.stdout.strip().splitlines()[-1] == "[]"
