"""Thin commands: parse arguments, call one library function, map errors."""

from timgen_data.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="timgen-data")


__all__ = ["cli", "main"]
