"""Where the cross-modal study's files live (one spelling of every path), and
the runs a table reads.  A chapter 3 run is (protocol, seed, configuration,
bits); a chapter 4 run (protocol, seed, configuration, backbone)."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval_bench.core.config import protocols_of, rows_of, scale_block

SYNTHETIC = ("synthetic_mir", "synthetic_nus")


@dataclass(frozen=True)
class Run:
    protocol: str
    seed: int
    configuration: str
    bits: int
    row: str  # the table row's id (the thesis's name of the row)


def paired_block(config: dict, protocol: str) -> dict:
    return scale_block(config)["protocols"][protocol]["paired"]


def data_folder(config: dict, protocol: str, seed: int) -> str:
    """A synthetic stand-in is drawn per protocol (its generator parameters) and seed (its data vary with
    the seed, as the runs do); a thesis data set is prepared once, for every protocol that reads it."""
    dataset = paired_block(config, protocol)["dataset"]
    if dataset in SYNTHETIC:
        return f"data/{config['scale']}/paired/{protocol}/seed{seed}"
    return f"data/{config['scale']}/paired/{dataset}"


def image_weights(config: dict, protocol: str) -> list[str]:
    """CNN-F's weights file where the protocol's images go through CNN-F, else nothing."""
    if paired_block(config, protocol).get("image_input", "features") != "images":
        return []
    return [scale_block(config)["crossmodal_training"]["cnn_f_weights"]]


def split_path(config: dict, protocol: str, seed: int) -> str:
    return f"data/{config['scale']}/paired_splits/{protocol}/seed{seed}.csv"


def run_dir(config: dict, run: Run) -> str:
    return f"results/{config['scale']}/{run.protocol}/seed{run.seed}/{run.configuration}/bits{run.bits}"


def metrics_path(config: dict, run: Run) -> str:
    return f"{run_dir(config, run)}/metrics.json"


def table_runs(config: dict, spec: dict, seeds=None) -> list[Run]:
    """Every run a table reads: its rows (less the published-only ones), each on its protocol (the table's
    unless the row names one), at each of the table's code lengths, for each seed."""
    return [Run(row["protocol"], seed, row["configuration"], bits, row["id"])
            for seed in (seeds if seeds is not None else config["seeds"])
            for row in rows_of(spec) if not row.get("published_only")
            for bits in spec["bits"]]


# ---------------------------------------------------------------- chapter 4: captioned images, embedding runs

CAPTION_STAND_INS = ("synthetic_f30k", "synthetic_coco", "synthetic_f8k", "synthetic_pedes")
CAPTION_SETS = ("flickr8k", "flickr30k", "coco", "cuhk_pedes")
WITH_FOLDS = ("synthetic_coco", "coco")  # scored per 1K fold (the mean) and whole ("5K")
# the row key of every chapter 4 table and figure kind (their row_options)
BACKBONE_ROW_OPTION = {"backbone": {"type": "string", "description": "chapter 4: the thesis's backbone name of the "
                                    "row (vgg, mobilenet, resnet50, resnet152; default mobilenet), mapped to a model "
                                    "by crossmodal_embedding.backbones"}}


@dataclass(frozen=True)
class SentenceRun:
    protocol: str
    seed: int
    configuration: str
    backbone: str  # the thesis's name (vgg, mobilenet, resnet50, resnet152); the scale maps it to a model
    row: str


def captions_block(config: dict, protocol: str) -> dict:
    return scale_block(config)["protocols"][protocol]["captions"]


def captions_folder(config: dict, protocol: str) -> str:
    return f"data/{config['scale']}/captions/{protocol}"


def groups_of(config: dict, protocol: str) -> list[str]:
    """The evaluation groups a protocol's runs report: its name, or name1k and name5k with folds."""
    block = captions_block(config, protocol)
    return [f"{block['name']}1k", f"{block['name']}5k"] if block["dataset"] in WITH_FOLDS else [block["name"]]


def embedding_block(config: dict) -> dict:
    return scale_block(config)["crossmodal_embedding"]


def backbone_model(config: dict, backbone: str) -> str:
    return embedding_block(config)["backbones"][backbone]


def backbone_weights(config: dict, backbone: str) -> list[str]:
    """The ImageNet weights file a thesis backbone reads (none for the mini stand-ins)."""
    model = backbone_model(config, backbone)
    if model.startswith("mini_"):
        return []
    default = f"data/weights/{model}{'.safetensors' if model == 'mobilenet_v1' else '.pth'}"  # as published
    return [embedding_block(config).get("backbone_weights", {}).get(model, default)]


def check_backbones(config: dict, where: str, spec: dict) -> None:
    """Every run row's backbone is one the active scale maps to a model (a chapter 4 kind's `check`)."""
    if "crossmodal_embedding" not in scale_block(config):
        return  # the study's own check names the missing block
    known = embedding_block(config)["backbones"]
    for row in rows_of(spec):
        if row.get("backbone", "mobilenet") not in known and not row.get("published_only"):
            raise ValueError(f"{where}: row {row['id']} has backbone {row.get('backbone', 'mobilenet')!r}; the "
                             f"scale's crossmodal_embedding.backbones knows {sorted(known)}")


def sentence_run_dir(config: dict, run: SentenceRun) -> str:
    return f"results/{config['scale']}/{run.protocol}/seed{run.seed}/{run.configuration}/{run.backbone}"


def sentence_runs(config: dict, spec: dict, seeds=None) -> list[SentenceRun]:
    """Every run a chapter 4 table or figure reads: its rows (less the published-only ones) on each of
    its protocols whose groups meet the row's (or the table's) `datasets`, for each seed."""
    runs = []
    for seed in seeds if seeds is not None else config["seeds"]:
        for row in rows_of(spec):
            if row.get("published_only"):
                continue
            wanted = row.get("datasets") or spec.get("datasets")
            for protocol in [row["protocol"]] if row.get("protocol") else protocols_of(spec):
                if wanted is None or set(groups_of(config, protocol)) & set(wanted):
                    runs.append(SentenceRun(protocol, seed, row["configuration"], row.get("backbone", "mobilenet"),
                                            row["id"]))
    return list(dict.fromkeys(runs))
