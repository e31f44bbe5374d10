"""A built wheel holds everything the package reads at run time."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "retrieval_bench"


def test_the_wheel_holds_the_schema_fragments_reference_csvs_and_claims(tmp_path):
    pytest.importorskip("setuptools")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "-q", "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    wheel, = (tmp_path / "dist").glob("retrieval_bench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [p.relative_to(ROOT / "src").as_posix() for p in PACKAGE.rglob("*")
              if p.suffix in (".yaml", ".csv", ".py") and "__pycache__" not in p.parts]
    assert len(wanted) > 100
    assert sorted(set(wanted) - names) == []
    for data in ("retrieval_bench/core/schema.yaml", "retrieval_bench/studies/incremental/schema.yaml",
                 "retrieval_bench/studies/lifelong/reference/claims.yaml",
                 "retrieval_bench/studies/incremental/reference/table_5_2.csv"):
        assert data in names
