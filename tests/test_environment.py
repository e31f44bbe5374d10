"""The conda environments used by the rules agree with pyproject.toml."""

import re
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def normalise(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(map(normalise, project["dependencies"])), dict(map(normalise, project["optional-dependencies"]["gpu"]))


def env_pip(name):
    env = yaml.safe_load((ROOT / "envs" / name).read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return dict(normalise(r) for r in pip if not r.startswith("-e"))


def test_cpu_environment_matches_pyproject():
    base, _ = pyproject_requirements()
    assert env_pip("retrieval_bench.yaml") == base


def test_gpu_environment_swaps_faiss_cpu_for_the_gpu_extra():
    base, gpu = pyproject_requirements()
    expected = {k: v for k, v in base.items() if k != "faiss-cpu"} | gpu
    assert env_pip("retrieval_bench-gpu.yaml") == expected


@pytest.mark.parametrize("name", ["retrieval_bench.yaml", "retrieval_bench-gpu.yaml"])
def test_environments_install_this_package(name):
    env = yaml.safe_load((ROOT / "envs" / name).read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e .." in pip
