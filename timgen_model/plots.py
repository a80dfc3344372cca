"""PNG plots written by the TIMGen trainer: loss curves, modality weights, latent map, model comparison.

Every function builds its own :class:`matplotlib.figure.Figure` on an Agg canvas (never
the pyplot global state), so the functions are thread-safe and leak no figures. Each writes
its PNG atomically (a temporary file in the destination folder, then :func:`os.replace`)
and returns the path it wrote.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "embed_2d",
    "plot_latent_map",
    "plot_loss_curves",
    "plot_metric_comparison",
    "plot_modality_weights",
]

DPI = 120
MAX_MAP_POINTS = 5000  # t-SNE beyond this is slow; the map subsamples deterministically
TOP_CLASSES = 9  # the rest of the classes share one "other" colour
BAR_STEPS = 40  # at most this many steps: stacked bars; more: stacked area
MAX_TICKS = 12
_DEFAULT_LATENT_TITLE = "Users' latent ℓ (t-SNE), coloured by dominant class"
_LOWER_IS_BETTER = {"loss", "rmse", "mse", "mae", "error", "nll", "kl", "reconstruction", "ce"}
_OTHER_COLOUR = "#b0b0b0"


# --------------------------------------------------------------------------- helpers


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _write_png(fig: Figure, path: Path) -> Path:
    """Save ``fig`` as PNG to ``path`` atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as handle:
            fig.savefig(handle, format="png", dpi=DPI, metadata={"Software": None})
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _number(value: object) -> float | None:
    """``value`` as a finite float, or None when it is missing, non-numeric or not finite."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, numbers.Real):  # numpy's float and int scalars are registered as Real
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _lower_is_better(name: str) -> bool:
    tokens = set(re.split(r"[^a-z0-9]+", name.lower()))
    return bool(tokens & _LOWER_IS_BETTER)


def _no_data(ax, message: str = "no data") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#777777")
    ax.set_xticks([])
    ax.set_yticks([])


def _shorten(text: str, width: int = 18) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = max(1, min(max_cols, n))
    return math.ceil(max(n, 1) / cols), cols


# --------------------------------------------------------------------------- loss curves


def plot_loss_curves(history: Sequence[Mapping[str, float | int | None]], path: Path) -> Path:
    """Training curves, one dict of numbers per epoch.

    Top left: ``train_loss`` and ``validation_loss``. Top right: the loss components
    (``train_*`` other than ``train_loss``), with ``beta`` on a twin axis when present.
    Bottom: one small panel per validation metric (``validation_*`` other than
    ``validation_loss``), each on its own y axis, the best epoch starred. Missing, None and
    non-finite values are skipped.
    """
    epochs: list[float] = []
    for index, entry in enumerate(history):
        epoch = _number(entry.get("epoch"))
        epochs.append(epoch if epoch is not None else float(index + 1))

    keys: list[str] = []
    for entry in history:
        for key in entry:
            if key not in keys:
                keys.append(key)

    def series(key: str) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        for epoch, entry in zip(epochs, history):
            value = _number(entry.get(key))
            if value is not None:
                xs.append(epoch)
                ys.append(value)
        return xs, ys

    components = [k for k in keys if k.startswith("train_") and k != "train_loss"]
    metrics = [k for k in keys if k.startswith("validation_") and k != "validation_loss"]
    metrics = [k for k in metrics if series(k)[0]]

    rows, cols = _grid_shape(len(metrics))
    fig = _new_figure(12, 4.2 + (2.6 * rows if metrics else 0))
    fig.suptitle(f"Training curves ({len(history)} epoch{'s' if len(history) != 1 else ''})")
    if metrics:
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.5, rows])
    else:
        top, bottom = fig, None

    ax_loss, ax_comp = top.subplots(1, 2)
    drawn = False
    for key, colour in (("train_loss", "#4c72b0"), ("validation_loss", "#dd8452")):
        xs, ys = series(key)
        if xs:
            ax_loss.plot(xs, ys, marker="o", markersize=4, color=colour, label=key.replace("_", " "))
            drawn = True
    if drawn:
        ax_loss.set(title="Total loss", xlabel="epoch", ylabel="loss")
        ax_loss.legend(loc="best", fontsize="small")
        ax_loss.grid(alpha=0.3)
        ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax_loss.set_title("Total loss")
        _no_data(ax_loss)

    drawn = False
    for key in components:
        xs, ys = series(key)
        if xs:
            ax_comp.plot(xs, ys, marker="o", markersize=3, label=key.removeprefix("train_"))
            drawn = True
    beta_x, beta_y = series("beta")
    if drawn or beta_x:
        ax_comp.set(title="Loss components (train)", xlabel="epoch", ylabel="loss term")
        ax_comp.grid(alpha=0.3)
        ax_comp.xaxis.set_major_locator(MaxNLocator(integer=True))
        handles, labels = ax_comp.get_legend_handles_labels()
        if beta_x:
            twin = ax_comp.twinx()
            (line,) = twin.plot(
                beta_x, beta_y, color="#555555", linestyle="--", marker=".", label="β (KL weight)"
            )
            twin.set_ylabel("β")
            handles.append(line)
            labels.append(line.get_label())
        if not drawn:
            ax_comp.set_yticks([])
        ax_comp.legend(handles, labels, loc="best", fontsize="small", framealpha=0.85)
    else:
        ax_comp.set_title("Loss components (train)")
        _no_data(ax_comp)

    if bottom is not None:
        bottom.suptitle("Validation metrics (each on its own scale; ★ = best epoch)", fontsize="medium")
        axes = np.atleast_1d(bottom.subplots(rows, cols, squeeze=False)).ravel()
        for ax, key in zip(axes, metrics):
            xs, ys = series(key)
            name = key.removeprefix("validation_")
            lower = _lower_is_better(name)
            ax.plot(xs, ys, marker="o", markersize=3, color="#55a868")
            best = int(np.argmin(ys) if lower else np.argmax(ys))
            ax.plot([xs[best]], [ys[best]], marker="*", markersize=12, color="#c44e52", linestyle="none")
            ax.set(title=f"{name} ({'↓' if lower else '↑'} better), best {ys[best]:.4g}", xlabel="epoch")
            ax.title.set_fontsize("small")
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)

    return _write_png(fig, path)


# --------------------------------------------------------------------------- modality weights


def plot_modality_weights(
    alpha: np.ndarray,
    modalities: Sequence[str],
    path: Path,
    *,
    timestamps: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
    title: str = "Modality weights over one user's history",
) -> Path:
    """Attention weights ``alpha`` [T, M] over one user's steps, stacked per modality.

    Stacked bars when T <= 40 (item ``labels`` and/or dates as sparse tick labels),
    a stacked area otherwise (x = dates when ``timestamps``, UTC epoch seconds, are given,
    else the step index). A modality that is all zero is marked "(absent)" in the legend.
    """
    weights = np.asarray(alpha, dtype=float)
    names = [str(m) for m in modalities]
    if weights.ndim != 2:
        raise ValueError(f"alpha must be a 2-D array [T, M]; got shape {weights.shape}")
    steps, width = weights.shape
    if width != len(names):
        raise ValueError(f"alpha has {width} modality columns but {len(names)} modality names were given")
    if steps == 0 or width == 0:
        raise ValueError(f"alpha must have at least one step and one modality; got shape {weights.shape}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("alpha contains NaN or infinite values")
    if np.any(weights < -1e-6):
        raise ValueError(f"alpha must be non-negative attention weights; minimum is {weights.min():.3g}")
    weights = np.clip(weights, 0.0, None)

    dates = None
    if timestamps is not None:
        ts = np.asarray(timestamps)
        if ts.shape != (steps,):
            raise ValueError(f"timestamps must have shape ({steps},) to match alpha; got {ts.shape}")
        ts = ts.astype("float64")
        if not np.all(np.isfinite(ts)):
            raise ValueError("timestamps contain NaN or infinite values")
        dates = np.round(ts).astype("int64").astype("datetime64[s]")
    if labels is not None and len(labels) != steps:
        raise ValueError(f"labels must have one entry per step ({steps}); got {len(labels)}")

    palette = [f"C{i % 10}" for i in range(width)]
    absent = ~np.any(weights > 0, axis=0)
    legend = [f"{name} (absent)" if gone else name for name, gone in zip(names, absent)]

    fig = _new_figure(max(8.0, min(14.0, 5 + 0.22 * steps)) if steps <= BAR_STEPS else 12.0, 4.8)
    ax = fig.subplots()
    if steps <= BAR_STEPS:
        x = np.arange(steps)
        bottom = np.zeros(steps)
        for m in range(width):
            ax.bar(
                x,
                weights[:, m],
                bottom=bottom,
                width=0.85,
                color=palette[m],
                label=legend[m],
                edgecolor="white",
                linewidth=0.4,
            )
            bottom = bottom + weights[:, m]
        stride = max(1, math.ceil(steps / MAX_TICKS))
        ticks = x[::stride]
        if labels is not None or dates is not None:
            tick_labels = []
            for t in ticks:
                parts = []
                if labels is not None:
                    parts.append(_shorten(labels[t]))
                if dates is not None:
                    parts.append(str(dates[t].astype("datetime64[D]")))
                tick_labels.append("\n".join(parts))
            ax.set_xticks(ticks, tick_labels, rotation=35, ha="right", fontsize="small")
            ax.set_xlabel(
                "step (item, date UTC)"
                if labels is not None and dates is not None
                else "step (item)"
                if labels is not None
                else "step (date, UTC)"
            )
        else:
            ax.set_xticks(ticks)
            ax.set_xlabel("step")
        ax.set_xlim(-0.6, steps - 0.4)
    else:
        if dates is not None:
            x = mdates.date2num(dates)
            ax.xaxis_date()
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.set_xlabel("date (UTC)")
        else:
            x = np.arange(steps)
            ax.set_xlabel("step")
        ax.stackplot(x, weights.T, colors=palette, labels=legend, alpha=0.9, linewidth=0)
        if x[-1] > x[0]:
            ax.set_xlim(x[0], x[-1])
    top = float(weights.sum(axis=1).max())
    ax.set_ylim(0, max(1.0, top) * 1.02)
    ax.set_ylabel("attention weight α")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="modality", fontsize="small")
    return _write_png(fig, path)


def plot_modality_weight_variation(
    alphas: Sequence[np.ndarray],
    modalities: Sequence[str],
    path: Path,
    *,
    user_labels: Sequence[str] | None = None,
    users: int = 3,
    title: str = "How the modality weights α vary (axes span α's range)",
) -> Path:
    """α per step as lines for the ``users`` longest histories (one panel each, a line per
    modality), and beside them each modality's distribution of α over every user's steps
    (box plots): flat α shows as flat lines and thin boxes, varying α as neither.

    ``alphas``: one [T_u, M] array per user.
    """
    names = [str(m) for m in modalities]
    arrays = [np.asarray(a, dtype=float) for a in alphas]
    if not names or not arrays:
        raise ValueError("need at least one user's α and one modality")
    for a in arrays:
        if a.ndim != 2 or a.shape[1] != len(names):
            raise ValueError(f"each α must be [T, {len(names)}]; got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError("alpha contains NaN or infinite values")
    if user_labels is not None and len(user_labels) != len(arrays):
        raise ValueError(f"user_labels must have one entry per user ({len(arrays)}); got {len(user_labels)}")
    everything = np.concatenate([a for a in arrays if len(a)])
    # The axes span what α does (not 0-1), so small movements stay visible; the titles say so.
    low, high = float(everything.min()), float(everything.max())
    pad = max(0.01, 0.05 * (high - low))
    span = (max(0.0, low - pad), min(1.0, high + pad))
    shown = [int(k) for k in np.argsort([-len(a) for a in arrays], kind="stable")[:max(1, users)] if len(arrays[k])]
    palette = [f"C{i % 10}" for i in range(len(names))]
    fig = _new_figure(14.0, 2.6 * max(1, len(shown)) + 0.6)
    grid = fig.add_gridspec(max(1, len(shown)), 2, width_ratios=[3, 1.3])
    for row, k in enumerate(shown):
        ax = fig.add_subplot(grid[row, 0])
        steps = np.arange(len(arrays[k]))
        for m, name in enumerate(names):
            ax.plot(steps, arrays[k][:, m], color=palette[m], label=name, linewidth=1.2)
        label = user_labels[k] if user_labels is not None else str(k)
        ax.set_title(f"user {label}", fontsize="small", loc="left")
        ax.set_ylim(*span)
        ax.set_ylabel("α")
        ax.grid(alpha=0.3)
        if row == len(shown) - 1:
            ax.set_xlabel("step of the user's newest window")
        if row == 0:
            ax.legend(loc="upper right", fontsize="x-small", ncol=len(names))
    ax = fig.add_subplot(grid[:, 1])
    boxes = ax.boxplot([everything[:, m] for m in range(len(names))], showfliers=False, patch_artist=True)
    for patch, colour in zip(boxes["boxes"], palette):
        patch.set_facecolor(colour)
        patch.set_alpha(0.6)
    ax.set_xticks(np.arange(1, len(names) + 1), names, rotation=30, fontsize="small")
    ax.set_ylim(*span)
    ax.set_title(f"α over all steps of {len(arrays)} users", fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    return _write_png(fig, path)


# --------------------------------------------------------------------------- latent map


def _embed(latents: np.ndarray, seed: int, method: str) -> tuple[np.ndarray, str]:
    """2-D coordinates for ``latents`` and the method actually used ("tsne", "pca" or "none")."""
    if method not in ("tsne", "pca"):
        raise ValueError(f"method must be 'tsne' or 'pca'; got {method!r}")
    data = np.asarray(latents, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"latents must be a 2-D array [U, D]; got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError("latents contain NaN or infinite values")
    count, dims = data.shape
    out = np.zeros((count, 2), dtype=np.float64)
    if count < 2 or dims == 0 or np.ptp(data, axis=0).max() == 0:
        return out, "none"  # nothing varies: every point at the origin
    if dims == 1:
        out[:, 0] = data[:, 0] - data[:, 0].mean()
        return out, "pca"
    if method == "tsne" and count >= 4:
        from sklearn.manifold import TSNE

        perplexity = max(1.0, min(30.0, (count - 1) / 3))
        tsne = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity)
        coords = tsne.fit_transform(data)
        if np.all(np.isfinite(coords)):
            return np.asarray(coords, dtype=np.float64), "tsne"
    from sklearn.decomposition import PCA

    components = min(2, count, dims)
    coords = PCA(n_components=components, random_state=seed).fit_transform(data)
    out[:, :components] = coords
    return out, "pca"


def embed_2d(latents: np.ndarray, *, seed: int = 0, method: str = "tsne") -> np.ndarray:
    """Map ``latents`` [U, D] to 2-D coordinates [U, 2].

    t-SNE (``init="pca"``, ``random_state=seed``, perplexity ``min(30, (U-1)/3)`` clipped to
    at least 1) or PCA for ``method="pca"``. Fewer than 4 points fall back to PCA; one
    dimension is placed on the x axis; a single point or identical points sit at the origin.
    """
    return _embed(latents, seed, method)[0]


def plot_latent_map(
    latents: np.ndarray,
    classes: Sequence[str],
    path: Path,
    *,
    seed: int = 0,
    method: str = "tsne",
    title: str = _DEFAULT_LATENT_TITLE,
) -> Path:
    """Scatter of the users' latents embedded in 2-D, coloured by class.

    The 9 most common classes get their own colour; the rest share a grey "other". More than
    5000 users are subsampled deterministically (``seed``) to 5000.
    """
    data = np.asarray(latents, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"latents must be a 2-D array [U, D]; got shape {data.shape}")
    names = np.array(["(none)" if c is None else str(c) for c in classes], dtype=object)
    if len(names) != data.shape[0]:
        raise ValueError(f"classes must have one entry per user ({data.shape[0]}); got {len(names)}")
    total = data.shape[0]
    if total > MAX_MAP_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(total, size=MAX_MAP_POINTS, replace=False))
        data, names = data[keep], names[keep]
    coords, used = _embed(data, seed, method)

    counts = Counter(names.tolist())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = [name for name, _ in ranked[:TOP_CLASSES]]
    others = ~np.isin(names, top) if len(names) else np.zeros(0, dtype=bool)

    if title == _DEFAULT_LATENT_TITLE and used != "tsne":
        title = title.replace("t-SNE", "PCA" if used == "pca" else "no embedding: points do not vary")
    axis_name = {"tsne": "t-SNE", "pca": "PCA"}.get(used, "dim")
    size = 28 if len(names) <= 300 else 12 if len(names) <= 2000 else 5

    fig = _new_figure(9.5, 7)
    ax = fig.subplots()
    if others.any():
        n_other = int(others.sum())
        ax.scatter(
            coords[others, 0],
            coords[others, 1],
            s=size,
            color=_OTHER_COLOUR,
            alpha=0.6,
            linewidths=0,
            label=f"other ({len(counts) - len(top)} classes, {n_other})",
        )
    for i, name in enumerate(top):
        mask = names == name
        ax.scatter(
            coords[mask, 0],
            coords[mask, 1],
            s=size,
            color=f"C{i}",
            alpha=0.8,
            linewidths=0,
            label=f"{_shorten(name, 28)} ({int(mask.sum())})",
        )
    if len(names) == 0:
        _no_data(ax, "no users")
    ax.set(xlabel=f"{axis_name} 1", ylabel=f"{axis_name} 2")
    shown = (
        f"{len(names)} of {total} users" if total > len(names) else f"{total} user{'s' if total != 1 else ''}"
    )
    ax.set_title(f"{title}\n{shown}")
    ax.grid(alpha=0.2)
    if len(names):
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            title="dominant class",
            fontsize="small",
            markerscale=max(1.0, 28 / size) ** 0.5,
        )
    return _write_png(fig, path)


# --------------------------------------------------------------------------- model comparison


def plot_metric_comparison(
    rows: Sequence[Mapping[str, object]],
    metrics: Sequence[str],
    path: Path,
    *,
    title: str = "Models on the same split",
) -> Path:
    """One horizontal bar panel per metric (small multiples), model names on the y axis.

    Missing or None values get no bar ("n/a"); the best model per metric is highlighted.
    """
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics must name at least one metric to plot")
    models = [str(row.get("model") or f"model {i + 1}") for i, row in enumerate(rows)]
    n_rows, n_cols = _grid_shape(len(metrics))
    fig = _new_figure(max(7.0, 3.4 * n_cols + 1.5), 0.9 + n_rows * max(2.4, 0.36 * len(models) + 1.0))
    fig.suptitle(title)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True).ravel()
    y = np.arange(len(models))
    for ax, metric in zip(axes, metrics):
        values = [_number(row.get(metric)) for row in rows]
        lower = _lower_is_better(metric)
        ax.set_title(f"{metric} ({'↓' if lower else '↑'} better)", fontsize="medium")
        present = [(i, v) for i, v in enumerate(values) if v is not None]
        if models:
            ax.set_yticks(y, models)
            ax.set_ylim(len(models) - 0.5, -0.5)  # first row on top
        if not present:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, color="#777777")
            ax.set_xticks([])
            continue
        best = (min if lower else max)(present, key=lambda iv: iv[1])[0]
        idx = [i for i, _ in present]
        vals = [v for _, v in present]
        colours = ["#c44e52" if i == best else "#4c72b0" for i in idx]
        ax.barh(idx, vals, color=colours, height=0.7)
        span = max(abs(v) for v in vals) or 1.0
        for i, v in present:
            ax.text(v, i, f" {v:.4g} ", va="center", ha="left" if v >= 0 else "right", fontsize="small")
        for i, v in enumerate(values):
            if v is None:
                ax.text(0, i, " n/a", va="center", ha="left", fontsize="small", color="#777777")
        lo, hi = min(0.0, min(vals)), max(0.0, max(vals))
        ax.set_xlim(lo - (0.25 * span if lo < 0 else 0), hi + (0.25 * span if hi > 0 else 0.05 * span))
        ax.axvline(0, color="#333333", linewidth=0.6)
        ax.set_xlabel(metric)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    return _write_png(fig, path)
