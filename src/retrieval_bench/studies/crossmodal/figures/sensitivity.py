"""Fig. 3.4: the sensitivity of the method to each weight of Eq. 3.7 (α, β, γ, η, ε): I2T and T2I mAP
against the weight (log axis), the others at their defaults; a panel per weight, the chosen value marked;
first seed.  A row is a configuration that differs from the figure's `default` row in one weight."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core import registry
from retrieval_bench.core.config import method_of, rows_of
from retrieval_bench.core.figures import FigureKind
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.crossmodal import plan
from retrieval_bench.studies.crossmodal.figures import pyplot

WEIGHTS = ("alpha", "beta", "gamma", "eta", "epsilon")
SYMBOLS = {"alpha": "α (L_d)", "beta": "β (L_pairs)", "gamma": "γ (L_l)", "eta": "η (L_m)", "epsilon": "ε (L_q)"}


def swept_weight(config: dict, configuration: str, default: str) -> tuple[str, float] | None:
    """(the weight `configuration` changes, its value) against `default`; None for the default itself."""
    _, mine = method_of(config, configuration)
    _, base = method_of(config, default)
    defaults = registry.method_class(method_of(config, default)[0]).DEFAULTS
    differ = [k for k in set(mine) | set(base) if mine.get(k, defaults.get(k)) != base.get(k, defaults.get(k))]
    if not differ:
        return None
    if len(differ) != 1 or differ[0] not in WEIGHTS:
        raise ValueError(f"configuration {configuration!r} differs from {default!r} in {sorted(differ)}; a "
                         f"sensitivity row changes exactly one of {list(WEIGHTS)}")
    return differ[0], float(mine.get(differ[0], defaults[differ[0]]))


class Sensitivity(FigureKind):
    name = "sensitivity"
    label = "Loss weights"
    caption = ("mAP of both directions against each weight of Eq. 3.7, the others at their defaults (first "
               "seed); the default value marked")
    options = {"bits": {"type": "integer", "minimum": 1, "description": "sensitivity: the code length"},
               "default": {"type": "string", "description": "sensitivity: the configuration every row differs "
                           "from in one weight"}}

    def check(self, config, where, spec):
        for key in ("bits", "default"):
            if key not in spec:
                raise ValueError(f"{where}.{key}: missing")
        for row in rows_of(spec):
            try:
                swept_weight(config, row["configuration"], spec["default"])
            except ValueError as e:
                raise ValueError(f"{where}.rows: {e}") from None

    def runs(self, config, figure):
        spec = config["figures"][figure]
        rows = [{"id": spec["default"], "configuration": spec["default"]}, *spec["rows"]]
        return plan.table_runs(config, {**spec, "rows": rows, "bits": [spec["bits"]]}, seeds=[config["seeds"][0]])

    def inputs(self, config, figure):
        return sorted({plan.metrics_path(config, run) for run in self.runs(config, figure)})

    def draw(self, config, spec, runs):
        plt = pyplot()
        method, base = method_of(config, spec["default"])
        defaults = {**registry.method_class(method).DEFAULTS, **base}
        records = []
        for run in runs:
            metrics = read_json(plan.metrics_path(config, run))
            swept = swept_weight(config, run.configuration, spec["default"])
            for weight in ([swept[0]] if swept else WEIGHTS):  # the default point sits on every panel
                value = swept[1] if swept else float(defaults[weight])
                records += [{"weight": weight, "value": value, "configuration": run.configuration,
                             "direction": d, "seed": run.seed, "map": 100 * metrics[d]["map"],
                             "default": swept is None} for d in ("image_to_text", "text_to_image")]
        data = pd.DataFrame(records).sort_values(["weight", "direction", "value"], kind="stable")
        weights = [w for w in WEIGHTS if w in set(data["weight"])]
        fig, axes = plt.subplots(1, len(weights), figsize=(3.4 * len(weights), 3.4), squeeze=False, sharey=True)
        for ax, weight in zip(axes[0], weights):
            mine = data[data["weight"] == weight]
            for direction, line in mine.groupby("direction", sort=False):
                ax.plot(line["value"], line["map"], marker="o", label=direction.replace("_", "-"))
            chosen = mine[mine["default"]]
            ax.scatter(chosen["value"], chosen["map"], s=90, facecolors="none", edgecolors="k", zorder=3)
            ax.set(xscale="log", xlabel=SYMBOLS[weight], title=f"{SYMBOLS[weight]} (default circled)")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(f"mAP (%), {spec['bits']} bits")
        axes[0][0].legend(fontsize=7)
        return fig, data


KIND = Sensitivity()
