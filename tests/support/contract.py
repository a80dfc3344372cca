"""Small datasets in the dataset contract, written straight to Parquet for model tests.

``drifting_histories`` makes users whose interest moves between genres and whose next item
follows the previous one along a per-genre chain, so order carries signal that a running
average cannot see. ``moody_histories`` makes users whose only signal is in what they wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from timgen_contract.features import INTERACTIONS_FEATURES, ITEMS_FEATURES, arrow_schema


@dataclass
class Histories:
    users: list[str]
    items: list[list[str]]
    timestamps: list[list[int]]
    scores: list[list[float]]
    classes: list[list[str]]
    texts: list[list[str]] | None = None  # what each user wrote at each step


def drifting_histories(users: int = 120, steps: int = 30, genres: int = 4, items_per_genre: int = 12,
                       seed: int = 0) -> tuple[Histories, dict[str, str]]:
    rng = np.random.default_rng(seed)
    item_genre = {f"i{g}_{k}": f"g{g}" for g in range(genres) for k in range(items_per_genre)}
    out = Histories([], [], [], [], [])
    for u in range(users):
        genre = int(rng.integers(genres))
        position = int(rng.integers(items_per_genre))
        t = 1_600_000_000 + int(rng.integers(0, 10**6))
        bias = float(rng.normal(0, 0.5))
        items, stamps, scores, classes = [], [], [], []
        for step in range(steps):
            if step and rng.random() < 0.12:  # interest drifts to another genre
                genre = int((genre + 1 + rng.integers(genres - 1)) % genres)
            position = (position + 1) % items_per_genre if rng.random() < 0.85 else int(rng.integers(items_per_genre))
            items.append(f"i{genre}_{position}")
            t += int(rng.integers(60, 86_400))
            stamps.append(t)
            # Scores depend on the user and on how long the user has stayed in this genre.
            scores.append(float(np.clip(np.round(3.5 + bias + 0.8 * (genre % 2) - 0.4 + rng.normal(0, 0.3)), 1, 5)))
            classes.append(f"g{genre}")
        out.users.append(f"u{u}")
        out.items.append(items)
        out.timestamps.append(stamps)
        out.scores.append(scores)
        out.classes.append(classes)
    return out, item_genre


def moody_histories(users: int = 80, steps: int = 24, seed: int = 0) -> tuple[Histories, dict[str, str]]:
    """Users in a mood that lasts (it turns with probability 0.05 a step) who write how they liked
    each item and score it 5 or 1 accordingly. Items are drawn at random from one class, the
    times are regular: only what the users wrote says how the next score will be."""
    rng = np.random.default_rng(seed)
    catalogue = {f"i{k}": "any" for k in range(30)}
    items_of = sorted(catalogue)
    good = ["loved it", "great film, loved it", "wonderful"]
    bad = ["hated it", "awful, hated it", "boring"]
    out = Histories([], [], [], [], [], texts=[])
    for u in range(users):
        happy = bool(rng.integers(2))
        items, stamps, scores, texts = [], [], [], []
        for step in range(steps):
            if step and rng.random() < 0.05:
                happy = not happy
            items.append(items_of[int(rng.integers(len(items_of)))])
            stamps.append(1_600_000_000 + 3600 * step)
            scores.append(5.0 if happy else 1.0)
            texts.append(str(rng.choice(good if happy else bad)))
        out.users.append(f"u{u}")
        out.items.append(items)
        out.timestamps.append(stamps)
        out.scores.append(scores)
        out.classes.append(["any"] * steps)
        out.texts.append(texts)
    return out, catalogue


def write_contract(folder: Path, histories: Histories, item_genre: dict[str, str],
                   embeddings: dict[str, dict[str, list[float]]] | None = None) -> Path:
    """Leave-last-out splits of ``histories`` as a dataset folder; ``embeddings`` maps a
    modality to {item id: vector} (items without one get null)."""
    folder = Path(folder)
    (folder / "interactions").mkdir(parents=True, exist_ok=True)
    (folder / "items").mkdir(parents=True, exist_ok=True)
    cuts = {"train": 2, "validation": 1, "test": 0}
    for split, cut in cuts.items():
        rows = []
        for u, user in enumerate(histories.users):
            n = len(histories.items[u]) - cut
            rows.append({
                "user_id": user,
                "item_ids": histories.items[u][:n],
                "timestamps": histories.timestamps[u][:n],
                "actions": ["rate"] * n,
                "devices": [""] * n,
                "platforms": [""] * n,
                "geos": [""] * n,
                "scores": histories.scores[u][:n],
                "classes": histories.classes[u][:n],
                "values": histories.scores[u][:n],
                "is_target": [True] * n if split == "train" else [False] * (n - 1) + [True],
                "texts": histories.texts[u][:n] if histories.texts else None,
            })
        table = pa.Table.from_pylist(rows, schema=arrow_schema(INTERACTIONS_FEATURES))
        pq.write_table(table, folder / "interactions" / f"{split}-00000-of-00001.parquet")
    embeddings = embeddings or {}
    items = []
    for item, genre in sorted(item_genre.items()):
        row = {"item_id": item, "title": f"Title {item}", "text": None, "class": genre, "classes": [genre],
               "year": 2000}
        for m in ("text", "image", "video", "audio"):
            row[f"{m}_emb"] = embeddings.get(m, {}).get(item)
        items.append(row)
    pq.write_table(pa.Table.from_pylist(items, schema=arrow_schema(ITEMS_FEATURES)),
                   folder / "items" / "train-00000-of-00001.parquet")
    return folder


def genre_embeddings(item_genre: dict[str, str], dim: int = 8, share: float = 1.0, seed: int = 0) -> dict[str, list[float]]:
    """Noisy per-genre vectors for a ``share`` of the items (the rest have none)."""
    rng = np.random.default_rng(seed)
    centres = {g: rng.normal(0, 1, dim) for g in sorted(set(item_genre.values()))}
    chosen = sorted(item_genre)[: int(round(share * len(item_genre)))]
    return {i: (centres[item_genre[i]] + rng.normal(0, 0.2, dim)).astype(np.float32).tolist() for i in chosen}
