"""Dataset statistics as a PNG: sequence lengths, activity over time, actions, classes (counted by
:mod:`timgen_data.dataset.statistics`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen; and the Agg backend renders identically run to run
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_statistics(lengths: np.ndarray, per_month: pd.Series, actions: pd.Series, classes: pd.Series,
                    path: Path) -> None:
    """Write a 2×2 panel of dataset statistics to ``path``.

    ``lengths``: interactions per user; ``per_month``: interactions per month ("1999-12"),
    in order; ``actions``: interactions per action; ``classes``: per class, the bars in order.
    """
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    ax = axes[0, 0]
    ax.hist(lengths, bins=min(50, max(1, len(np.unique(lengths)))), color="#4c72b0")
    ax.set(title="interactions per user", xlabel="sequence length", ylabel="users")
    ax.set_yscale("log")
    ax = axes[0, 1]
    ax.plot(range(len(per_month)), per_month.to_numpy(), color="#55a868")
    ticks = np.linspace(0, len(per_month) - 1, num=min(6, len(per_month)), dtype=int)
    ax.set_xticks(ticks, [per_month.index[t] for t in ticks], rotation=30)
    ax.set(title="interactions per month (UTC)", ylabel="interactions")
    ax = axes[1, 0]
    ax.bar(actions.index, actions.to_numpy(), color="#c44e52")
    ax.set(title="actions")
    ax = axes[1, 1]
    ax.barh(classes.index, classes.to_numpy(), color="#8172b2")
    ax.set(title="classes (top 15)")
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
