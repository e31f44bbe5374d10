"""One cross-modal hashing run: (protocol, seed, configuration, bits) -> the
trained model, every query and database code with the labels, the metrics and
the lookup PR curve, and the per-epoch history of the named loss terms."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from retrieval_bench.core import registry
from retrieval_bench.core.errors import UserError
from retrieval_bench.core.io import atomic_path, save_torch, write_json
from retrieval_bench.studies.crossmodal import evaluate
from retrieval_bench.studies.crossmodal.data import paired
from retrieval_bench.studies.crossmodal.data.splits import read_split
from retrieval_bench.studies.crossmodal.methods.base import CrossModalMethod, DataShape
from retrieval_bench.studies.crossmodal.train import train, zero_mean_texts

log = logging.getLogger(__name__)


@dataclass
class RunSpec:
    data: Path                 # a prepared paired data set (data/paired.py)
    split: Path                # its split CSV (data/splits.py)
    method: str                # a file of methods/
    hparams: dict
    bits: int
    seed: int
    schedule: dict             # optimizer, lr_start, lr_end, epochs, batch, weight_decay, checkpoint_seconds
    ties: str = "stable"
    image_weights: Path | None = None  # CNN-F's MatConvNet file, where the data set holds images
    extra: dict = field(default_factory=dict)  # recorded in metrics.json (protocol, configuration names)


def build_method(spec: RunSpec, shape: DataShape) -> CrossModalMethod:
    torch.manual_seed(spec.seed)  # the initial weights: one stream per seed
    return registry.method_class(spec.method)(spec.hparams, shape, spec.schedule)


class RowSource:
    """Rows `index` of an array (a memory-mapped one too), read as tensors a batch at a time: a thesis-scale
    image array (3 GB for MIRFlickr-25K, 28 GB for NUS-WIDE) is never read whole."""

    def __init__(self, array: np.ndarray, index: np.ndarray, dtype=np.float32):
        self.array, self.index, self.dtype = array, np.asarray(index), dtype

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, rows) -> torch.Tensor:
        picked = self.index[rows.cpu().numpy() if isinstance(rows, torch.Tensor) else rows]
        return torch.from_numpy(np.ascontiguousarray(self.array[picked], dtype=self.dtype))


def image_trunk(data: paired.PairedData, spec: RunSpec):
    """None where the images are feature vectors; CNN-F from `spec.image_weights` where they are images."""
    if data.images.ndim == 2:
        return None
    if data.images.ndim != 4 or data.images.shape[-1] != 3:
        raise UserError(f"{spec.data}: images of shape {data.images.shape[1:]}: give N x D features or N x H x W x 3 "
                        f"images")
    if spec.image_weights is None:
        raise UserError(f"{spec.data} holds images, not features: set the protocol's paired.image_input: images "
                        f"so that CNN-F encodes them")
    if not Path(spec.image_weights).is_file():
        raise UserError(f"CNN-F's weights {spec.image_weights} are missing (crossmodal_training.cnn_f_weights; "
                        f"the workflow's xm_weights step places them)")
    from retrieval_bench.vision.models.cnn_f import load_cnn_f

    return load_cnn_f(Path(spec.image_weights))


def run(spec: RunSpec, out: Path, checkpoint_dir: Path, device: str = "cpu") -> dict:
    """Train (on `device`), encode and score; writes model.pt, codes.npz, metrics.json, pr.csv and
    history.csv in `out`."""
    tic = time.perf_counter()
    data = paired.load(spec.data)
    split = read_split(spec.split)
    texts = zero_mean_texts(np.asarray(data.texts, dtype=np.float32))
    labels = np.asarray(data.labels)
    trunk = image_trunk(data, spec)
    images_are_features = trunk is None
    shape = DataShape(image_dim=data.images.shape[1] if images_are_features else trunk.out_features,
                      text_dim=texts.shape[1], labels=labels.shape[1], bits=spec.bits,
                      train_pairs=len(split["train"]), image_trunk=trunk)
    method = build_method(spec, shape).to(device)

    def rows(role: str) -> dict[str, RowSource]:
        return {"image": RowSource(data.images, split[role], np.float32 if images_are_features else np.uint8),
                "text": RowSource(texts, split[role])}

    train_labels = torch.from_numpy(labels[split["train"]].astype(np.float32))
    fingerprint = {"spec": {k: v for k, v in vars(spec).items() if k != "extra"}, "format": 1,
                   "image_weights_mtime": Path(spec.image_weights).stat().st_mtime if trunk is not None else None,
                   "train": split["train"].tolist()}
    history = train(method, rows("train"), train_labels, spec.schedule, spec.seed, checkpoint_dir, fingerprint,
                    device=device)
    trained = time.perf_counter() - tic
    query, database = (evaluate.codes_of(method, rows(role), device) for role in ("query", "database"))
    metrics, curves = evaluate.score(query, database, labels[split["query"]], labels[split["database"]], spec.ties)
    metrics |= {"method": spec.method, "seed": spec.seed, "device": str(device), "hparams": method.hparams,
                "schedule": spec.schedule,
                **spec.extra, "seconds": {"training": round(trained, 2), "total": round(time.perf_counter() - tic, 2)},
                "pairs": {role: int(len(split[role])) for role in ("query", "database", "train")}}
    out.mkdir(parents=True, exist_ok=True)
    evaluate.save_codes(out / "codes.npz", query, database, labels[split["query"]], labels[split["database"]])
    for name, frame in (("pr.csv", curves), ("history.csv", pd.DataFrame(history))):
        with atomic_path(out / name) as tmp:
            frame.to_csv(tmp, index=False)
    save_torch({"method": spec.method, "hparams": method.hparams,
                "shape": {k: v for k, v in vars(shape).items() if k != "image_trunk"},
                "modules": {n: m.state_dict() for n, m in method.modules().items()}}, out / "model.pt")
    write_json(out / "metrics.json", metrics)  # last: its presence says the run is complete
    log.info("%s bits %d seed %d: I2T mAP %.4f, T2I mAP %.4f (%.1f s)", spec.method, spec.bits, spec.seed,
             metrics["image_to_text"]["map"], metrics["text_to_image"]["map"], metrics["seconds"]["total"])
    return metrics
