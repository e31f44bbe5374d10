"""Where the hashing study's files live (one spelling of every path), and the runs a table or figure reads.

A job is (protocol, seed, configuration) and runs every code length its readers ask for: one process per
configuration rather than per code length (a Python job with torch costs ~4 s to start, more than a mini
LDPH fit).  A run of LDPH reads its reference's run, so the reference runs at LDPH's code lengths too.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval_bench.core.config import built, method_of, scale_block, study_of
from retrieval_bench.studies.hashing.data.synthetic import SYNTHETIC, WITH_SECOND_VIEW

# the option of tables and figures that says so (protocols_of)
EVERY_PROTOCOL = {"type": "boolean", "description": "the rows run on every vectors protocol of the active scale "
                  "(mini: digits and manifold128; thesis: SIFT-1M, GIST-1M, CIFAR-10, NUS-WIDE)"}


@dataclass(frozen=True)
class Run:
    protocol: str
    seed: int
    configuration: str
    row: str  # the table row's id


def vectors_block(config: dict, protocol: str) -> dict:
    return scale_block(config)["protocols"][protocol]["vectors"]


def data_folder(config: dict, protocol: str, seed: int) -> str:
    """A synthetic set is drawn per protocol and seed; a bundled or thesis set is prepared once."""
    dataset = vectors_block(config, protocol)["dataset"]
    if dataset in SYNTHETIC:
        return f"data/{config['scale']}/vectors/{protocol}/seed{seed}"
    return f"data/{config['scale']}/vectors/{dataset}"


def run_dir(config: dict, protocol: str, seed: int, configuration: str) -> str:
    return f"results/{config['scale']}/{protocol}/seed{seed}/{configuration}"


def metrics_path(config: dict, run: Run) -> str:
    return f"{run_dir(config, run.protocol, run.seed, run.configuration)}/metrics.json"


def protocols_of(config: dict, spec: dict) -> list[str]:
    """The protocols a table's or figure's rows run on: with `every_protocol`, every vectors protocol of the
    active scale (mini: 2 data sets, thesis: 4), else its `protocol`."""
    if spec.get("every_protocol"):
        return [name for name, p in scale_block(config)["protocols"].items() if "vectors" in p]
    return [spec["protocol"]]


def rows(config: dict, spec: dict) -> list[tuple[str, str, str]]:
    """(row id, configuration, protocol) of every row on every protocol: a row that names no protocol runs
    on each of `protocols_of`."""
    protocols = protocols_of(config, spec)
    out = []
    for row in spec.get("rows", []):
        row = {"id": row, "configuration": row} if isinstance(row, str) else row
        for protocol in ([row["protocol"]] if "protocol" in row else protocols):
            out.append((row["id"], row["configuration"], protocol))
    return out


def runs(config: dict, spec: dict, seeds=None) -> list[Run]:
    return [Run(protocol, seed, configuration, row)
            for seed in (seeds if seeds is not None else config["seeds"])
            for row, configuration, protocol in rows(config, spec)]


def reference_of(config: dict, configuration: str) -> str | None:
    """The configuration whose codes a learning configuration starts from (LDPH's `reference`)."""
    method, hparams = method_of(config, configuration)
    if method != "ldph":
        return None
    return hparams.get("reference", "itq")


def code_lengths(spec: dict) -> list[int]:
    """The code lengths a table (`bits`, a list) or figure (`bits`, one; `code_lengths`, several) reads."""
    bits = spec.get("bits", [])
    return [*(bits if isinstance(bits, list) else [bits]), *spec.get("code_lengths", [])]


def bits_for(config: dict, protocol: str, configuration: str) -> list[int]:
    """Every code length the built tables and figures read of (protocol, configuration), and those of the
    learning configurations that start from it."""
    wanted = set()
    for section in ("tables", "figures"):
        for name in built(config, section):
            if study_of(config, section, name) != "hashing":
                continue
            spec = config[section][name]
            for _, cid, p in rows(config, spec):
                if p == protocol and (cid == configuration or reference_of(config, cid) == configuration):
                    wanted |= set(code_lengths(spec))
    return sorted(wanted)


def two_view_protocols(config: dict) -> list[str]:
    """The vectors protocols whose data set has a second view (the deck's works 1 and 2)."""
    return [name for name, p in scale_block(config)["protocols"].items()
            if "vectors" in p and p["vectors"]["dataset"] in WITH_SECOND_VIEW]


def two_view_dir(config: dict, protocol: str, seed: int) -> str:
    """hash_views' folder: a run folder named two_view (hash_train's configuration wildcard excludes it)."""
    return run_dir(config, protocol, seed, "two_view")
