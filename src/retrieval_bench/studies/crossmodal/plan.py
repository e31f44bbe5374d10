"""Where the cross-modal study's files live (one spelling of every path), and
the runs a table reads.  A run is (protocol, seed, configuration, bits)."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval_bench.core.config import rows_of, scale_block

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
