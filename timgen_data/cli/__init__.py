"""Thin commands: parse arguments, call one library function, map errors."""

from timgen_data.cli.align import align
from timgen_data.cli.app import cli
from timgen_data.cli.collect import collect
from timgen_data.cli.demo import demo
from timgen_data.cli.export import export
from timgen_data.cli.model import evaluate, experiment, generate, train
from timgen_data.cli.stages import build, label, publish, stats

for _command in (collect, align, label, build, export, publish, stats, train, evaluate, generate, experiment, demo):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="timgen-data")


__all__ = ["cli", "main"]
