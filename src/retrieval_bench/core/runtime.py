"""What every command does before its work: the log, the config, and (for
the commands that run models) torch's threads, determinism and device."""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the heavier imports: the benchmark's start-up phase ends here

import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from retrieval_bench.core.config import ConfigError, load, scale_block  # noqa: E402


def setup(args, torch_threads: bool = False) -> dict:
    """Log the command line (and the SLURM job), load the config; with
    `torch_threads`, set the scale's torch threads (and deterministic kernels
    where `training.deterministic` asks for them)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which SIMD build loaded is noise here
    logging.info("%s: %s", args.job or args.command, " ".join(args.argv))
    if os.environ.get("SLURM_JOB_ID"):
        logging.info("SLURM job %s on %s, GPUs allocated: %s", os.environ["SLURM_JOB_ID"],
                     os.environ.get("SLURMD_NODENAME", "?"), os.environ.get("SLURM_GPUS_ON_NODE", 0))
    config = load(args.config)
    if torch_threads:  # only steps that run models pay for importing torch
        training = scale_block(config)["training"]
        if training["deterministic"]:
            set_deterministic()  # before torch initialises CUDA (it does so lazily, at the first CUDA call)
        import torch

        torch.set_num_threads(training["threads"])
    return config


def set_deterministic() -> None:
    """`training.deterministic: true`: deterministic kernels only (PyTorch
    raises on an operation that has none), no cuDNN autotuning, and the cuBLAS
    workspace setting deterministic cuBLAS needs (read when CUDA initialises).
    Reproducible on the same GPU model, driver and library versions only; see
    docs/determinism.md."""
    if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in (":4096:8", ":16:8"):
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    import torch

    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def device(config: dict) -> str:
    """The device `device:` asks for: cuda where asked (an error without one) or available (auto), else cpu."""
    import torch

    wanted = config.get("device", "auto")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config device: cuda, but PyTorch sees no CUDA device; set device: auto or cpu")
    return "cuda" if wanted in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
