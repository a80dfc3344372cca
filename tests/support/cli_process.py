"""Running ``timgen-data`` as a real process, and checking how it fails.

A real process (not click's in-process runner) shows exactly what a user sees: the exit
code, whether a traceback escaped, and whether the error is one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str | os.PathLike, data_dir: Path | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m timgen_data [--data-dir DATA_DIR] ARGS...``; output captured as text."""
    command = [sys.executable, "-m", "timgen_data"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    command += [str(a) for a in args]
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("TIMGEN_DEBUG", None)
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one ``Error: ...`` line of a failed run (asserting there is exactly one)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr[-3000:]}"
    return lines[0]


def assert_fails_in_one_line(result: subprocess.CompletedProcess, exit_code: int, kind: str | None = None,
                             *needles: str) -> str:
    """The run exited ``exit_code`` with one ``Error: ... [Kind]`` line, no traceback; returns the line.

    ``needles`` must each appear in the line (what is wrong, the folder, the fix).
    """
    assert result.returncode == exit_code, (
        f"exit {result.returncode}, expected {exit_code}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr[-3000:]
    line = error_line(result)
    if kind is not None:
        assert line.endswith(f"[{kind}]"), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def invoke_cli(*args: str | os.PathLike, data_dir: Path | None = None,
               env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """The same as :func:`run_cli` in this process (faster; no kill or real stdin).

    An exception the CLI let escape is rendered as the traceback a user would see, so
    :func:`assert_fails_in_one_line` catches it the same way.
    """
    import traceback

    from click.testing import CliRunner

    from timgen_data.cli import cli

    command = (["--data-dir", str(data_dir)] if data_dir is not None else []) + [str(a) for a in args]
    environment = {"TIMGEN_DEBUG": "", "COLUMNS": "200", **(env or {})}
    result = CliRunner().invoke(cli, command, env=environment, input=input, catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(command, result.exit_code, result.stdout, stderr)
