"""``timgen-data demo``: the whole flow offline on a generated corpus.

It generates a MovieLens-format release whose users drift between genres, plus media for
every movie (image, video, audio, description; shaped by the genre), serves them from a
loopback HTTP server, and runs collect → align (assets, classic features) → label → build
through the same code a user's real run takes (download with checksum, extraction,
parsing, store, content-addressed assets, feature vectors, labels, dataset), then trains a
small TIMGen on the dataset. Everything lands under ``<data dir>/demo`` with its own store;
a re-run replaces that folder only if the demo wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timgen_data.alignment.assets import AssetReport, collect_assets
from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.encoders import MODALITIES, get_encoder
from timgen_data.alignment.features import FeatureReport, compute_features
from timgen_data.collectors.movielens import collect_movielens, get_variant
from timgen_data.collectors.report import CollectReport
from timgen_data.dataset import BuildOptions, BuildResult, build_dataset
from timgen_data.demo.corpus import CorpusSpec, generate_corpus, write_md5_sidecar, zip_release
from timgen_data.demo.media import manifest_rows, write_demo_media
from timgen_data.demo.server import LocalFileServer
from timgen_data.labeling import LabelReport, label_store
from timgen_common.output_folder import OutputFolder, Protected, protected_folders
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store

DEMO_SPEC = CorpusSpec(users=300, items=400, ratings=20_000, seed=7, layout="latest-small")
# A small TIMGen that trains in well under a minute on two cores.
DEMO_MODEL = ["model.embedding_size=32", "model.feedforward_size=128", "model.latent_size=32",
              "model.max_len=100", "train.epochs=12", "train.patience=3"]


@dataclass
class DemoResult:
    folder: Path
    store_url: str
    collect: CollectReport
    label: LabelReport
    build: BuildResult
    assets: AssetReport | None = None
    features: FeatureReport | None = None
    model: Any = None  # timgen_model.training.TrainResult when the demo trained a model


def run_demo(data_dir: Path, *, spec: CorpusSpec = DEMO_SPEC, progress: Progress = SILENT,
             train_model: bool = True, model_overrides: list[str] | None = None,
             protect: Iterable[Protected] | None = None) -> DemoResult:
    """Run the offline demo under ``data_dir / "demo"``; re-running starts afresh.

    A ``demo`` folder the demo did not write is refused, never emptied.

    >>> run_demo(Path("timgen-data")).build.path  # doctest: +SKIP
    PosixPath('timgen-data/demo/dataset')
    """
    folder = Path(data_dir) / "demo"
    OutputFolder(folder, "demo", protect=protect if protect is not None else protected_folders(data_dir),
                 what="demo", fix="move them away or run the demo with another --data-dir", force_option=None,
                 written_before=_demo_before_markers).prepare_in_place()
    mirror = folder / "mirror"
    mirror.mkdir(parents=True)
    variant = get_variant(spec.layout)
    corpus = generate_corpus(folder / "generated", spec)
    archive = zip_release(corpus.folder, mirror / variant.archive)
    write_md5_sidecar(archive)
    media = write_demo_media(corpus.folder / "movies.csv", mirror / "media", seed=spec.seed)

    store_url = f"sqlite:///{folder / 'store.sqlite'}"
    store = Store.open(store_url)
    try:
        with LocalFileServer(mirror) as base_url:
            collected = collect_movielens(store, variant.name, data_dir=folder, base_url=base_url, progress=progress)
            content = ContentStore(folder / "assets")
            assets = collect_assets(store, content, MODALITIES, progress=progress,
                                    manifest=manifest_rows(media, variant.namespace, f"{base_url}/media"))
        encoders = {m: get_encoder("classic", m) for m in MODALITIES}
        features = compute_features(store, content, encoders, progress=progress)
        labeled = label_store(store, "movie", progress=progress)
        built = build_dataset(store, folder / "dataset", BuildOptions(min_interactions=5), progress=progress)
    finally:
        store.dispose()
    trained = None
    if train_model:
        # Imported here: the model stack (torch) is only needed when the demo trains.
        from timgen_model.config import load_run_config
        from timgen_model.training import train

        config = load_run_config(None, DEMO_MODEL + list(model_overrides or []))
        trained = train(built.path, folder / "run", config, progress=progress)
    return DemoResult(folder, store_url, collected, labeled, built, assets, features, trained)


def _demo_before_markers(folder: Path) -> bool:
    """A demo folder an earlier version wrote: its mirror, generated corpus and store, no marker."""
    return (folder / "mirror").is_dir() and (folder / "generated").is_dir() and (folder / "store.sqlite").is_file()
