"""A generation result as an HTML page: per draw of ℓ, each item with its title, predicted
score, class set, text and media, the local images, videos and audio shown in place."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from timgen_model.generation import GenerationResult, Recommendation
from timgen_model.item_content import ItemAsset

_STYLE = """body{font-family:sans-serif;margin:2em;max-width:70em}
.items{display:grid;grid-template-columns:repeat(auto-fill,minmax(16em,1fr));gap:1em}
.item{border:1px solid #ccc;border-radius:6px;padding:.6em}.item img,.item video{max-width:100%}
.meta{color:#555;font-size:.9em}table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left}"""


def page_name(user_id: str) -> str:
    """The page's file name for a user: ``generated-<user>.html`` (characters unsafe in a file
    name replaced by ``_``).

    >>> page_name("42")
    'generated-42.html'
    """
    return f"generated-{re.sub(r'[^A-Za-z0-9._-]', '_', str(user_id))}.html"


def _media(asset: ItemAsset) -> str:
    if asset.path is None:
        return f'<div class="meta">{escape(asset.modality)}: <a href="{escape(asset.uri)}">{escape(asset.uri)}</a></div>'
    src = escape(Path(asset.path).resolve().as_uri())
    if asset.modality == "image":
        return f'<img src="{src}" alt="image">'
    if asset.modality == "video":
        return f'<video controls src="{src}"></video>'
    if asset.modality == "audio":
        return f'<audio controls src="{src}"></audio>'
    return f'<div class="meta">{escape(asset.modality)}: <a href="{src}">{escape(asset.path)}</a></div>'


def _item(r: Recommendation) -> str:
    score = "–" if r.predicted_score is None else f"{r.predicted_score:.2f}"
    parts = [f"<h3>{r.rank}. {escape(r.title)}</h3>",
             f'<div class="meta">item {escape(r.item_id)} · predicted score {score} · '
             f'{escape(", ".join(r.classes)) or "no class"}</div>']
    if r.text:
        parts.append(f"<p>{escape(r.text)}</p>")
    parts.extend(_media(a) for a in r.assets)
    return '<div class="item">' + "".join(parts) + "</div>"


def render_page(result: GenerationResult) -> str:
    """The HTML of ``result``."""
    context = result.context
    head = [f"<h1>Generated for user {escape(result.user_id)}</h1>",
            f"<p>After {result.history_length} interactions; {len(result.samples)} draw(s) of ℓ at temperature "
            f"{result.temperature:g}, seed {result.seed}.</p>"]
    if context is not None:
        when = datetime.fromtimestamp(context.at, timezone.utc).isoformat()
        rows = [("at", when), ("device", context.device), ("platform", context.platform), ("geo", context.geo)]
        head.append("<table>" + "".join(f"<tr><th>{k}</th><td>{escape(v or '–')}</td></tr>" for k, v in rows)
                    + "</table>")
    if result.modality_weights:
        head.append("<p>Modality weights α: " + ", ".join(f"{escape(m)} {w:.3f}"
                                                          for m, w in result.modality_weights.items()) + "</p>")
    body = []
    for draw in result.samples:
        classes = ", ".join(f"{escape(c)} {p:.1%}" for c, p in draw.next_classes)
        body.append(f"<h2>Draw {draw.sample + 1}</h2>" + (f"<p>Likely next class: {classes}</p>" if classes else "")
                    + '<div class="items">' + "".join(_item(r) for r in draw.recommendations) + "</div>")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>TIMGen: user {escape(result.user_id)}"
            f"</title><style>{_STYLE}</style></head><body>{''.join(head)}{''.join(body)}</body></html>\n")


def write_page(result: GenerationResult, folder: Path) -> Path:
    """Write the page into ``folder`` (created if needed) atomically; returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / page_name(result.user_id)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(render_page(result))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
