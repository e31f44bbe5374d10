"""Where every artefact lives and which runs a table or figure needs.

The Snakefile and the CLI both use these functions, so a path is spelt in
one place.  A run is (protocol, seed, configuration, task): task 0 of the
configuration `base` is the initial model A shared by every method (and by
every protocol with the same dataset, split and original classes); task t of
a method starts from its task t - 1 (task 0 being the base model); joint task
t is trained on groups 0..t at once from the pretrained trunk.
"""

from __future__ import annotations

from typing import NamedTuple

from incremental_retrieval.config import method_of, rows_of, scale_block


class Run(NamedTuple):
    row: str            # the row id in the table (the thesis's name for it)
    protocol: str
    seed: int
    configuration: str
    task: int


def dataset_manifest(config: dict, dataset: str) -> str:
    return f"data/{config['scale']}/{dataset}/manifest.csv"


def decoded_images(config: dict, dataset: str) -> str:
    """A dataset's decoded-image cache folder (`training.pipeline: decoded`)."""
    return f"data/{config['scale']}/{dataset}/decoded"


def image_inputs(config: dict, protocol: str) -> list[str]:
    """What a protocol's training and evaluation jobs read images from besides
    the split: the dataset's decoded-image cache under `training.pipeline:
    decoded`; nothing for `pil` (the files the manifest names) and `memory`."""
    block = scale_block(config)
    if block["training"]["pipeline"] != "decoded":
        return []
    return [decoded_images(config, block["protocols"][protocol]["dataset"])]


def job_threads(config: dict) -> int:
    """CPUs of a training or evaluation job: torch's threads, plus the
    DataLoader's worker processes where the pipeline has them (`pil`)."""
    training = scale_block(config)["training"]
    return training["threads"] + (training["workers"] if training["pipeline"] == "pil" else 0)


def split_manifest(config: dict, protocol: str) -> str:
    return f"data/{config['scale']}/splits/{protocol}.csv"


def pretrained_weights(config: dict) -> str:
    block = scale_block(config)
    if "dataset" in block["pretraining"]:
        return f"results/{config['scale']}/pretrained/{block['backbone']}.pt"
    from incremental_retrieval.models.weights import weights_filename

    return f"data/weights/{weights_filename(block['backbone'])}"


def last_task(config: dict, protocol: str) -> int:
    return len(scale_block(config)["protocols"][protocol]["groups"]) - 1


def base_protocol(config: dict, protocol: str) -> str:
    """The protocol whose base model `protocol` shares: the first one with the
    same dataset, split, original classes and base loss (so A(1-100) is
    trained once for the 25-, 100- and 4 x 25-class experiments, and chapter
    6's triplet-only f_0 apart from chapter 5's L_ce + L_triplet base)."""
    protocols = scale_block(config)["protocols"]

    def key(p: dict):
        return p["dataset"], p["split"], p["groups"][0], p.get("base_semantic")

    for name, other in protocols.items():
        if key(other) == key(protocols[protocol]):
            return name
    return protocol


def run_key(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """`<protocol>/seed<seed>/<configuration>/task<task>`: one run, in every results tree."""
    if configuration == "base":
        protocol = base_protocol(config, protocol)
    return f"{protocol}/seed{seed}/{configuration}/task{task}"


def run_dir(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    return f"results/{config['scale']}/{run_key(config, protocol, seed, configuration, task)}"


def trains(config: dict, configuration: str) -> bool:
    from incremental_retrieval.methods import METHODS

    return configuration == "base" or METHODS[method_of(config, configuration)[0]].trains


def model_path(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """The model a run is evaluated with (a non-training method uses the base model)."""
    if not trains(config, configuration):
        configuration, task = "base", 0
    return f"{run_dir(config, protocol, seed, configuration, task)}/model.pt"


def init_path(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """What a training run starts from."""
    method, _ = method_of(config, configuration)
    if task == 0 or method == "joint":
        return pretrained_weights(config)
    previous = "base" if task == 1 else configuration
    return model_path(config, protocol, seed, previous, task - 1)


def metrics_path(config: dict, run: Run) -> str:
    """Metrics live in a tree of their own (DVC shows results/<scale>/metrics as its metrics)."""
    return f"results/{config['scale']}/metrics/{run_key(config, run.protocol, run.seed, run.configuration, run.task)}.json"


def features_dir(config: dict, run: Run) -> str:
    return f"{run_dir(config, run.protocol, run.seed, run.configuration, run.task)}/features"


def trained_model(config: dict, run: Run) -> str:
    return model_path(config, run.protocol, run.seed, run.configuration, run.task)


def checkpoint_dir(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    # Outside the declared outputs: Snakemake does not delete it when a job fails.
    return f"checkpoints/{config['scale']}/{protocol}/seed{seed}/{configuration}/task{task}"


def runs_of(config: dict, spec: dict, kind: str, seeds=None) -> list[Run]:
    """Every run a table or figure reads.

    one_step: base after task 0, every other row after its protocol's last
    task; multi_step and classification: every task of every row (the joint
    reference only after the last); figures: the last task.
    """
    runs = []
    for seed in seeds if seeds is not None else config["seeds"]:
        for row in rows_of(spec):
            last = last_task(config, row["protocol"])
            if row["configuration"] == "base":
                tasks = [0]
            elif kind in ("multi_step", "classification") and method_of(config, row["configuration"])[0] != "joint":
                tasks = range(1, last + 1)
            else:
                tasks = [last]
            runs += [Run(row["id"], row["protocol"], seed, row["configuration"], t) for t in tasks]
        if kind == "classification" and not any(r["configuration"] == "base" for r in rows_of(spec)):
            runs.append(Run("base", spec["protocol"], seed, "base", 0))  # the first column: no increment yet
    return runs


def table_runs(config: dict, table: str) -> list[Run]:
    spec = config["tables"][table]
    return runs_of(config, spec, spec.get("kind", "one_step"))


def table_inputs(config: dict, table: str) -> list[str]:
    spec = config["tables"][table]
    if spec.get("kind") == "statistics":
        return [split_manifest(config, p) for p in spec["protocols"]]
    return sorted({metrics_path(config, run) for run in table_runs(config, table)})


def figure_runs(config: dict, figure: str) -> list[Run]:
    spec = config["figures"][figure]
    runs = runs_of(config, spec, "figure", seeds=config["seeds"][:1])
    if spec["kind"] == "tsne":
        runs.insert(0, Run("base", spec["protocol"], config["seeds"][0], "base", 0))
    return runs


def monitored(config: dict, protocol: str, seed: int, configuration: str, task: int) -> bool:
    """Whether a run records old-class mAP during training: only the runs a
    `map_per_epoch` figure plots (each monitoring pass embeds the old-class
    test set; at mini scale that was 2 s of a 16 s job, paid by every run)."""
    key = run_key(config, protocol, seed, configuration, task)
    return any(run_key(config, run.protocol, run.seed, run.configuration, run.task) == key
               for figure, spec in config.get("figures", {}).items() if spec["kind"] == "map_per_epoch"
               for run in figure_runs(config, figure))


def figure_inputs(config: dict, figure: str) -> list[str]:
    kind = config["figures"][figure]["kind"]
    runs = figure_runs(config, figure)
    if kind in ("map_per_epoch", "epoch_time"):
        return [trained_model(config, run) for run in runs]
    return [features_dir(config, run) for run in runs]


def table_outputs(table: str) -> list[str]:
    return [f"reports/tables/{table}.csv", f"reports/tables/{table}.md"]


def figure_output(figure: str) -> str:
    return f"reports/figures/{figure}.png"


def all_tables(config: dict) -> list[str]:
    return [path for table in config["tables"] for path in table_outputs(table)]


def all_figures(config: dict) -> list[str]:
    return [figure_output(figure) for figure in config.get("figures", {})]


def all_run_outputs(config: dict) -> list[str]:
    """What the tables and figures read from training and evaluation jobs: the
    `runs` target (after `dvc pull`, `snakemake --touch --forceall runs` marks them up to date)."""
    paths = {path for table in config["tables"] for path in table_inputs(config, table)}
    paths |= {path for figure in config["figures"] for path in figure_inputs(config, figure)}
    return sorted(paths)
