"""How a collect run's report is shown: a table (with the first rejections) or JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from timgen_data.cli.render import console, print_json, print_mapping
from timgen_data.collectors import CollectReport
from timgen_data.errors import RateLimitError

SHOWN_REJECTIONS = 20


def show_report(report: CollectReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
        return
    checked = "matches the published checksum" if report.md5_verified else "no published checksum to compare"
    print_mapping(f"{report.collector} {report.variant} → {report.namespace}", {
        "archive": report.archive,
        "sha256": report.sha256,
        **({"md5": f"{report.md5} ({checked})"} if report.md5 else {}),
        **{f"read {k}": v for k, v in report.read.items()},
        **{f"new {k}": v for k, v in report.written.items()},
        **{f"stored {k}": v for k, v in report.stored.items()},
        **{k.replace("_", " "): v for k, v in report.skipped.items() if v},
        "rejected": report.rejections.count,
        **({"resumed at row": report.resumed_from} if report.resumed_from else {}),
    })
    for rejection in report.rejections.kept[:SHOWN_REJECTIONS]:
        console.print(f"  rejected {rejection}")
    if report.rejections.count > SHOWN_REJECTIONS:
        console.print(f"  … and {report.rejections.count - SHOWN_REJECTIONS} more (see --json)")


@contextmanager
def partial_report_on_rate_limit(show: Callable[[Any], None]) -> Iterator[None]:
    """Show the partial report a rate-limited run carries, once, then let its error say when to resume.

    The collector has stored what it got before raising, so the report is worth seeing; put
    this outside the progress display, so the report comes after the bars, as a finished
    run's does.
    """
    try:
        yield
    except RateLimitError as error:
        if error.report is not None:
            show(error.report)
        raise
