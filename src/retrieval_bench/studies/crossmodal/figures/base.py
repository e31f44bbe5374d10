"""What chapter 4's figure kinds share: their runs are a figure's rows (each with its thesis backbone) on its
protocol, for every seed (or the figure's own `seeds`), read from the runs' folders."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.figures import FigureKind
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.crossmodal import plan

DIRECTION_NAMES = {"i2t": "image-to-text", "t2i": "text-to-image"}


class SentenceFigure(FigureKind):
    """A chapter 4 figure: `reads` is the file of a run folder it draws from."""

    reads = "metrics.json"
    first_seed_only = False
    row_options = plan.BACKBONE_ROW_OPTION

    def check(self, config, where, spec):
        plan.check_backbones(config, where, spec)

    def runs(self, config, figure):
        spec = config["figures"][figure]
        seeds = spec.get("seeds") or config["seeds"]
        return plan.sentence_runs(config, spec, seeds[:1] if self.first_seed_only else seeds)

    def inputs(self, config, figure):
        return sorted({f"{plan.sentence_run_dir(config, run)}/{self.reads}" for run in self.runs(config, figure)})

    @staticmethod
    def metrics(config, run) -> dict:
        return read_json(f"{plan.sentence_run_dir(config, run)}/metrics.json")

    @staticmethod
    def history(config, run) -> pd.DataFrame:
        return pd.read_csv(f"{plan.sentence_run_dir(config, run)}/history.csv")

    @staticmethod
    def group(config, run) -> str:
        """The evaluation group a figure shows: the protocol's (its 1K mean where it has folds)."""
        return plan.groups_of(config, run.protocol)[0]


def epoch_curves(plt, frame: pd.DataFrame, panels: dict[str, str], references: dict[str, float] | None = None):
    """A panel per column of `frame` named in `panels` (column -> title): its mean over seeds per epoch, a
    curve per configuration, a dashed line at the column's reference value where given."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, (column, title) in zip(axes[0], panels.items()):
        for row, part in frame.groupby("configuration", sort=False):
            mean = part.groupby("epoch")[column].mean()
            ax.plot(mean.index, mean.to_numpy(), marker=".", label=row)
        if references and column in references:
            ax.axhline(references[column], color="grey", lw=0.8, ls="--")
        ax.set(xlabel="epoch", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
