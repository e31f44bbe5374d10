"""The chapter 5 figures as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from incremental_retrieval import plan  # noqa: E402
from incremental_retrieval.extract import load_features  # noqa: E402
from incremental_retrieval.io import atomic_path  # noqa: E402
from incremental_retrieval.metrics import precision_recall_curve  # noqa: E402


def build_figure(config: dict, figure: str, out: Path) -> None:
    spec = config["figures"][figure]
    runs = plan.figure_runs(config, figure)
    draw = {"pr_curves": pr_curves, "map_per_epoch": map_per_epoch, "epoch_time": epoch_time, "tsne": tsne}
    fig = draw[spec["kind"]](config, runs)
    fig.suptitle(f"{figure.replace('_', ' ')} ({config['scale']} scale, protocol {spec['protocol']})", fontsize=10)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def pr_curves(config, runs):
    """Figs. 5.3/5.4 (a, b): precision-recall on the old and on the new classes."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for run in runs:
        folder = Path(plan.features_dir(config, run))
        for ax, group in zip(axes, (0, run.task)):
            data = load_features(folder / f"group{group}.npz")
            recall, precision = precision_recall_curve(data["features"], data["labels"])
            ax.plot(recall, precision, label=run.row)
    for ax, title in zip(axes, ("old classes", "new classes")):
        ax.set(title=title, xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    return fig


def _history(config, run):
    from incremental_retrieval.models import load_checkpoint

    return load_checkpoint(Path(plan.trained_model(config, run)))["history"]


def map_per_epoch(config, runs):
    """Figs. 5.3/5.4 (c): old-class mAP after every epoch of the incremental task."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        points = [(h["epoch"], 100 * h["old_map"]) for h in _history(config, run) if "old_map" in h]
        if not points:  # Snakemake reruns a run that becomes a row; a model made otherwise lacks the curve
            raise ValueError(f"{plan.trained_model(config, run)} has no old-class mAP curve (it was trained while "
                             f"not a row of this figure); retrain it: snakemake --forcerun "
                             f"{plan.trained_model(config, run)}")
        ax.plot(*zip(*points), marker=".", label=run.row)
    ax.set(xlabel="epoch of incremental training", ylabel="mAP on the old classes (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def epoch_time(config, runs):
    """Figs. 5.3/5.4 (d): mean training time per epoch (joint: on all classes)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    seconds = [np.mean([h["seconds"] for h in _history(config, run) if "seconds" in h]) for run in runs]
    ax.bar([run.row for run in runs], seconds, color="tab:blue")
    ax.set(ylabel="seconds per epoch")
    ax.tick_params(axis="x", rotation=30)
    return fig


def tsne(config, runs, n_classes: int = 6):
    """Fig. 5.5: t-SNE of old-class features of the base model (circles) and
    of each row's model (triangles), e.g. without and with the MMD loss."""
    from sklearn.manifold import TSNE

    base, *rows = runs
    reference = load_features(Path(plan.features_dir(config, base)) / "group0.npz")
    classes = np.unique(reference["labels"])[:n_classes]
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 4.5), squeeze=False)
    colours = plt.cm.tab10(np.arange(n_classes))
    for ax, run in zip(axes[0], rows):
        trained = load_features(Path(plan.features_dir(config, run)) / "group0.npz")
        keep_a, keep_b = np.isin(reference["labels"], classes), np.isin(trained["labels"], classes)
        points = np.concatenate([reference["features"][keep_a], trained["features"][keep_b]])
        embedded = TSNE(n_components=2, perplexity=min(30, len(points) // 4), random_state=0,
                        init="pca").fit_transform(points)
        n_a = int(keep_a.sum())
        for c, colour in zip(classes, colours):
            a = reference["labels"][keep_a] == c
            b = trained["labels"][keep_b] == c
            ax.scatter(*embedded[:n_a][a].T, marker="o", s=14, color=colour, alpha=0.6)
            ax.scatter(*embedded[n_a:][b].T, marker="^", s=14, color=colour, alpha=0.9)
        ax.set(title=f"{run.row}: base (o) vs trained (^)", xticks=[], yticks=[])
    return fig
