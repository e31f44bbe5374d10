"""Where every artefact of the incremental loop lives, and which runs a row needs.

The rules, the commands and the table and figure kinds all use these
functions, so a path is spelt in one place.  A run is (protocol, seed,
configuration, task): task 0 of the configuration `base` is the initial model
A shared by every method (and by every protocol with the same dataset, split
and original classes); task t of a method starts from its task t - 1 (task 0
being the base model); joint task t is trained on groups 0..t at once from
the pretrained trunk.  Protocols of other studies on this loop (chapter 7's
sequences) answer the protocol questions through their form
(protocol.form_of).
"""

from __future__ import annotations

from typing import NamedTuple

from retrieval_bench.core import registry
from retrieval_bench.core.config import method_of, rows_of, scale_block, task_1_owner
from retrieval_bench.studies.incremental.protocol import form_of


class Run(NamedTuple):
    row: str            # the row id in the table (the thesis's name for it)
    protocol: str
    seed: int
    configuration: str
    task: int


REFERENCE = "reference"  # the row id of a figure's `reference` configuration (its final model)


def dataset_manifest(config: dict, dataset: str) -> str:
    return f"data/{config['scale']}/{dataset}/manifest.csv"


def decoded_images(config: dict, dataset: str) -> str:
    """A dataset's decoded-image cache folder (`training.pipeline: decoded`)."""
    return f"data/{config['scale']}/{dataset}/decoded"


def decoded_cache(config: dict, protocol: str) -> str | None:
    """The decoded-image cache a protocol's training and evaluation jobs read
    (`training.pipeline: decoded`); None where they read the image files with
    PIL or keep the images in memory, or where the protocol's form reads
    several datasets (the cache is one per dataset)."""
    block = scale_block(config)
    if block["training"]["pipeline"] != "decoded" or not form_of(config, protocol).reads_decoded_cache:
        return None
    return decoded_images(config, block["protocols"][protocol]["dataset"])


def image_inputs(config: dict, protocol: str) -> list[str]:
    """What a protocol's training and evaluation jobs read images from besides
    the split: its decoded-image cache, if it reads one (`decoded_cache`)."""
    cache = decoded_cache(config, protocol)
    return [cache] if cache else []


def protocol_datasets(config: dict, protocol: str) -> list[str]:
    """The datasets a protocol reads, in order."""
    return form_of(config, protocol).datasets(scale_block(config)["protocols"][protocol])


def protocol_manifests(config: dict, protocol: str) -> list[str]:
    """The dataset manifests a protocol's split is made from (a chapter 7 sequence: one per dataset)."""
    return [dataset_manifest(config, d) for d in protocol_datasets(config, protocol)]


def data_root(config: dict, protocol: str) -> str:
    """The folder a protocol's split paths are relative to."""
    return form_of(config, protocol).data_root(config, protocol)


def job_threads(config: dict, protocol: str | None = None) -> int:
    """CPUs of a training or evaluation job: torch's threads, plus the
    DataLoader's worker processes where the job reads image files with PIL
    (`pil`, and a protocol without a decoded cache under `decoded`)."""
    training = scale_block(config)["training"]
    pil = training["pipeline"] == "pil" or (
        training["pipeline"] == "decoded" and protocol is not None and decoded_cache(config, protocol) is None)
    return training["threads"] + (training["workers"] if pil else 0)


def split_manifest(config: dict, protocol: str) -> str:
    return f"data/{config['scale']}/splits/{protocol}.csv"


def pretrained_weights(config: dict) -> str:
    block = scale_block(config)
    if "dataset" in block["pretraining"]:
        return f"results/{config['scale']}/pretrained/{block['backbone']}.pt"
    from retrieval_bench.vision.models.weights import weights_filename

    return f"data/weights/{weights_filename(block['backbone'])}"


def last_task(config: dict, protocol: str) -> int:
    return len(scale_block(config)["protocols"][protocol]["groups"]) - 1


def run_key(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """`<protocol>/seed<seed>/<configuration>/task<task>`: one run, in every results tree
    (under the protocol whose run it shares, `ProtocolForm.shared_protocol`; a
    configuration with `task_1_of` has the named configuration's task-1 run)."""
    protocol = form_of(config, protocol).shared_protocol(config, protocol, configuration, task)
    if task == 1:
        configuration = task_1_owner(config, configuration)
    return f"{protocol}/seed{seed}/{configuration}/task{task}"


def run_dir(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    return f"results/{config['scale']}/{run_key(config, protocol, seed, configuration, task)}"


def method_class(config: dict, configuration: str):
    return registry.method_class(method_of(config, configuration)[0])


def trains(config: dict, configuration: str) -> bool:
    return configuration == "base" or method_class(config, configuration).trains


def model_path(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """The model a run is evaluated with (a non-training method uses the base model)."""
    if not trains(config, configuration):
        configuration, task = "base", 0
    return f"{run_dir(config, protocol, seed, configuration, task)}/model.pt"


def init_path(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """What a training run starts from."""
    if task == 0 or method_class(config, configuration).from_pretrained:
        return pretrained_weights(config)
    previous = "base" if task == 1 else configuration
    return model_path(config, protocol, seed, previous, task - 1)


def teacher_run(config: dict, protocol: str, seed: int, configuration: str, task: int) -> tuple:
    """(protocol, seed, configuration, task) of the frozen teacher of task `task`: the previous task's model."""
    return (protocol, seed, "base", 0) if task == 1 else (protocol, seed, configuration, task - 1)


def method_inputs(config: dict, protocol: str, seed: int, configuration: str, task: int) -> dict[str, list[str]]:
    """The files a run's method declares it needs (`Method.inputs`: earlier
    models, its teacher's generated images, the pretrained trunk), by name,
    as paths.  Only a run with a frozen teacher (task >= 1, not restarted from
    the pretrained trunk) has any."""
    cls = method_class(config, configuration)
    if task == 0 or cls.from_pretrained:
        return {}
    run = Run(configuration, protocol, seed, configuration, task)
    return {name: need.paths(config, run) for name, need in cls.inputs(method_of(config, configuration)[1]).items()}


def method_input_files(config: dict, protocol: str, seed: int, configuration: str, task: int) -> list[str]:
    """`method_inputs` as one list: the train rule's input for them."""
    return [path for paths in method_inputs(config, protocol, seed, configuration, task).values() for path in paths]


def metrics_path(config: dict, run: Run) -> str:
    """Metrics live in a tree of their own (DVC shows results/<scale>/metrics as its metrics)."""
    key = run_key(config, run.protocol, run.seed, run.configuration, run.task)
    return f"results/{config['scale']}/metrics/{key}.json"


def features_dir(config: dict, run: Run) -> str:
    return f"{run_dir(config, run.protocol, run.seed, run.configuration, run.task)}/features"


def trained_model(config: dict, run: Run) -> str:
    return model_path(config, run.protocol, run.seed, run.configuration, run.task)


def checkpoint_dir(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    # Outside the declared outputs: Snakemake does not delete it when a job fails.
    return f"checkpoints/{config['scale']}/{protocol}/seed{seed}/{configuration}/task{task}"


def rows_runs(config: dict, spec: dict, kind: str, seeds=None) -> list[Run]:
    """Every run a table's rows read (or a figure's, kind "figure").

    one_step: base after task 0, every other row after its protocol's last
    task; multi_step and classification: every task of every row (the joint
    reference only after the last); figures: the last task. A row's `task`
    ends its chain there instead of at the protocol's last task (Table 6.3).
    forgetting: the base model (task 0) and every task of every row;
    accuracy_change: every task of every row.
    """
    runs = []
    for seed in seeds if seeds is not None else config["seeds"]:
        for row in rows_of(spec):
            last = row.get("task", last_task(config, row["protocol"]))
            if row["configuration"] == "base":
                tasks = [0]
            elif kind in ("forgetting", "accuracy_change") or (
                    kind in ("multi_step", "classification") and method_of(config, row["configuration"])[0] != "joint"):
                tasks = range(1, last + 1)
            else:
                tasks = [last]
            if kind == "forgetting":  # Acc_{0,0}: the base model every chain starts from
                runs.append(Run(row["id"], row["protocol"], seed, "base", 0))
            runs += [Run(row["id"], row["protocol"], seed, row["configuration"], t) for t in tasks]
        if kind == "gram" and spec.get("reference") and not any(r["id"] == spec["reference"] for r in rows_of(spec)):
            reference = spec["reference"]  # the Gram matrices are compared to its final model's
            runs.append(Run(reference, spec["protocol"], seed, reference, last_task(config, spec["protocol"])))
        if kind == "classification" and not any(r["configuration"] == "base" for r in rows_of(spec)):
            runs.append(Run("base", spec["protocol"], seed, "base", 0))  # the first column: no increment yet
    return runs


def monitored(config: dict, protocol: str, seed: int, configuration: str, task: int) -> bool:
    """Whether a run records old-class mAP (and the Gram matrix of the fixed
    old-class sample) during training: only the rows a figure whose kind
    `monitors_training` plots (each monitoring pass embeds the old-class test
    set; at mini scale that was 2 s of a 16 s job, paid by every run)."""
    key = run_key(config, protocol, seed, configuration, task)
    return any(run_key(config, run.protocol, run.seed, run.configuration, run.task) == key
               for figure, spec in config.get("figures", {}).items()
               if getattr(registry.figure_kind(spec["kind"]), "monitors_training", False)
               for run in registry.figure_kind(spec["kind"]).runs(config, figure) if run.row != REFERENCE)
