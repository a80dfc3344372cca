"""The dataset card: README.md with YAML front matter (configs, license) and a body with
sources, licenses, build parameters, statistics and citations."""

from __future__ import annotations

from typing import Any

import yaml

from timgen_contract import EMBEDDING_COLUMNS
from timgen_data.dataset.splits import SPLITS
from timgen_data.sources import SOURCES

TIMGEN_CITATION = """@article{timgen,
  title  = {Temporal Interest-Driven Multimodal Personalized Content Generation},
  note   = {the TIMGen model trained by timgen-data}
}"""


def card_front_matter(shards: dict[str, dict[str, list[str]]], collectors: list[str]) -> dict[str, Any]:
    configs = []
    for config in (c for c in ("interactions", "items", "users") if c in shards):
        configs.append({
            "config_name": config,
            "data_files": [{"split": split, "path": f"{config}/{split}-*.parquet"} for split in shards[config]],
            **({"default": True} if config == "interactions" else {}),
        })
    return {
        "configs": configs,
        "license": "other",
        "license_name": "see-sources",
        "tags": ["recommendation", "sequential-recommendation", "multimodal", "timgen-data", *collectors],
        "pretty_name": "timgen-data interaction sequences",
    }


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_card(
    *, front_matter: dict[str, Any], sources: list[dict[str, Any]], parameters: dict[str, Any],
    statistics: dict[str, Any], encoders: dict[str, dict[str, Any]],
) -> str:
    """The card text; deterministic for equal inputs (no build time in it)."""
    yaml_text = yaml.safe_dump(front_matter, sort_keys=False, allow_unicode=True)
    split_rows = [[s, statistics["splits"][s]["rows"], statistics["splits"][s]["targets"]] for s in SPLITS]
    parts = [
        f"---\n{yaml_text}---\n",
        "# timgen-data interaction sequences\n",
        "Per-user chronological interaction sequences with scenario labels, built by "
        "`timgen-data build`. Load with `datasets.load_dataset(<path or repo>, \"interactions\")` "
        "and `... \"items\")`.\n",
        "## Sources and licenses\n",
        _table(["collector", "variant", "url", "sha256", "license"],
               [[s["collector"], s["variant"], s["url"] or "local file", f"`{s['sha256'][:16]}…`", _license(s)]
                for s in sources]),
        "\nThe data keeps the license of its sources: check each before redistributing.\n",
        "## Build parameters\n",
        _table(["parameter", "value"], [[k, f"`{v}`"] for k, v in parameters.items()]),
        "\n## Statistics\n",
        _table(["", "count"], [["users", statistics["users"]], ["items", statistics["items"]],
                                ["interactions", statistics["interactions"]]]),
        "\n" + _table(["split", "rows", "target positions"], split_rows),
        "\n" + _table(["action", "interactions"], [[a, n] for a, n in statistics["actions"].items()]),
        "\n" + _table(["class", "interactions"], [[c or "(none)", n] for c, n in statistics["classes"].items()]),
        f"\nSequence length: min {statistics['length']['min']}, median {statistics['length']['median']}, "
        f"max {statistics['length']['max']}. Score range: {statistics['score_range']}. "
        f"Time span (UTC epoch seconds): {statistics['time_span']}.\n" + _left_out_note(statistics, parameters),
        "## Item features\n",
        _table(["modality", "encoder", "dim", "items with a vector"],
               [[m, e["encoder"], e["dim"], e["items"]] for m, e in encoders.items()]) + _pooling_note(encoders)
        if encoders else "No modality vectors yet (`timgen-data align features` adds them).",
        "\n## Dataset format\n",
        "`interactions`: one row per user and split with `user_id`, chronological `item_ids`, `timestamps` "
        "(UTC epoch seconds), `actions`, `devices`/`platforms`/`geos` (\"\" = unknown), `scores` (y_score), "
        "`classes` (y_class, \"\" = none), `values` (raw value), `texts` (what the user wrote: a review, "
        "comment or post; \"\" = none), `utc_offsets` (minutes the user's local clock was ahead of UTC; null = "
        "unknown, read as UTC), `holidays` (a public holiday of the geo's country on the local date; null = "
        "unknown) and `is_target` (positions evaluated in this "
        "split). A row never contains interactions after its last target. Interactions in the same second "
        "are ordered by item id (numeric ids as numbers), then action; with leave-last-out this decides "
        "which of them is a user's last.\n\n"
        "`items`: `item_id`, `title`, `text`, `class`, `classes`, `year` and per modality "
        + "/".join(f"`{column}`" for column in EMBEDDING_COLUMNS) + " (null when missing).\n"
        + ("\n`users`: `user_id` and `attributes`, the source's description of the user as JSON text "
           "(personal data: `timgen-data publish --pseudonymize` leaves this config out).\n"
           if any(c["config_name"] == "users" for c in front_matter["configs"]) else ""),
        "## Citation\n",
        "```bibtex\n" + "\n\n".join(
            [SOURCES[c].citation for c in sorted({s["collector"] for s in sources})
             if c in SOURCES and SOURCES[c].citation] + [TIMGEN_CITATION]
        ) + "\n```\n",
    ]
    return "\n".join(parts)


def _license(source: dict[str, Any]) -> str | None:
    """The registry's terms for the source; the recorded ones for a collector it does not know."""
    registered = SOURCES.get(source["collector"])
    return registered.license_of(source["variant"]) if registered else source["license"]


def _pooling_note(encoders: dict[str, dict[str, Any]]) -> str:
    """What the pooling after `#` in a text encoder's name means (nothing when no encoder names one)."""
    # A key is name@version and a text encoder's name ends in #pooling; a model path may hold either sign.
    names = {m: str(e["encoder"]).rpartition("@")[0] for m, e in encoders.items()}
    pooled = {m: name.rpartition("#")[2] for m, name in names.items() if "#" in name}
    if not pooled:
        return ""
    return ("\n\nAfter `#`, how the model's token vectors became one vector per item: " + "; ".join(
        f"{m}: `{p}`" for m, p in pooled.items()) + " (`cls` = the [CLS] token; `mean` = the mean over the "
        "real, unpadded tokens; `max` = their element-wise maximum; `+normalize` = scaled to unit length, so a "
        "dot product is a cosine).")


def _left_out_note(statistics: dict[str, Any], parameters: dict[str, Any]) -> str:
    """Which interactions the build left out for want of a label (nothing for a fully labelled store)."""
    left_out = statistics.get("left_out_unlabelled")
    if not left_out:
        return ""
    counts = ", ".join(f"{n} of {source}" for source, n in left_out.items())
    return (f"\nLeft out for want of a `{parameters.get('scenario')}` score: {counts} interactions "
            "(the scenario's formula does not label their actions, or they were collected after the last "
            "`timgen-data label`).\n")
