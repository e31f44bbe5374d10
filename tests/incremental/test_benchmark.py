"""The benchmark command: per-phase times of a training job, the attainable
rate, the main job's wall time and memory, all without touching results."""

import json
import re

import pytest
import yaml

from retrieval_bench.studies.incremental import benchmark
from tiny_project import project, snakemake, table_5_2_config


def test_forward_flops_count_every_convolution_and_linear_layer():
    # small_convnet_half at 32 px: 3x3 convs 3->16 @32x32, 16->32 @16x16, 32->64 @8x8, 64->128 @4x4,
    # then the 128->8 embedding and the 8->10 classifier; a multiply-add counts 2
    convs = [(3, 16, 32), (16, 32, 16), (32, 64, 8), (64, 128, 4)]
    expected = sum(2 * 9 * c_in * c_out * side * side for c_in, c_out, side in convs) + 2 * (128 * 8 + 8 * 10)
    assert benchmark.forward_flops("small_convnet_half", 8, 32) == expected


def test_attainable_rate_counts_backward_and_the_teacher():
    assert benchmark.attainable_images_per_second(4e9, 10**6, teacher=True) == pytest.approx(1000.0)
    assert benchmark.attainable_images_per_second(3e9, 10**6, teacher=False) == pytest.approx(1000.0)


def test_benchmark_times_a_job_and_the_main_job_without_touching_results(tmp_path):
    config = table_5_2_config(["base", "finetune"])
    (tmp_path / "repo").mkdir()
    cwd = project(tmp_path / "repo", config)
    out = cwd / "reports" / "benchmark.md"
    result = benchmark.run_benchmark(cwd / "config.yaml", out, main_job=True, pipeline=False, repeat=1, cores=2)

    job = result["job"]
    phases = [key for key, _ in benchmark.PHASES]
    assert all(job[key] >= 0 for key in phases)
    assert sum(job[key] for key in phases) <= job["wall"] * 1.05  # the phases do not overlap
    assert job["epochs"] > 0 and job["images_per_second"] > 0 and job["images"] > 0
    assert result["network"]["attainable_images_per_second"] > 0 and result["matmul_gflops"] > 0
    main = result["main_job"]
    planned = snakemake(cwd, "-n").stdout
    assert main["jobs"] == int(re.search(r"^total\s+(\d+)", planned, re.M).group(1))  # every job ran
    assert main["evaluated_runs"] == 2  # base and finetune
    assert main["wall"] > 0 and main["max_rss_mib"] > 50  # a process that imported torch

    text = out.read_text()
    assert all(what in text for _, what in benchmark.PHASES) and "images/s" in text
    assert json.loads(out.with_suffix(".json").read_text())["job"]["wall"] == pytest.approx(job["wall"])
    assert not (cwd / "results").exists() and not (cwd / "data").exists()  # worked in a temporary directory
    assert yaml.safe_load((cwd / "config.yaml").read_text()) == config
