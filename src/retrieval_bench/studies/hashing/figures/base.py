"""What the hashing study's figures share: the first seed's runs of the rows on the figure's protocol, a
reference drawn dashed and its LDPH solid in the same colour (the authors' demo.m)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.figures import FigureKind
from retrieval_bench.studies.hashing import plan

GT_NAMES = {"knn": "Euclidean k-NN", "label": "class labels"}


class VectorHashingFigure(FigureKind):
    def runs(self, config, figure):
        return plan.runs(config, config["figures"][figure], seeds=[config["seeds"][0]])

    def inputs(self, config, figure):
        return sorted({f"{plan.run_dir(config, r.protocol, r.seed, r.configuration)}/curves.csv"
                       for r in self.runs(config, figure)})

    def curves(self, config, runs, bits: int | None, curve: str) -> pd.DataFrame:
        """The runs' `curve` rows (ranking or lookup), at `bits` (all code lengths where None)."""
        frames = []
        for run in runs:
            data = pd.read_csv(f"{plan.run_dir(config, run.protocol, run.seed, run.configuration)}/curves.csv")
            if data.empty:
                continue
            data = data[(data["curve"] == curve) & ((data["bits"] == bits) if bits is not None else True)]
            frames.append(data.assign(row=run.row, dataset=plan.vectors_block(config, run.protocol)["name"],
                                      seed=run.seed))
        return pd.concat(frames, ignore_index=True)


def style(config, row: str, rows: list[str]) -> dict:
    """A learning row (LDPH) solid in its reference's colour; a reference dashed."""
    reference = plan.reference_of(config, row) if row in config["configurations"] else None
    base = reference or row
    bases = list(dict.fromkeys(plan.reference_of(config, r) or r if r in config["configurations"] else r
                               for r in rows))
    colour = f"C{bases.index(base) % 10}" if base in bases else None
    return {"color": colour, "linestyle": "-" if reference else "--"}


def panels_per_ground_truth(config, data: pd.DataFrame, x: str, y: str, title: str, marker: str | None = None,
                            **axis):
    """A panel per ground truth of `data` (columns gt, row, x, y), a line per row styled by `style`."""
    from retrieval_bench.core.figures import pyplot

    plt = pyplot()
    gts = [g for g in GT_NAMES if g in set(data["gt"])]
    rows = list(dict.fromkeys(data["row"]))
    fig, axes = plt.subplots(1, len(gts), figsize=(4.6 * len(gts), 3.9), squeeze=False)
    for ax, gt in zip(axes[0], gts):
        for row, line in data[data["gt"] == gt].groupby("row", sort=False):
            ax.plot(line[x], line[y], label=row, marker=marker, **style(config, row, rows))
        ax.set(title=f"{title}, {GT_NAMES[gt]}", **axis)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
