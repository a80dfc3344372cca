"""The trainer's PNG plots: valid files, edge cases, atomic writes, no leaked figures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import sklearn.manifold  # noqa: F401  (loads the OpenMP runtime now, so the limit below reaches it)
from PIL import Image
from threadpoolctl import threadpool_limits

from timgen_model import plots
from timgen_model.plots import (
    embed_2d,
    plot_latent_map,
    plot_loss_curves,
    plot_metric_comparison,
    plot_modality_weights,
)


@pytest.fixture(autouse=True)
def one_thread():
    """t-SNE's OpenMP threads spin badly on a shared 2-core box; one thread is 10x faster there."""
    with threadpool_limits(1):
        yield


def assert_png(path: Path, folder: Path) -> None:
    assert path.exists() and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width > 200 and height > 200
        image.verify()
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]
    assert leftovers == []


def history(epochs: int) -> list[dict]:
    rows = []
    for e in range(1, epochs + 1):
        rows.append(
            {
                "epoch": e,
                "train_loss": 9.1 / e,
                "validation_loss": 8.7 / e + 0.1,
                "train_reconstruction": 7.0 / e,
                "train_kl": 0.3 * e,
                "train_score_mse": 1.1 / e,
                "train_class_ce": 2.0 / e,
                "validation_rmse": 0.95 - 0.01 * e,
                "validation_ndcg@10": 0.05 + 0.002 * e,
                "validation_hr@10": 0.1 + 0.01 * e,
                "beta": min(1.0, 0.1 * e),
            }
        )
    return rows


# --------------------------------------------------------------------------- loss curves


def test_loss_curves_one_epoch(tmp_path):
    assert_png(plot_loss_curves(history(1), tmp_path / "one.png"), tmp_path)


def test_loss_curves_none_nan_and_absent_keys(tmp_path):
    rows = history(4)
    rows[0]["validation_loss"] = None
    rows[1]["validation_rmse"] = None
    rows[2]["train_kl"] = float("nan")
    rows[3].pop("validation_ndcg@10")
    rows[0]["validation_mae"] = None  # a metric with no value at all
    del rows[2]["epoch"]
    out = plot_loss_curves(rows, tmp_path / "gaps.png")
    assert out == tmp_path / "gaps.png"
    assert_png(out, tmp_path)


def test_loss_curves_only_train_loss_and_empty_into_new_folder(tmp_path):
    folder = tmp_path / "run" / "plots"
    assert_png(plot_loss_curves([{"train_loss": 3.0}], folder / "min.png"), folder)
    assert_png(plot_loss_curves([], tmp_path / "empty.png"), tmp_path)


def test_overwrites_existing_file(tmp_path):
    target = tmp_path / "cmp.png"
    target.write_bytes(b"old")
    plot_metric_comparison([{"model": "m", "rmse": 1.0}], ["rmse"], target)
    assert_png(target, tmp_path)


# --------------------------------------------------------------------------- modality weights


def weights(steps: int, modalities: int, seed: int = 0, zero: int | None = None) -> np.ndarray:
    raw = np.random.default_rng(seed).random((steps, modalities))
    if zero is not None:
        raw[:, zero] = 0.0
    return raw / raw.sum(axis=1, keepdims=True)


def test_modality_weights_bars_with_labels_and_dates(tmp_path):
    alpha = weights(12, 3)
    ts = 1_600_000_000 + np.arange(12) * 86_400 * 3
    titles = [f"A rather long item title number {i}" for i in range(12)]
    out = plot_modality_weights(
        alpha, ["text", "image", "audio"], tmp_path / "w.png", timestamps=ts, labels=titles
    )
    assert_png(out, tmp_path)


def test_modality_weights_area_with_dates_and_steps(tmp_path):
    alpha = weights(200, 4)
    ts = 1_500_000_000 + np.cumsum(np.full(200, 3600 * 7))
    names = ["id", "text", "image", "audio"]
    assert_png(plot_modality_weights(alpha, names, tmp_path / "dates.png", timestamps=ts), tmp_path)


def test_modality_weights_absent_modality_and_single_step(tmp_path):
    alpha = weights(60, 3, zero=2)  # an area over step indices
    assert_png(plot_modality_weights(alpha, ["text", "image", "audio"], tmp_path / "absent.png"), tmp_path)
    assert_png(plot_modality_weights(np.array([[1.0]]), ["text"], tmp_path / "single.png"), tmp_path)


@pytest.mark.parametrize(
    ("alpha", "modalities", "kwargs", "message"),
    [
        (np.ones((5, 3)) / 3, ["a", "b"], {}, "3 modality columns but 2"),
        (np.ones(5), ["a"], {}, "2-D"),
        (np.zeros((0, 2)), ["a", "b"], {}, "at least one step"),
        (np.ones((5, 2)) / 2, ["a", "b"], {"timestamps": np.arange(4)}, "timestamps"),
        (np.ones((5, 2)) / 2, ["a", "b"], {"labels": ["x"] * 6}, "labels"),
        (np.full((5, 2), np.nan), ["a", "b"], {}, "NaN"),
        (-np.ones((5, 2)), ["a", "b"], {}, "non-negative"),
    ],
)
def test_modality_weights_validation(tmp_path, alpha, modalities, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_modality_weights(alpha, modalities, tmp_path / "bad.png", **kwargs)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- latent map


def clusters(per_cluster: int = 100, dims: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, size=(3, dims))
    labels = np.repeat(np.arange(3), per_cluster)
    points = centres[labels] + rng.normal(0, 1, size=(labels.size, dims))
    return points, labels


def test_latent_map_300_points_in_three_clusters(tmp_path, monkeypatch):
    points, labels = clusters()
    coords = embed_2d(points, seed=0)
    assert coords.shape == (300, 2) and np.all(np.isfinite(coords))
    centres = np.stack([coords[labels == k].mean(axis=0) for k in range(3)])
    within = np.mean([np.linalg.norm(coords[labels == k] - centres[k], axis=1).mean() for k in range(3)])
    between = np.mean([np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)])
    assert within < 0.5 * between

    # The map embeds the same way; reuse the t-SNE above rather than run it twice.
    calls = []

    def cached(latents, seed, method):
        calls.append((seed, method))
        np.testing.assert_array_equal(latents, points)
        return coords, "tsne"

    monkeypatch.setattr(plots, "_embed", cached)
    names = np.array(["Drama", "Comedy", "Action"])[labels]
    assert_png(plot_latent_map(points, list(names), tmp_path / "map.png", seed=0), tmp_path)
    assert calls == [(0, "tsne")]


def test_embed_2d_deterministic_and_small_cases():
    points, _ = clusters(per_cluster=10, dims=4, seed=1)
    np.testing.assert_allclose(embed_2d(points, seed=3), embed_2d(points, seed=3))
    assert embed_2d(points, method="pca").shape == (30, 2)
    assert embed_2d(points[:3]).shape == (3, 2)  # too few for t-SNE: PCA
    assert embed_2d(points[:1]).shape == (1, 2)
    assert embed_2d(np.zeros((0, 4))).shape == (0, 2)
    one_dim = embed_2d(points[:, :1])
    assert one_dim.shape == (30, 2) and np.all(one_dim[:, 1] == 0)
    assert np.all(embed_2d(np.ones((10, 4))) == 0)  # identical points
    with pytest.raises(ValueError, match="method"):
        embed_2d(points, method="umap")
    with pytest.raises(ValueError, match="2-D"):
        embed_2d(np.ones(5))


def test_latent_map_three_points_and_one_dim(tmp_path):
    assert_png(plot_latent_map(np.eye(3), ["a", "b", "a"], tmp_path / "three.png"), tmp_path)
    assert_png(plot_latent_map(np.arange(8.0)[:, None], list("abababab"), tmp_path / "d1.png"), tmp_path)


def test_latent_map_many_classes_pca_and_subsample(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(6000, 8))
    classes = [f"class {i % 15}" if i % 7 else None for i in range(6000)]
    out = plot_latent_map(points, classes, tmp_path / "big.png", method="pca")
    assert_png(out, tmp_path)


def test_latent_map_validation(tmp_path):
    with pytest.raises(ValueError, match="one entry per user"):
        plot_latent_map(np.ones((4, 2)), ["a"], tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- model comparison


ROWS = [
    {"model": "timgen", "rmse": 0.91, "ndcg@10": 0.061, "hr@10": 0.12},
    {"model": "sasrec", "rmse": None, "ndcg@10": 0.055, "hr@10": 0.11},
    {"model": "popularity", "rmse": 1.02, "ndcg@10": 0.031},
    {"model": "bert4rec", "rmse": 0.97, "ndcg@10": 0.058, "hr@10": "n/a"},
]


def test_metric_comparison(tmp_path):
    out = plot_metric_comparison(ROWS, ["rmse", "ndcg@10", "hr@10", "mrr"], tmp_path / "cmp.png")
    assert_png(out, tmp_path)
    assert_png(plot_metric_comparison([], ["rmse", "mrr"], tmp_path / "none.png"), tmp_path)


def test_metric_comparison_needs_metrics(tmp_path):
    with pytest.raises(ValueError, match="metric"):
        plot_metric_comparison(ROWS, [], tmp_path / "bad.png")


# --------------------------------------------------------------------------- threads, figures, temp files


def test_threads_no_pyplot_figures_and_failed_write_leaves_nothing(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    jobs = [
        lambda i: plot_metric_comparison(ROWS, ["rmse", "ndcg@10"], tmp_path / f"cmp{i}.png"),
        lambda i: plot_loss_curves([{"epoch": 1, "train_loss": 2.0}], tmp_path / f"loss{i}.png"),
        lambda i: plot_modality_weights(weights(50, 3, seed=i), ["a", "b", "c"], tmp_path / f"w{i}.png"),
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        outs = list(pool.map(lambda k: jobs[k](k), range(3)))
    for out in outs:
        assert_png(out, tmp_path)
    assert plt.get_fignums() == before

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots.Figure, "savefig", boom)
    names = {p.name for p in tmp_path.iterdir()}
    with pytest.raises(RuntimeError, match="disk full"):
        plot_loss_curves(history(2), tmp_path / "w2.png")
    assert {p.name for p in tmp_path.iterdir()} == names
