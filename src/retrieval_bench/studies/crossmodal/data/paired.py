"""A paired data set: row i of `images`, `texts` and `labels` is one image-text pair.

`images` are feature vectors (N x D float32, the mini scale's stand-in and
the features mode) or images (N x H x W x 3 uint8); `texts` are bags of words
(N x V); `labels` are multi-hot rows (N x c, uint8) shared by both modalities.
On disk a prepared data set is a folder of three `.npy` files and `info.json`
(counts, source, checksums); the arrays are opened memory-mapped, so a
190,000-image NUS-WIDE array stays in the page cache, not in the heap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval_bench.core.errors import UserError
from retrieval_bench.core.io import atomic_path, read_json, write_json

ARRAYS = ("images", "texts", "labels")


@dataclass
class PairedData:
    images: np.ndarray
    texts: np.ndarray
    labels: np.ndarray
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        n = {name: len(getattr(self, name)) for name in ARRAYS}
        if len(set(n.values())) != 1:
            raise ValueError(f"a paired data set has as many images, texts and labels; got {n}")
        if self.labels.ndim != 2 or self.texts.ndim != 2:
            raise ValueError(f"texts and labels are N x V and N x c; got {self.texts.shape} and {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    def statistics(self) -> dict[str, float]:
        """What a reader compares with the real data set: sizes, labels per pair, how often the
        most and least frequent labels occur, and the share of pairs that share a label (the
        mAP of random codes)."""
        labels = np.asarray(self.labels, dtype=np.float32)
        frequency = labels.mean(axis=0)
        sample = labels[np.random.default_rng(0).permutation(len(labels))[:2000]]
        return {"pairs": len(labels), "labels": labels.shape[1], "text_dimension": self.texts.shape[1],
                "labels_per_pair": float(labels.sum(axis=1).mean()),
                "top_label_frequency": float(frequency.max()), "rarest_label_frequency": float(frequency.min()),
                "positive_pair_density": float(((sample @ sample.T) > 0).mean())}


def save(data: PairedData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ARRAYS:
        with atomic_path(folder / f"{name}.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(getattr(data, name)))
    write_json(folder / "info.json", {**data.info, "statistics": data.statistics()})


def load(folder: Path, mmap: bool = True) -> PairedData:
    missing = [name for name in (*[f"{a}.npy" for a in ARRAYS], "info.json") if not (folder / name).is_file()]
    if missing:
        raise UserError(f"{folder} is not a prepared paired data set (missing {', '.join(missing)}); "
                        f"build it with the prepare step of its protocol")
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None) for name in ARRAYS}
    return PairedData(**arrays, info=read_json(folder / "info.json"))
