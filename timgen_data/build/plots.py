"""Dataset statistics as a PNG: sequence lengths, activity over time, actions, classes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen; and the Agg backend renders identically run to run
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_statistics(frame: pd.DataFrame, lengths: np.ndarray, path: Path) -> None:
    """Write a 2×2 panel of dataset statistics to ``path``."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    ax = axes[0, 0]
    ax.hist(lengths, bins=min(50, max(1, len(np.unique(lengths)))), color="#4c72b0")
    ax.set(title="interactions per user", xlabel="sequence length", ylabel="users")
    ax.set_yscale("log")
    ax = axes[0, 1]
    months = frame["ts"].to_numpy(dtype="int64").astype("datetime64[s]").astype("datetime64[M]")
    values, counts = np.unique(months, return_counts=True)
    per_month = pd.Series(counts, index=[str(v) for v in values])
    ax.plot(range(len(per_month)), per_month.to_numpy(), color="#55a868")
    ticks = np.linspace(0, len(per_month) - 1, num=min(6, len(per_month)), dtype=int)
    ax.set_xticks(ticks, [per_month.index[t] for t in ticks], rotation=30)
    ax.set(title="interactions per month (UTC)", ylabel="interactions")
    ax = axes[1, 0]
    actions = frame["action"].value_counts().sort_index()
    ax.bar(actions.index, actions.to_numpy(), color="#c44e52")
    ax.set(title="actions")
    ax = axes[1, 1]
    classes = frame["class"].fillna("(none)").value_counts().head(15).sort_values()
    ax.barh(classes.index, classes.to_numpy(), color="#8172b2")
    ax.set(title="classes (top 15)")
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
