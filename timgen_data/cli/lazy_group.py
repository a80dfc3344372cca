"""A click group that imports a subcommand's module only when that subcommand runs.

Every subcommand pulls in its own heavy libraries (Scrapy, yt-dlp, the Google client,
``datasets``, matplotlib, PyTorch); importing them all for each command cost more than a
second of start-up, most of a small ``build``. Listing the commands (``--help``) shows the
one-line summaries given in ``summaries`` without importing anything (a test checks that
each equals its command's own); a command without one is imported for its help.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import click


class LazyGroup(click.Group):
    """``lazy_commands`` maps a command name to ``"module:attribute"``."""

    def __init__(self, *args, lazy_commands: Mapping[str, str] | None = None,
                 summaries: Mapping[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})
        self.summaries = dict(summaries or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy_commands:
            module, attribute = self.lazy_commands[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name not in self.commands and name in self.summaries:
                rows.append((name, self.summaries[name]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - max(map(len, self.lazy_commands), default=0))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

