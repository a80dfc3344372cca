"""Which sources a build reads, and how many of their interactions it leaves out for want of a label.

Only interactions with a score for the scenario are built: a dataset's ``scores`` are
never NaN. A formula labels only the actions it knows (movie: ratings), and ``label`` may
not have run since a source was collected, so some interactions can lack a score; they are
counted per source so the build can say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from timgen_data.errors import NothingToDoError
from timgen_data.store.query import fetch_rows
from timgen_data.store.state import label_run_unfinished


@dataclass(frozen=True)
class ChosenSources:
    sources: tuple[str, ...]  # the source namespaces built, each with at least one score
    left_out: dict[str, int] = field(default_factory=dict)  # per source: interactions without a score

    @property
    def prefixed(self) -> bool:
        """Ids are unique only within a source, so mixed sources carry a ``source:`` prefix."""
        return len(self.sources) > 1


def available_sources(conn: Connection) -> list[str]:
    return [s for (s,) in fetch_rows(conn, "SELECT DISTINCT source FROM users ORDER BY source")]


def check_sources(conn: Connection, scenario: str, sources: list[str] | None = None) -> list[str]:
    """The sources to read: ``sources``, or by default every source; an error for an unknown one,
    or when the last ``label`` run of ``scenario`` did not finish."""
    known = available_sources(conn)
    if not known:
        raise NothingToDoError("the store has no interactions; run `timgen-data collect ...` first")
    chosen = sources or known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise NothingToDoError(f"no source named {', '.join(unknown)} in the store; it has {', '.join(known)}")
    if label_run_unfinished(conn, scenario):
        raise NothingToDoError(
            f"the last `timgen-data label --scenario {scenario}` stopped before it finished, so its labels may "
            "be mixed; run it again (it recomputes every label), then build"
        )
    return list(chosen)


def labelled_sources(chosen: list[str], scenario: str, totals: dict[str, int], scored: dict[str, int], *,
                     requested: bool) -> ChosenSources:
    """The sources of ``chosen`` with a ``scenario`` score, from their interactions (``totals``)
    and those with a score (``scored``), per source.

    By default (``requested`` False) a source with no score at all is left out whole (ids
    then look as if it were never collected); a source the user named without any score is
    an error that says to label it.
    """
    labelled = [s for s in chosen if scored.get(s, 0) > 0]
    bare = [s for s in chosen if s not in labelled]
    if requested and bare:
        raise NothingToDoError(
            f"{', '.join(bare)} {'has' if len(bare) == 1 else 'have'} no {scenario!r} labels; run "
            f"`timgen-data label --scenario {scenario}` first, or build without --source {bare[0]} "
            f"(the {scenario} formula may not label its actions)"
        )
    if not labelled:
        raise NothingToDoError(
            f"no {scenario!r} labels for {', '.join(chosen)}; run `timgen-data label --scenario {scenario}` first"
        )
    left_out = {s: totals[s] - scored.get(s, 0) for s in sorted(totals) if totals[s] > scored.get(s, 0)}
    return ChosenSources(tuple(labelled), left_out)
