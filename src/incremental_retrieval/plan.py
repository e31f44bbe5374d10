"""Where every artefact lives and which runs a table needs.

The Snakefile and the CLI both use these functions, so a path is spelt in
one place.  A run is (protocol, seed, configuration, task): task 0 of the
configuration `base` is the initial model A shared by every method; task t
of a method starts from its task t - 1 (task 0 being the base model); joint
task t is trained on groups 0..t at once from the pretrained trunk.
"""

from __future__ import annotations

from incremental_retrieval.config import method_of, scale_block


def dataset_manifest(config: dict, dataset: str) -> str:
    return f"data/{config['scale']}/{dataset}/manifest.csv"


def split_manifest(config: dict, protocol: str) -> str:
    return f"data/{config['scale']}/splits/{protocol}.csv"


def pretrained_weights(config: dict) -> str:
    block = scale_block(config)
    if "dataset" in block["pretraining"]:
        return f"results/{config['scale']}/pretrained/{block['backbone']}.pt"
    from incremental_retrieval.models.weights import weights_filename

    return f"data/weights/{weights_filename(block['backbone'])}"


def run_dir(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    return f"results/{config['scale']}/{protocol}/seed{seed}/{configuration}/task{task}"


def trains(config: dict, configuration: str) -> bool:
    from incremental_retrieval.methods import METHODS

    return METHODS[method_of(config, configuration)[0]].trains


def model_path(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """The model a run is evaluated with (a non-training method uses the base model)."""
    if configuration != "base" and not trains(config, configuration):
        configuration, task = "base", 0
    return f"{run_dir(config, protocol, seed, configuration, task)}/model.pt"


def init_path(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """What a training run starts from."""
    method, _ = method_of(config, configuration)
    if task == 0 or method == "joint":
        return pretrained_weights(config)
    previous = "base" if task == 1 else configuration
    return model_path(config, protocol, seed, previous, task - 1)


def metrics_path(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    return f"{run_dir(config, protocol, seed, configuration, task)}/metrics.json"


def checkpoint_dir(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    # Outside the declared outputs: Snakemake does not delete it when a job fails.
    return f"checkpoints/{config['scale']}/{protocol}/seed{seed}/{configuration}/task{task}"


def table_runs(config: dict, table: str) -> list[tuple[str, int, str, int]]:
    """(protocol, seed, configuration, task) of every run a table reads."""
    spec = config["tables"][table]
    protocol = spec["protocol"]
    last = len(scale_block(config)["protocols"][protocol]["groups"]) - 1
    runs = []
    for seed in config["seeds"]:
        for configuration in spec["configurations"]:
            runs.append((protocol, seed, configuration, 0 if configuration == "base" else last))
    return runs


def table_metrics(config: dict, table: str) -> list[str]:
    return [metrics_path(config, *run) for run in table_runs(config, table)]


def table_outputs(table: str) -> list[str]:
    return [f"reports/tables/{table}.csv", f"reports/tables/{table}.md"]


def all_tables(config: dict) -> list[str]:
    return [path for table in config["tables"] for path in table_outputs(table)]
