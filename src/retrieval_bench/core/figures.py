"""The thesis's figures as PNG files (matplotlib, no display needed), each
with the numbers it plots as a long-form CSV beside it.

A figure kind is one object (`FigureKind`, one file in a study's figures/):
its caption, options, the runs and files it reads, and how it draws.  The
engine here titles, saves and writes every kind the same way.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from retrieval_bench.core import registry
from retrieval_bench.core.io import atomic_path


class FigureKind:
    """One kind of figure.  Subclasses set the attributes, `runs`, `inputs` and `draw`."""

    name = ""
    study = ""              # set by the registry
    label = ""              # a short heading (the report's subcategory)
    caption = ""            # what a figure of this kind shows
    options: dict = {}      # figure keys this kind reads -> their JSON schema (with a description)
    row_options: dict = {}  # row keys it reads (figures plot whole chains: none so far)
    needs_rows = True
    monitors_training = False  # its rows record old-class numbers while they train (Figs. 5.3c, 6.6)
    # (key columns, value column) of its data CSV where claims are judged on it (a figure's numbers
    # as a table: a row per point, a column per seed); None: no claim reads it
    claim_data: tuple[list[str], str] | None = None

    def check(self, config: dict, where: str, spec: dict) -> None:
        """What the schema cannot say about a figure of this kind (raise ValueError naming `where`)."""

    def runs(self, config: dict, figure: str) -> list:
        raise NotImplementedError

    def inputs(self, config: dict, figure: str) -> list[str]:
        raise NotImplementedError

    def draw(self, config: dict, spec: dict, runs: list):
        """(matplotlib figure, the plotted numbers as a DataFrame)."""
        raise NotImplementedError


def pyplot():
    """matplotlib's pyplot on the Agg backend, imported when a figure is drawn (not when kinds are listed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_kind_of(config: dict, figure: str) -> FigureKind:
    return registry.figure_kind(config["figures"][figure]["kind"])


def figure_output(config: dict, figure: str) -> str:
    return f"reports/{config['scale']}/figures/{figure}.png"


def build_figure(config: dict, figure: str, out: Path, csv: Path | None = None) -> None:
    """Draw `figure` to `out` (PNG) and write its plotted numbers to `csv`
    (default: beside the PNG); both appear only once both are complete."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = config["figures"][figure]
    kind = figure_kind_of(config, figure)
    fig, data = kind.draw(config, spec, kind.runs(config, figure))
    fig.suptitle(f"{figure.replace('_', ' ')} ({config['scale']} scale, protocol {spec['protocol']})", fontsize=10)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    out = Path(out)
    with contextlib.ExitStack() as stack:
        png, table = (stack.enter_context(atomic_path(p)) for p in (out, csv or out.with_suffix(".csv")))
        fig.savefig(png, format="png", dpi=110)
        data.to_csv(table, index=False, float_format="%.10g")  # 55.00000000000001 -> 55
    plt.close(fig)
