"""Counting YouTube Data API quota units, per UTC day, across runs.

Each method has a unit cost (search.list 100, the list calls used here 1). The units a
day's runs spent are kept in ``collection_state`` under ``("youtube", "quota:<day>")``,
so a second run the same day knows what the first one used. A call that would go past
the daily budget is not made: the run stops cleanly instead, with its cursor saved.

The API's own quota day ends at midnight Pacific Time; this ledger counts UTC days as
agreed for the store, and an API answer of quotaExceeded marks the day used up whatever
the ledger thought, so the two never disagree for long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from timgen_data.collectors.youtube.api import COSTS
from timgen_data.store import Store, load_cursor, save_cursor

COLLECTOR = "youtube"
PACIFIC = ZoneInfo("America/Los_Angeles")
DEFAULT_DAILY_QUOTA = 10_000


class QuotaStop(Exception):
    """The next call would pass the daily quota, or (``api_said``) the API says it is used up."""

    def __init__(self, method: str = "", *, api_said: bool = False):
        super().__init__(method or "quotaExceeded")
        self.api_said = api_said


def quota_key(day: str) -> str:
    return f"quota:{day}"


class QuotaLedger:
    """The units used today, charged before each call and saved with each commit."""

    def __init__(self, store: Store, daily: int = DEFAULT_DAILY_QUOTA, clock: Callable[[], float] = time.time):
        if daily < 1:
            raise ValueError("the daily quota must be at least 1 unit")
        self.store, self.daily, self.clock = store, daily, clock
        self.day = ""
        self._stored = 0  # units the store held for self.day when loaded
        self._unsaved = 0  # units charged since, not yet saved
        self._exhausted = False
        self.spent = 0  # units this run charged (all days)

    @property
    def used(self) -> int:
        return self.daily if self._exhausted else self._stored + self._unsaved

    def today(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")

    def charge(self, method: str) -> None:
        """Count ``method``'s cost, or raise QuotaStop if it would pass the daily quota."""
        self._roll()
        cost = COSTS[method]
        if self._exhausted or self.used + cost > self.daily:
            raise QuotaStop(method, api_said=self._exhausted)
        self._unsaved += cost
        self.spent += cost

    def mark_exhausted(self) -> None:
        """The API answered quotaExceeded: nothing more today, whatever was counted."""
        self._roll()
        self._exhausted = True

    def save(self, conn: Connection) -> None:
        """Add the unsaved units to the day's stored count (inside the caller's transaction)."""
        if not self.day or (not self._unsaved and not self._exhausted):
            return
        state = load_cursor(conn, COLLECTOR, quota_key(self.day)) or {}
        used = int(state.get("used", 0)) + self._unsaved
        exhausted = bool(state.get("exhausted")) or self._exhausted
        save_cursor(conn, COLLECTOR, quota_key(self.day),
                    {"used": used, "daily_quota": self.daily, "exhausted": exhausted})
        self._stored, self._unsaved = used, 0

    def _roll(self) -> None:
        day = self.today()
        if day == self.day:
            return
        if self._unsaved:  # a run that crosses midnight keeps yesterday's count apart
            with self.store.begin() as conn:
                self.save(conn)
        with self.store.begin() as conn:
            state = load_cursor(conn, COLLECTOR, quota_key(day)) or {}
        self.day, self._stored, self._unsaved = day, int(state.get("used", 0)), 0
        self._exhausted = bool(state.get("exhausted"))

    def as_dict(self) -> dict[str, object]:
        return {"day": self.day or self.today(), "used": self.used, "daily_quota": self.daily,
                "spent_this_run": self.spent}


def quota_reset_message(now: float, *, api_said: bool, used: int, daily: int) -> str:
    """What to tell the user when the quota stops a run: when it resets, and what to do."""
    reset = next_pacific_midnight(now)
    wait = max(0, int(reset.timestamp() - now))
    hours, minutes = divmod(wait // 60, 60)
    why = ("the YouTube Data API answered quotaExceeded" if api_said
           else f"the next call would pass --daily-quota ({used} of {daily} units used today)")
    return (
        f"stopped: {why}. The quota resets at midnight Pacific Time "
        f"({reset.astimezone(UTC):%Y-%m-%d %H:%M} UTC, in about {hours} h {minutes} min); "
        "re-run the same command then and it resumes where it stopped."
    )


def next_pacific_midnight(now: float) -> datetime:
    local = datetime.fromtimestamp(now, PACIFIC)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC)
