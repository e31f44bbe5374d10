"""A vector set as the hashing study reads it: one folder of .npy files.

    features.npy     N x D float32: the items queries and database are drawn from (texmex: the base set)
    labels.npy       N int64 class ids, or N x L uint8 multi-hot rows (NUS-WIDE); absent: no labels
    queries.npy      Q x D float32: a fixed query set (texmex); absent: queries are drawn from the items
    groundtruth.npy  Q x k int64: the fixed queries' nearest items (rows of features.npy), nearest first
    view_b.npy       N x D' float32: a second view of the same items (the deck's works 1 and 2); absent: none
    info.json        the data set's name, counts, label kind and the md5 of every source file (written last:
                     its presence says the folder is complete)

The arrays are opened memory-mapped: GIST-1M's 3.8 GB is never read whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval_bench.core.io import atomic_path, read_json, write_json

LABEL_KINDS = ("class", "multi", "none")


@dataclass
class VectorSet:
    features: np.ndarray
    labels: np.ndarray | None = None
    queries: np.ndarray | None = None
    groundtruth: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    view_b: np.ndarray | None = None

    @property
    def label_kind(self) -> str:
        if self.labels is None:
            return "none"
        return "class" if self.labels.ndim == 1 else "multi"

    def statistics(self) -> dict:
        out = {"items": int(len(self.features)), "dim": int(self.features.shape[1]), "labels": self.label_kind}
        if self.labels is not None:
            out["classes"] = int(self.labels.max() + 1) if self.labels.ndim == 1 else int(self.labels.shape[1])
        if self.queries is not None:
            out["fixed_queries"] = int(len(self.queries))
        if self.groundtruth is not None:
            out["groundtruth_k"] = int(self.groundtruth.shape[1])
        if self.view_b is not None:
            out["view_b_dim"] = int(self.view_b.shape[1])
        return out


def save(data: VectorSet, folder: Path) -> None:
    """Write every array (each atomically), then info.json."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"features": data.features, "labels": data.labels, "queries": data.queries,
              "groundtruth": data.groundtruth, "view_b": data.view_b}
    for name, array in arrays.items():
        path = folder / f"{name}.npy"
        if array is None:
            path.unlink(missing_ok=True)
            continue
        if name == "features" and isinstance(array, np.memmap) and Path(array.filename) == path:
            continue  # written in place a chunk at a time (a large base set)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array))
    write_json(folder / "info.json", data.info | {"statistics": data.statistics()})


def load(folder: Path, mmap: bool = True) -> VectorSet:
    folder = Path(folder)
    if not (folder / "info.json").is_file():
        raise FileNotFoundError(f"{folder} holds no prepared vector set (no info.json): run hash-prepare first")
    mode = "r" if mmap else None

    def optional(name):
        path = folder / f"{name}.npy"
        return np.load(path, mmap_mode=mode) if path.is_file() else None

    return VectorSet(np.load(folder / "features.npy", mmap_mode=mode), optional("labels"), optional("queries"),
                     optional("groundtruth"), read_json(folder / "info.json"), optional("view_b"))
