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


def decoded_cache(config: dict, protocol: str) -> str | None:
    """The decoded-image cache a protocol's training and evaluation jobs read
    (`training.pipeline: decoded`); None where they read the image files with
    PIL or keep the images in memory.  A chapter 7 sequence reads files with
    PIL even under `decoded`: its rows come from several datasets, the cache is
    one per dataset."""
    block = scale_block(config)
    if block["training"]["pipeline"] != "decoded" or is_sequence(config, protocol):
        return None
    return decoded_images(config, block["protocols"][protocol]["dataset"])


def image_inputs(config: dict, protocol: str) -> list[str]:
    """What a protocol's training and evaluation jobs read images from besides
    the split: its decoded-image cache, if it reads one (`decoded_cache`)."""
    cache = decoded_cache(config, protocol)
    return [cache] if cache else []


def protocol_manifests(config: dict, protocol: str) -> list[str]:
    """The dataset manifests a protocol's split is made from (a chapter 7 sequence: one per dataset)."""
    from incremental_retrieval.config import protocol_datasets

    return [dataset_manifest(config, d) for d in protocol_datasets(scale_block(config)["protocols"][protocol])]


def is_sequence(config: dict, protocol: str) -> bool:
    return "sequence" in scale_block(config)["protocols"][protocol]


def data_root(config: dict, protocol: str) -> str:
    """The folder a protocol's split paths are relative to: the dataset's, or
    data/<scale> for a sequence (its paths name their dataset's folder)."""
    if is_sequence(config, protocol):
        return f"data/{config['scale']}"
    return dataset_manifest(config, scale_block(config)["protocols"][protocol]["dataset"]).rsplit("/", 1)[0]


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
        if "sequence" not in other and key(other) == key(protocols[protocol]):
            return name
    return protocol


def sequence_protocol(config: dict, protocol: str, task: int) -> str:
    """The chapter 7 protocol whose run of `task` a sequence protocol shares:
    the first with the same datasets 0..task (same entries) and the same
    protocol settings, so CUB -> Dogs -> Cars trains only its Cars task (its
    base and Dogs task are CUB -> Dogs's) and the base model is shared by every
    sequence starting with CUB."""
    protocols = scale_block(config)["protocols"]

    def key(p: dict):
        rest = {k: v for k, v in p.items() if k not in ("sequence", "groups")}
        return repr(p["sequence"][: task + 1]), repr(sorted(rest.items()))

    for name, other in protocols.items():
        if "sequence" in other and len(other["sequence"]) > task and key(other) == key(protocols[protocol]):
            return name
    return protocol


def run_key(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """`<protocol>/seed<seed>/<configuration>/task<task>`: one run, in every results tree."""
    if is_sequence(config, protocol):
        protocol = sequence_protocol(config, protocol, task)
    elif configuration == "base":
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


def earlier_models(config: dict, protocol: str, seed: int, configuration: str, task: int) -> list[str]:
    """The models before the teacher, f_0..f_{t-2} (the shared base model,
    then the configuration's own tasks), for a configuration that distils
    from every saved model (`teachers: all`, Table 6.3 case d); else none."""
    method, hparams = method_of(config, configuration)
    if method == "joint" or hparams.get("teachers") != "all":
        return []
    return [model_path(config, protocol, seed, "base" if j == 0 else configuration, j) for j in range(task - 1)]


def teacher_run(config: dict, protocol: str, seed: int, configuration: str, task: int) -> tuple:
    """(protocol, seed, configuration, task) of the frozen teacher of task `task`: the previous task's model."""
    return (protocol, seed, "base", 0) if task == 1 else (protocol, seed, configuration, task - 1)


def generated_images(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """The images generated from a run's model (chapter 7, Eqs. 7.4-7.5): one
    file per teacher, shared by every configuration that distils from it."""
    return f"{run_dir(config, protocol, seed, configuration, task)}/generated.pt"


def generated_input(config: dict, protocol: str, seed: int, configuration: str, task: int) -> list[str]:
    """The generated images a training run mixes into its batches: its frozen
    teacher's (chapter 7's `generate: true` rows); none for every other run."""
    method, hparams = method_of(config, configuration)
    if task == 0 or method == "joint" or not hparams.get("generate"):
        return []
    return [generated_images(config, *teacher_run(config, protocol, seed, configuration, task))]


def on_the_fly_input(config: dict, configuration: str, task: int) -> list[str]:
    """The pretrained trunk an on-the-fly teacher is re-loaded from before every task (chapter 7, DKD rows)."""
    method, hparams = method_of(config, configuration)
    if task == 0 or method == "joint" or not hparams.get("on_the_fly_teacher"):
        return []
    return [pretrained_weights(config)]


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


def table_runs(config: dict, table: str) -> list[Run]:
    spec = config["tables"][table]
    return runs_of(config, spec, spec.get("kind", "one_step"))


def judge_model(config: dict, protocol: str, seed: int) -> list[str]:
    """Table 7.5's judge network of a protocol's first dataset (`judge:
    network`); none with `judge: inception` (the command reads the Inception-v3
    weights from data/weights/, naming the URL if they are missing)."""
    if (scale_block(config).get("generation_quality") or {}).get("judge", "network") != "network":
        return []
    return [f"results/{config['scale']}/{sequence_protocol(config, protocol, 0)}/seed{seed}/judge.pt"]


def quality_path(config: dict, protocol: str, seed: int) -> str:
    """Table 7.5's scores of the images generated from a protocol's base model."""
    return f"{run_dir(config, protocol, seed, 'base', 0)}/quality.json"


def noise_path(config: dict, run: Run) -> str:
    """Fig. 7.8(a, b): a run's retrieval and classification under Gaussian noise."""
    return f"{run_dir(config, run.protocol, run.seed, run.configuration, run.task)}/noise.json"


def table_inputs(config: dict, table: str) -> list[str]:
    spec = config["tables"][table]
    if spec.get("kind") == "statistics":
        return [split_manifest(config, p) for p in spec["protocols"]]
    if spec.get("kind") == "generation_quality":
        return [quality_path(config, spec["protocol"], seed) for seed in config["seeds"]]
    if spec.get("kind") == "gram":  # the final models' old-class features
        return sorted({features_dir(config, run) for run in table_runs(config, table)})
    return sorted({metrics_path(config, run) for run in table_runs(config, table)})


# Figure kinds drawn from the metrics of every task of every row, from the shared base model on (Figs. 6.7-6.11).
CURVE_KINDS = ("forgetting", "new_group_curve", "group_curve")
# Figure kinds whose rows record old-class numbers while they train (Figs. 5.3c, 6.6).
MONITORED_KINDS = ("map_per_epoch", "gram_matrices")
REFERENCE = "reference"  # the row id of a figure's `reference` configuration (its final model)


# Chapter 7 figure kinds: every task of a chain (from the base model) / the rows' generated images / all seeds.
CHAIN_KINDS = ("lifelong_curve", "order_evolution")
GENERATED_KINDS = ("generated_grid", "generation_process")
ALL_SEEDS_KINDS = ("order_evolution", "noise_sensitivity")


def figure_runs(config: dict, figure: str) -> list[Run]:
    """The runs a figure plots (first seed): the rows after their protocol's
    last task; for the curve kinds every task 1..last of every row after the
    base model(s) (task 0); the `reference` configuration's final model last."""
    spec = config["figures"][figure]
    seed = config["seeds"][0]
    if spec["kind"] in CHAIN_KINDS:  # base model, then every task of each row's chain
        seeds = config["seeds"] if spec["kind"] in ALL_SEEDS_KINDS else [seed]
        runs = [Run(row["id"], row["protocol"], s, "base" if t == 0 else row["configuration"], t)
                for s in seeds for row in rows_of(spec) for t in range(last_task(config, row["protocol"]) + 1)]
        if "reference" in spec:
            runs += [Run(REFERENCE, spec["protocol"], s, spec["reference"], last_task(config, spec["protocol"]))
                     for s in seeds]
        return runs
    if spec["kind"] in GENERATED_KINDS:  # the model the images were generated from
        task = spec.get("teacher_task", 0)
        return [Run(row["id"], row["protocol"], seed, "base" if task == 0 else row["configuration"], task)
                for row in rows_of(spec)]
    if spec["kind"] in ALL_SEEDS_KINDS:
        return runs_of(config, spec, "figure")
    if spec["kind"] in CURVE_KINDS:
        runs = runs_of(config, spec, "multi_step", seeds=[seed])
        bases = dict.fromkeys(run.protocol for run in runs)
        runs = [Run("base", p, seed, "base", 0) for p in bases] + [r for r in runs if r.configuration != "base"]
    else:
        runs = runs_of(config, spec, "figure", seeds=[seed])
    if spec["kind"] == "tsne":
        runs.insert(0, Run("base", spec["protocol"], seed, "base", 0))
    if "reference" in spec:
        runs.append(Run(REFERENCE, spec["protocol"], seed, spec["reference"], last_task(config, spec["protocol"])))
    return runs


def monitored(config: dict, protocol: str, seed: int, configuration: str, task: int) -> bool:
    """Whether a run records old-class mAP (and the Gram matrix of the fixed
    old-class sample) during training: only the rows a `map_per_epoch` or
    `gram_matrices` figure plots (each monitoring pass embeds the old-class
    test set; at mini scale that was 2 s of a 16 s job, paid by every run)."""
    key = run_key(config, protocol, seed, configuration, task)
    return any(run_key(config, run.protocol, run.seed, run.configuration, run.task) == key
               for figure, spec in config.get("figures", {}).items() if spec["kind"] in MONITORED_KINDS
               for run in figure_runs(config, figure) if run.row != REFERENCE)


def figure_inputs(config: dict, figure: str) -> list[str]:
    spec = config["figures"][figure]
    kind = spec["kind"]
    runs = figure_runs(config, figure)
    if kind in ("map_per_epoch", "epoch_time"):
        paths = [trained_model(config, run) for run in runs]
    elif kind == "gram_matrices":  # the rows' Gram snapshots; the reference's final features
        paths = [trained_model(config, run) if run.row != REFERENCE else features_dir(config, run) for run in runs]
    elif kind in (*CURVE_KINDS, "final_groups"):
        paths = [metrics_path(config, run) for run in runs]
        if spec.get("insets") == "gram":  # Gram matrices of the final models' old-class features
            paths += [features_dir(config, run) for run in runs if run.task == last_task(config, run.protocol)]
    elif kind in CHAIN_KINDS:
        paths = [metrics_path(config, run) for run in runs]
    elif kind in GENERATED_KINDS:
        paths = [generated_images(config, run.protocol, run.seed, run.configuration, run.task) for run in runs]
    elif kind == "noise_sensitivity":
        paths = [noise_path(config, run) for run in runs]
    elif kind == "dataset_tsne":  # the model embeds the seen training images of every dataset of the split
        paths = [trained_model(config, run) for run in runs] + [split_manifest(config, spec["protocol"])]
    elif kind == "retrieval_examples":  # the split lists the test images in the features files' order
        paths = [features_dir(config, run) for run in runs] + [split_manifest(config, spec["protocol"])]
    else:
        paths = [features_dir(config, run) for run in runs]
    return list(dict.fromkeys(paths))


def table_outputs(table: str) -> list[str]:
    return [f"reports/tables/{table}.csv", f"reports/tables/{table}.md"]


def figure_output(figure: str) -> str:
    return f"reports/figures/{figure}.png"


def all_tables(config: dict) -> list[str]:
    return [path for table in config["tables"] for path in table_outputs(table)]


def all_figures(config: dict) -> list[str]:
    return [figure_output(figure) for figure in config.get("figures", {})]


def claim_figures(config: dict) -> list[str]:
    """The figures' data CSVs some claims read (claims.FIGURE_DATA), where the config has those figures."""
    from incremental_retrieval.claims import FIGURE_DATA

    return [f"reports/figures/{figure}.csv" for figure in config.get("figures", {}) if figure in FIGURE_DATA]


def all_run_outputs(config: dict) -> list[str]:
    """What the tables and figures read from training and evaluation jobs: the
    `runs` target (after `dvc pull`, `snakemake --touch --forceall runs` marks them up to date)."""
    paths = {path for table in config["tables"] for path in table_inputs(config, table)}
    paths |= {path for figure in config["figures"] for path in figure_inputs(config, figure)}
    return sorted(paths)
