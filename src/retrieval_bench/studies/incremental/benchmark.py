"""`python -m retrieval_bench benchmark`: where a training job's time
goes, how far training runs from the machine's limit, what the main job costs
in wall time and memory, and (thesis scale) how fast each data pipeline
delivers images.

Everything runs in a temporary directory from the configured `mini` scale
block; finished results in the repository are never touched.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from retrieval_bench.core import config as cfg
from retrieval_bench.studies.incremental import plan

log = logging.getLogger(__name__)

PHASES = [  # (key in the job's --timings file, what it is)
    ("start_up", "interpreter start, imports (torch), config"),
    ("setup", "models, optimiser (its first use imports torch._dynamo), method state, images into memory"),
    ("epochs", "training epochs"),
    ("monitoring", "old-class mAP during training (figure runs only)"),
    ("saving", "checkpoints and the final model"),
    ("evaluation", "embedding the test images, Recall@K, mAP"),
]


def machine() -> dict:
    """The facts a reader needs to compare figures between machines."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        names = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = names[0] if names else cpu
        mem = int(re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M).group(1))
        memory_gib = round(mem / 2**20, 1)
    except OSError:  # not Linux
        memory_gib = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "memory_gib": memory_gib, "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def matmul_flops(threads: int, device: str = "cpu", size: int = 1024, repeats: int = 5) -> float:
    """Float32 matrix-multiply FLOP/s on `threads` threads: the best of
    `repeats` timings of a batch of products (the attainable rate's yardstick)."""
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    n = 10
    best = float("inf")
    for _ in range(repeats + 1):  # the first round warms up
        if device == "cuda":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        for _ in range(n):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - tic)
    return 2 * size**3 * n / best


def forward_flops(backbone: str, embedding_dim: int, image_size: int) -> int:
    """FLOPs of one image's forward pass (convolutions and matrix products,
    counted by torch's FlopCounterMode; a multiply-add counts 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from retrieval_bench.vision.models import EmbeddingNet

    model = EmbeddingNet(backbone, embedding_dim, 10).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, image_size, image_size))
    return counter.get_total_flops()


def attainable_images_per_second(flops_per_second: float, forward: int, teacher: bool) -> float:
    """Training images/s if every FLOP ran at the matrix-multiply rate: the
    student's forward and backward (about 3 forwards) plus a frozen teacher's
    forward where the method has one."""
    return flops_per_second / ((3 + (1 if teacher else 0)) * forward)


def _mini_config(config: dict) -> dict:
    config = json.loads(json.dumps(config))  # a deep copy
    config["scale"], config["seeds"] = "mini", [0]
    return config


def _python(*args: str, cwd: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "retrieval_bench", *args], cwd=cwd, capture_output=True,
                         text=True)
    if run.returncode != 0:
        raise RuntimeError(f"benchmark step failed: {' '.join(args[:1])}\n{run.stderr[-3000:]}")


def time_training_job(config: dict, work: Path, protocol: str = "cub_onestep", configuration: str = "mmd",
                      repeat: int = 3) -> dict:
    """Per-phase seconds of one incremental training job (median of `repeat`
    runs of `python -m retrieval_bench train`, as Snakemake starts it):
    the protocol's dataset is synthesised and its base model trained first."""
    config = _mini_config(config)
    # stamped as the workflow writes it, so the job skips validation as Snakemake's jobs do
    (work / "config.yaml").write_text(yaml.safe_dump(cfg.with_validation_stamp(config), sort_keys=False))
    proto = cfg.scale_block(config)["protocols"][protocol]
    manifest, split = plan.dataset_manifest(config, proto["dataset"]), plan.split_manifest(config, protocol)
    common = ["--config", "config.yaml", "--protocol", protocol, "--seed", "0", "--split", split]
    _python("prepare-data", "--config", "config.yaml", "--dataset", proto["dataset"], "--out", manifest, cwd=work)
    _python("split", "--config", "config.yaml", "--protocol", protocol, "--manifest", manifest, "--out", split,
            cwd=work)
    base = "base/model.pt"
    _python("train", *common, "--configuration", "base", "--task", "0", "--out", base, cwd=work)
    runs = []
    for i in range(repeat):
        out = work / f"run{i}"
        tic = time.perf_counter()
        _python("train", *common, "--configuration", configuration, "--task", "1", "--init", base,
                "--out", f"{out}/model.pt", "--features-dir", f"{out}/features", "--metrics", f"{out}/metrics.json",
                "--curves", f"{out}/curves.csv", "--timings", f"{out}/timings.json", cwd=work)
        wall = time.perf_counter() - tic
        timings = json.loads((out / "timings.json").read_text())
        # start-up: everything before the training function, measured from outside the process
        timings["start_up"] = wall - timings["in_process"] + timings["imports_and_config"]
        timings["wall"] = wall
        import pandas as pd

        curves = pd.read_csv(out / "curves.csv").dropna(subset=["images_per_second"])
        steady = curves.iloc[1:] if len(curves) > 1 else curves  # the first epoch warms up
        timings["images_per_second"] = float(steady["images_per_second"].median())
        timings["images"] = float((curves["images_per_second"] * curves["seconds"]).sum())
        runs.append(timings)
    keys = [k for k, _ in PHASES] + ["wall", "images_per_second", "images"]
    return {"protocol": protocol, "configuration": configuration, "repeat": repeat,
            **{k: statistics.median(r.get(k, 0.0) for r in runs) for k in keys}}


def time_main_job(root: Path, config: dict, work: Path, cores: int) -> dict:
    """Wall time and the largest process's peak resident memory of
    `snakemake --cores <cores>` on a copy of the workflow (fresh outputs) with
    `config` at scale mini."""
    for name in ("Snakefile", "workflow", "envs"):
        source = root / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, work / name)
    (work / "config.yaml").write_text(yaml.safe_dump({**config, "scale": "mini"}, sort_keys=False))
    # A child Python reports the peak RSS of its waited-for descendants (ru_maxrss of RUSAGE_CHILDREN):
    # the largest single job, whichever it was.
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(r.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
             "sys.stderr.write(r.stderr[-4000:])")
    bin_dir = Path(sys.executable).parent  # the rules' `python` and snakemake: this environment's
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    snakemake = str(bin_dir / "snakemake") if (bin_dir / "snakemake").exists() else shutil.which("snakemake")
    run = subprocess.run([sys.executable, "-c", probe, snakemake, "--cores", str(cores)], cwd=work,
                         capture_output=True, text=True, env=env)
    code, wall, max_rss_kb = run.stdout.split()
    if code != "0":
        raise RuntimeError(f"the main job failed in {work}:\n{run.stderr}")
    steps = re.findall(r"(\d+) of (\d+) steps \(100%\) done", run.stderr)
    trained = len(list((work / "results" / "mini" / "metrics").rglob("*.json")))
    return {"cores": cores, "wall": float(wall), "max_rss_mib": int(max_rss_kb) / 1024,
            "jobs": int(steps[-1][1]) if steps else None, "evaluated_runs": trained}


def run_benchmark(config_file: Path, out: Path, main_job: bool, pipeline: bool, repeat: int, cores: int,
                  keep: Path | None = None) -> dict:
    config = cfg.load(config_file)
    mini = config["scales"]["mini"]
    threads = mini["training"]["threads"]
    result: dict = {"machine": machine(), "threads": threads}
    flops = matmul_flops(threads)
    forward = forward_flops(mini["backbone"], mini["embedding_dim"], mini["image_size"])
    result["matmul_gflops"] = flops / 1e9
    result["network"] = {"backbone": mini["backbone"], "image_size": mini["image_size"],
                         "forward_mflop": forward / 1e6,
                         "attainable_images_per_second": attainable_images_per_second(flops, forward, teacher=True)}
    work = Path(keep or tempfile.mkdtemp(prefix="ir-benchmark-"))
    try:
        (work / "job").mkdir(parents=True, exist_ok=True)
        result["job"] = time_training_job(config, work / "job", repeat=repeat)
        if main_job:
            (work / "main").mkdir(parents=True, exist_ok=True)
            result["main_job"] = time_main_job(config_file.resolve().parent, yaml.safe_load(config_file.read_text()),
                                               work / "main", cores)
        if pipeline:
            import torch

            from retrieval_bench.vision.decoded import measure_pipelines

            # where a training job would put its batches (config device: auto)
            result["pipeline"] = measure_pipelines(work / "pipeline", workers=min(cores, 8),
                                                   device="cuda" if torch.cuda.is_available() else "cpu")
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    out.write_text(render(result))
    return result


def render(result: dict) -> str:
    m, job, net = result["machine"], result["job"], result["network"]
    lines = ["# Benchmark", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, PyTorch {m['torch']}"
             + (f", GPU {m['gpu']}" if m["gpu"] else ", no GPU") + f"; {result['threads']} thread(s) per job.", "",
             f"## One training job ({job['configuration']}, task 1, {job['protocol']}; median of {job['repeat']})", "",
             "| phase | seconds | share |", "|---|---|---|"]
    for key, what in PHASES:
        lines.append(f"| {what} | {job[key]:.2f} | {100 * job[key] / job['wall']:.0f} % |")
    lines += [f"| **wall time** | **{job['wall']:.2f}** | |", "",
              f"Training: **{job['images_per_second']:.0f} images/s** ({job['images']:.0f} images per job). "
              f"The {net['backbone']} net costs {net['forward_mflop']:.1f} MFLOP per {net['image_size']} px image "
              f"forward; with a teacher, a trained image costs about 4 forwards. At the measured float32 "
              f"matrix-multiply rate ({result['matmul_gflops']:.1f} GFLOP/s) that allows "
              f"**{net['attainable_images_per_second']:.0f} images/s** on one CPU thread: "
              + (f"training runs at {100 * job['images_per_second'] / net['attainable_images_per_second']:.0f} % "
                 f"of it." if not m["gpu"] else "the job trained on the GPU, so no share of it is given.")]
    if "main_job" in result:
        mj = result["main_job"]
        lines += ["", "## The main job", "",
                  f"`snakemake --cores {mj['cores']}` on fresh outputs: **{mj['wall'] / 60:.1f} min** "
                  f"({mj['wall']:.0f} s) wall time, {mj['jobs']} jobs, {mj['evaluated_runs']} evaluated runs; "
                  f"the largest process peaked at **{mj['max_rss_mib']:.0f} MiB** resident memory."]
    if "pipeline" in result:
        p = result["pipeline"]
        lines += ["", "## Thesis-scale data pipelines (no model)", "",
                  f"{p['images']} CUB-like JPEGs (about 500 x 375, {p['jpeg_bytes_per_image'] / 1024:.0f} KiB each), "
                  f"training batches of {p['batch']} at {p['image_size']} px delivered to {p['device']} "
                  f"({p['torch_threads']} torch thread(s) in the main process):", "",
                  "| pipeline | images/s |", "|---|---|",
                  f"| PIL decoding + torchvision transforms, {p['workers']} DataLoader workers | "
                  f"{p['pil_images_per_second']:.0f} |",
                  f"| decoded cache: crop from memory map, resize on {p['device']} | "
                  f"{p['decoded_images_per_second']:.0f} |", "",
                  f"The cache took {p['cache_build_seconds']:.1f} s to build ({p['cache_build_workers']} processes, "
                  f"{p['images'] / p['cache_build_seconds']:.0f} images/s) and holds "
                  f"{p['cache_bytes_per_image'] / 1024:.0f} KiB per image (shorter side 256, uint8)."]
    return "\n".join(lines) + "\n"
