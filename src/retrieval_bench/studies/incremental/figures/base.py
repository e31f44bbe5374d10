"""What the incremental study's figure kinds share: the runs of their rows
(after the protocol's last task, first seed), and helpers over those runs'
metrics, checkpoints and features."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval_bench.core.config import rows_of, scale_block
from retrieval_bench.core.figures import FigureKind, pyplot  # noqa: F401  (the kinds import pyplot from here)
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.measures import accuracy_matrix, sample_gram
from retrieval_bench.vision.extract import load_features

TOP = 6  # retrieved images shown per query (Figs. 6.12-6.16)
REFERENCE_OPTION = {"reference": {
    "type": "string", "description": "a configuration whose final model (the protocol's last task) is shown as the "
                                     "reference / upper bound, e.g. joint training"}}


class RunFigure(FigureKind):
    """A figure of its rows' runs after their protocol's last task (first seed), and the `reference`
    configuration's final model last; it reads their features unless it says otherwise."""

    def runs(self, config, figure):
        spec = config["figures"][figure]
        runs = plan.rows_runs(config, spec, "figure", seeds=[config["seeds"][0]])
        return runs + self.reference_runs(config, spec, [config["seeds"][0]])

    @staticmethod
    def reference_runs(config, spec, seeds) -> list:
        if "reference" not in spec:
            return []
        last = plan.last_task(config, spec["protocol"])
        return [plan.Run(plan.REFERENCE, spec["protocol"], s, spec["reference"], last) for s in seeds]

    def inputs(self, config, figure):
        return list(dict.fromkeys(self.paths(config, figure)))

    def paths(self, config, figure) -> list[str]:
        return [plan.features_dir(config, run) for run in self.runs(config, figure)]

    def check(self, config, where, spec):
        if any(row["id"] == plan.REFERENCE for row in rows_of(spec)) and "reference" in spec:
            raise ValueError(f"{where}.rows: the row id 'reference' names the `reference` configuration")


class CurveFigure(RunFigure):
    """Figures drawn from the metrics of every task of every row, from the shared base model on (Figs. 6.7-6.11)."""

    def runs(self, config, figure):
        spec = config["figures"][figure]
        seed = config["seeds"][0]
        runs = plan.rows_runs(config, spec, "multi_step", seeds=[seed])
        bases = dict.fromkeys(run.protocol for run in runs)
        runs = [plan.Run("base", p, seed, "base", 0) for p in bases] + [r for r in runs if r.configuration != "base"]
        return runs + self.reference_runs(config, spec, [seed])

    def paths(self, config, figure):
        return [plan.metrics_path(config, run) for run in self.runs(config, figure)]


def run_columns(run) -> dict:
    return {"row": run.row, "configuration": run.configuration, "task": run.task}


def checkpoint(config, run) -> dict:
    from retrieval_bench.vision.models import load_checkpoint

    return load_checkpoint(Path(plan.trained_model(config, run)))


def retrain_error(config, run, what: str) -> ValueError:
    # Snakemake reruns a run that becomes a row; a model made otherwise lacks what the figure plots
    return ValueError(f"{plan.trained_model(config, run)} has no {what} (it was trained while not a row of this "
                      f"figure); retrain it: snakemake --forcerun {plan.trained_model(config, run)}")


def row_runs(runs) -> list:
    """The runs of the figure's rows (not the base models, not the reference)."""
    return [run for run in runs if run.row != plan.REFERENCE and run.configuration != "base"]


def reference_run(runs):
    return next((run for run in runs if run.row == plan.REFERENCE), None)


def row_ids(runs) -> list[str]:
    return list(dict.fromkeys(run.row for run in row_runs(runs)))


def groups_of(config, run) -> dict[int, dict]:
    return {int(g): values for g, values in read_json(plan.metrics_path(config, run))["groups"].items()}


def accuracy(config, runs, row: str, metric: str) -> np.ndarray:
    """a[t, g] in percent: `metric` on class group g after task t of `row`,
    task 0 being the shared base model; NaN where no model was evaluated."""
    mine = [run for run in row_runs(runs) if run.row == row]
    protocol = mine[0].protocol
    base = next(run for run in runs if run.configuration == "base" and run.task == 0 and run.protocol == protocol)
    return accuracy_matrix({run.task: groups_of(config, run) for run in [base, *mine]}, metric,
                           plan.last_task(config, protocol))


def group_names(config, protocol: str) -> list[str]:
    """'cls (1-100)', 'cls (101-125)', ...: the thesis's class-group labels."""
    bounds = np.cumsum([0, *scale_block(config)["protocols"][protocol]["groups"]])
    return [f"cls ({lo + 1}-{hi})" for lo, hi in zip(bounds[:-1], bounds[1:])]


def configuration_of(runs, row: str) -> str:
    return next(run.configuration for run in runs if run.row == row)


def reference_label(run) -> str:
    return f"reference ({run.configuration})"


def old_class_gram(config, run):
    """(Gram matrix, labels) of the fixed old-class sample from a model's saved group-0 test features."""
    data = load_features(Path(plan.features_dir(config, run)) / "group0.npz")
    return sample_gram(data["features"], data["labels"])


def gram_records(key: dict, gram, labels, value: str = "gram") -> list[dict]:
    n = len(labels)
    return [{**key, "i": i, "j": j, "label_i": int(labels[i]), "label_j": int(labels[j]), value: float(gram[i, j])}
            for i in range(n) for j in range(n)]


def heat_map(ax, gram, vmin, vmax, title):
    image = ax.imshow(gram, cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set(title=title, xticks=[], yticks=[])
    ax.title.set_fontsize(8)
    return image


def class_name(name: str) -> str:
    """'052.Pied_billed_Grebe' -> 'Pied billed Grebe'."""
    head, _, rest = str(name).partition(".")
    return (rest if head.isdigit() and rest else str(name)).replace("_", " ")
