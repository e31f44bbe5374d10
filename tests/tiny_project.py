"""A tiny copy of the project for end-to-end tests: the shipped config shrunk to
seconds per job, copied with the workflow into a temporary directory."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_config() -> dict:
    """The shipped config, shrunk: 4 old classes, 2-4 per new group, 1-2 epochs,
    and a subset of tables and figures that still covers every kind."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    mini = config["scales"]["mini"]
    mini["pretraining"].update(epochs=1)
    mini["training"]["base"]["epochs"] = 2
    mini["training"]["incremental"]["epochs"] = 1
    mini["training"]["batch"] = {"p": 4, "k": 3, "rounds": 2}
    for name, dataset in mini["datasets"].items():
        multi = len(dataset["groups"]) > 2
        for g, group in enumerate(dataset["groups"]):
            group["classes"] = 8 if name == "synthetic_pretrain" else 4 if g == 0 or not multi else 2
            group["images"] = 10 if isinstance(group["images"], int) else [10, 12]
        if "official_train_per_class" in dataset:
            dataset["official_train_per_class"] = 6
    mini["generation"].update(iterations=3)
    mini["generation_quality"].update(origin_classes=2, splits=2, judge_epochs=1)
    mini["crossmodal_training"].update(epochs=2, batch=16)
    mini["crossmodal_embedding"].update(epochs=1, batch={"p": 6, "k": 2}, complexity={
        "warmup": 1, "repeats": 3, "caption_tokens": 7, "vocab_rows": 12000})
    for name, protocol in mini["protocols"].items():
        if "paired" in protocol:  # chapter 3: 90 pairs, 12 queries, 30 training pairs
            protocol["paired"].update(queries=12, train=30, generator={"pairs": 90})
            continue
        if "captions" in protocol:  # chapter 4: 30 training and 40 test images (pedestrians 12 and 10 people)
            pedes = protocol["captions"]["dataset"] == "synthetic_pedes"
            protocol["captions"]["sizes"] = {"train": 12, "test": 10} if pedes else {"train": 30, "test": 40}
            continue
        if "vectors" in protocol:  # the hashing study: digits as shipped (1,797 vectors), manifold128 smaller
            if protocol["vectors"]["dataset"] == "manifold128":
                protocol["vectors"].update(queries=50, train=200, knn=20, generator={"items": 600})
            continue
        if "sequence" in protocol:  # chapter 7: 3 seen + 2 unseen classes of each 5-class dataset
            for entry in protocol["sequence"]:
                entry.update(seen=3, unseen=2)
                mini["datasets"][entry["dataset"]]["groups"][0]["classes"] = 5
            protocol.update(epochs={"base": 2, "incremental": 1}, batch={"p": 3, "k": 3, "rounds": 2})
            continue
        groups = [g["classes"] for g in mini["datasets"][protocol["dataset"]]["groups"]]
        protocol["groups"] = [4, 2] if name in ("cub_25", "dogs_5") else groups
        if "incremental_batch" in protocol:
            protocol["incremental_batch"] = {"p": 2, "k": 3, "rounds": 2}
    tables = config["tables"]
    tables["table_5_6"]["rows"] = ["lwf", "mmd"]
    tables["table_5_9"]["rows"] = ["base", "finetune", "mmd", "joint"]
    config["tables"] = {t: tables[t] for t in ("table_5_1", "table_5_2", "table_5_4", "table_5_6", "table_5_9")}
    config["figures"] = {f: spec for f, spec in config["figures"].items() if f.startswith("figure_5_3")
                         or f == "figure_5_5_tsne"}
    return config


def table_5_2_config(rows: list[str]) -> dict:
    """The tiny config reduced to Table 5.2 with these rows and no figures: the
    smallest workflow that still trains, evaluates and builds a table."""
    config = tiny_config()
    config["tables"] = {"table_5_2": {**config["tables"]["table_5_2"], "rows": rows}}
    config["figures"] = {}
    return config


def project(tmp_path: Path, config: dict, extra: tuple = ()) -> Path:
    """The workflow and `config` in tmp_path; `extra` names more repository files to copy."""
    for item in ("Snakefile", "workflow", "envs", *extra):
        (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, tmp_path / item)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def snakemake_call(*args, cores: bool = True) -> tuple[list[str], dict]:
    """The command line and environment of a snakemake call with this interpreter's tools."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"  # the rules' `python` is this interpreter
    return [str(bin_dir / "snakemake"), *(["--cores", "2"] if cores else []), *args], env


def snakemake(cwd: Path, *args, cores: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
    command, env = snakemake_call(*args, cores=cores)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
