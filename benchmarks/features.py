"""Feature extraction speed: items per second for each encoder, first run vs re-run.

A store of ``--items`` generated movies, each with an image, a short video, an audio clip
and a description (the demo's media), fetched through the real asset path from local
files. Then, per modality, ``align features`` with

- the ``classic`` encoder (no weights), and
- a tiny random ``hf:`` encoder of the paper's family (BERT, ViT, VideoMAE, Wav2Vec2),
  built from a config and saved to a folder, loaded through the same path as a Hub id.

The re-run must do no encoder work (every vector is already stored): its encoded count is
printed next to its wall time.

    python benchmarks/features.py [--items 200] [--skip-hf]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from timgen_data.alignment.assets import FetchOptions, collect_assets
from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.encoders import MODALITIES, get_encoder
from timgen_data.alignment.features import compute_features
from timgen_data.demo.corpus import GENRES
from timgen_data.demo.media import write_demo_media
from timgen_data.store import Store, upsert_rows

NAMESPACE = "bench"


def make_store(folder: Path, items: int) -> tuple[Store, ContentStore]:
    movies = folder / "movies.csv"
    with movies.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["movieId", "title", "genres"])
        for i in range(items):
            writer.writerow([i + 1, f"Movie {i + 1} (1999)", GENRES[i % len(GENRES)]])
    entries = write_demo_media(movies, folder / "media", seed=0)
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}")
    with store.begin() as conn:
        upsert_rows(conn, "items", ["source", "external_id", "title", "categories", "attributes"],
                    [(NAMESPACE, str(i + 1), f"Movie {i + 1}", "[]", "{}") for i in range(items)],
                    conflict=["source", "external_id"])
    manifest = [{"source": NAMESPACE, "item_id": movie, "modality": modality, "uri": str(folder / "media" / path)}
                for movie, modality, path in entries]
    content = ContentStore(folder / "assets")
    collect_assets(store, content, MODALITIES, manifest=manifest, options=FetchOptions(workers=2))
    return store, content


def tiny_hf_models(folder: Path) -> dict[str, Path]:
    """Tiny random models of the paper's encoder families, saved like a Hub download."""
    from timgen_data.alignment.encoders.tiny import save_tiny_models

    return save_tiny_models(folder)


def measure(store: Store, content: ContentStore, modality: str, spec: str) -> tuple[float, float, int, int]:
    encoder = get_encoder(spec, modality)
    started = time.perf_counter()
    first = compute_features(store, content, {modality: encoder}).modalities[modality]
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    again = compute_features(store, content, {modality: encoder}).modalities[modality]
    return first_s, time.perf_counter() - started, first.computed, again.computed + again.copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--skip-hf", action="store_true", help="only the classic encoders")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store, content = make_store(folder, args.items)
        specs = [(m, "classic") for m in MODALITIES]
        if not args.skip_hf:
            specs += [(m, f"hf:{path}") for m, path in tiny_hf_models(folder / "models").items()]
        print(f"{args.items} items, one asset per modality each\n")
        print(f"{'modality':8s} {'encoder':22s} {'first run':>12s} {'items/s':>9s} {'re-run':>9s} {'encoded on re-run':>18s}")
        for modality, spec in specs:
            first_s, again_s, computed, again_work = measure(store, content, modality, spec)
            label = spec if spec == "classic" else "hf: tiny " + Path(spec[3:]).name
            print(f"{modality:8s} {label:22s} {first_s:10.2f} s {computed / first_s:9.1f} {again_s:7.2f} s "
                  f"{again_work:18d}")
        store.dispose()


if __name__ == "__main__":
    main()
