"""``--json`` on every command that prints a report: the same option everywhere, and JSON on
stdout that parses (progress stays on stderr)."""

from __future__ import annotations

import hashlib
import json

import click
from click.testing import CliRunner
from support.small_release import ARCHIVE, VARIANT, small_release

from timgen_data.cli import cli


def leaf_commands(group: click.Group, prefix=()):
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_has_the_one_json_option():
    commands = list(leaf_commands(cli))
    assert len(commands) >= 20  # 10 commands, 3 align, 7 collect
    for path, command in commands:
        options = {opt: param for param in command.params for opt in param.opts}
        assert "--json" in options, path
        param = options["--json"]
        assert param.name == "as_json" and param.is_flag and param.help.startswith("Print"), path


def test_collect_label_build_and_stats_print_json(tmp_path):
    archive = tmp_path / ARCHIVE
    archive.write_bytes(small_release(ratings=400))
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, ["--data-dir", str(tmp_path / "data"), *args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    collected = run("collect", "movielens", "--variant", VARIANT, "--from-file", str(archive), "--md5", md5)
    assert collected["stored"]["interactions"] == 400 and collected["md5"] == md5
    labeled = run("label", "--scenario", "movie")
    assert labeled["scenario"] == "movie" and labeled["labeled"] == labeled["considered"] == 400
    assert labeled["recomputed_all"] and labeled["classes"] == ["Drama"]  # the first genre
    built = run("build", str(tmp_path / "out"))
    assert built["path"] == str(tmp_path / "out") and built["statistics"]["interactions"] == 400
    assert set(built["statistics"]["splits"]) == {"train", "validation", "test"} and built["left_out"] == {}
    summary = run("stats")
    assert summary["tables"]["interactions"] == 400 and summary["labels"] == {"movie": 400}
