"""The HTML report (a small site, core/site.py) and the run's metadata it names: scale, seeds,
device, config hash, commit, packages and each study's data sets with their checksums."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

from retrieval_bench.core import registry
from retrieval_bench.core.config import digest

PACKAGES = ["retrieval_bench", "torch", "torchvision", "faiss-cpu", "scikit-learn", "snakemake",
            "pandas", "numpy"]
# ---------------------------------------------------------------- run metadata

def git_describe(where: Path) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(where), "describe", "--always", "--dirty", "--abbrev=12"],
                              capture_output=True, text=True, check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def git_commit(root: Path) -> str:
    """The commit of the project directory, else of the installed package's source."""
    return git_describe(root) or git_describe(Path(__file__).parent) or "unknown"


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def torch_device_name() -> str:
    """What torch computes on here: the CUDA device's name, or cpu."""
    try:
        import torch
    except ImportError:
        return "torch not installed"
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def device_text(config: dict) -> str:
    return f"{config.get('device', 'auto')} (torch sees: {torch_device_name()})"


def metadata_rows(config: dict, root: Path = Path(".")) -> list[tuple[str, str]]:
    return [("scale", config["scale"]),
            ("seeds", ", ".join(map(str, config["seeds"]))),
            ("device", device_text(config)),
            ("config hash", digest(config)),
            ("git commit", git_commit(root)),
            ("python", platform.python_version()),
            ("studies", ", ".join(config["studies"])),
            ("packages", ", ".join(f"{k} {v}" for k, v in package_versions().items())),
            # each study's own: the datasets it read, with their checksums (its report.metadata_rows)
            *[row for s in registry.with_foundations(config["studies"]) for row in _study_rows(s, config, root)]]


def _study_rows(study, config: dict, root: Path) -> list[tuple[str, str]]:
    try:
        module = study.module("report")
    except ModuleNotFoundError:
        return []
    return module.metadata_rows(config, root)


# ---------------------------------------------------------------- the report

def build_report(config: dict, table_csvs: list[Path], figures: list[Path], claims: Path | None,
                 out: Path, root: Path = Path(".")) -> list[Path]:
    """Write the report's site (core/site.py) with `out` its index.html; `root` is the project directory
    the dataset manifests are found under.  The pages written."""
    from retrieval_bench.core.site import build_site

    return build_site(config, table_csvs, figures, claims, out, metadata_rows(config, root))
