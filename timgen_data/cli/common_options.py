"""``--json``, ``--force``, ``--base-url``, ``--load`` and ``--credentials``: one definition each.

Every command that has one of these options takes it from here, so the option is spelled,
typed and passed the same way everywhere (``as_json``, ``force``, ``base_url``, ``load``,
``credentials``); only the help text, which says what the option does for that command,
is the command's own.
"""

from __future__ import annotations

from pathlib import Path

import click

REPORT_AS_JSON = "Print the report as JSON."


def json_option(help: str = REPORT_AS_JSON):
    """``--json``: the command prints its report with :func:`timgen_data.cli.render.print_json`
    instead of tables (progress bars stay on stderr)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def force_option(help: str):
    """``--force``: redo, or replace, what the command would otherwise keep or refuse."""
    return click.option("--force", is_flag=True, help=help)


def base_url_option(help: str, default: str | None = None):
    """``--base-url URL``: where a source is fetched from (a mirror, a proxy, a test server)."""
    shown = {"default": default, "show_default": True} if default is not None else {}
    return click.option("--base-url", metavar="URL", help=help, **shown)


def load_option(help: str, *, names: tuple[str, ...] = ("--load",), dest: str = "load", metavar: str | None = None,
                must_exist: bool = True, folders: bool = False):
    """``--load FILE``: replay what an earlier run saved instead of using the network.

    ``must_exist=False`` leaves the check to the collector, whose message names the raw folder.
    """
    path = click.Path(exists=must_exist, dir_okay=folders, path_type=Path)
    return click.option(*names, dest, type=path, metavar=metavar, help=help)


def credentials_option(help: str, *, must_exist: bool = True):
    """``--credentials FILE``: a file holding a secret, for when it is not in the environment."""
    return click.option("--credentials", type=click.Path(exists=must_exist, dir_okay=False, path_type=Path),
                        help=help)
