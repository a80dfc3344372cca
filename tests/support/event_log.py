"""Small stores for build tests, filled through the real ``collect events`` path from a CSV log.

Each call adds one source (``events-<name>``); ``rows`` are (user, item, ts, action, value),
with ``value`` None for actions that carry none.
"""

from __future__ import annotations

from pathlib import Path

from timgen_data.collectors.events import collect_events, load_mapping
from timgen_data.store import Store

Row = tuple[str, str, int, str, float | None]


def rated_rows(users: int = 6, per_user: int = 8, *, items: int = 11, start: int = 1_600_000_000) -> list[Row]:
    """``users`` × ``per_user`` ratings 1–5, each user's in time order."""
    return [(f"u{u}", f"i{(u * 7 + k) % items}", start + 1000 * k + u, "rate", float(1 + (u + k) % 5))
            for u in range(users) for k in range(per_user)]


def collect_log(store: Store, folder: Path, name: str, rows: list[Row]) -> None:
    """Write ``rows`` as ``<folder>/<name>.csv`` and collect them as the source ``events-<name>``."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.csv"
    log.write_text("u,i,t,e,v\n" + "".join(
        f"{u},{i},{t},{e},{'' if v is None else v}\n" for u, i, t, e, v in rows))
    mapping = folder / f"{name}.toml"
    mapping.write_text(f'name = "{name}"\n[columns]\nuser = "u"\nitem = "i"\ntime = "t"\naction = "e"\nvalue = "v"\n')
    collect_events(store, [str(log)], load_mapping(mapping), data_dir=folder)
