"""What a generated item is: its title, text and class set from the dataset's ``items``
config, and the media assets (image, video, audio, text files) a caller looks up for it.

The dataset contract carries no asset paths (paths are local to the machine that fetched
the media), so assets come from a lookup the caller passes: ``timgen-data generate --store``
reads them from the store; without one an item has no assets listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class ItemAsset:
    """One media file of an item: where it came from (``uri``) and where it is kept locally
    (``path``, None when it was not fetched or is no longer there)."""

    modality: str
    uri: str
    path: str | None = None
    mime: str | None = None


@dataclass
class ItemContent:
    title: str
    text: str | None = None
    classes: list[str] = field(default_factory=list)
    assets: list[ItemAsset] = field(default_factory=list)


# Item ids → their assets; ids without any may be left out.
AssetLookup = Callable[[list[str]], Mapping[str, list[ItemAsset]]]


def item_contents(items: pa.Table, item_ids: Iterable[str], titles: Mapping[str, str] | None = None,
                  assets: AssetLookup | None = None) -> dict[str, ItemContent]:
    """The content of ``item_ids`` from the items config ``items`` (columns ``item_id``,
    ``title``, and where present ``text``, ``classes``, ``class``).

    >>> table = pa.table({"item_id": ["1"], "title": ["Toy Story"], "classes": [["Animation", "Comedy"]]})
    >>> item_contents(table, ["1"])["1"].classes
    ['Animation', 'Comedy']
    """
    wanted = list(dict.fromkeys(str(i) for i in item_ids))
    rows = items.filter(pc.is_in(items["item_id"].cast(pa.string()), value_set=pa.array(wanted, pa.string())))
    names = set(rows.column_names)
    found: dict[str, ItemContent] = {}
    for row in rows.select([c for c in ("item_id", "title", "text", "classes", "class") if c in names]).to_pylist():
        classes = list(row.get("classes") or []) or ([row["class"]] if row.get("class") else [])
        found[row["item_id"]] = ItemContent(title=row.get("title") or row["item_id"], text=row.get("text") or None,
                                            classes=classes)
    for item in wanted:  # an item the catalogue lacks (made by hand) keeps the checkpoint's title
        found.setdefault(item, ItemContent(title=(titles or {}).get(item, item)))
    if assets is not None:
        for item, listed in assets(wanted).items():
            if item in found:
                found[item].assets = list(listed)
    return found
