"""One cross-modal hashing run: (protocol, seed, configuration, bits) -> the
trained model, every query and database code with the labels, the metrics and
the lookup PR curve, and the per-epoch history of the named loss terms."""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

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
    extra: dict = field(default_factory=dict)  # recorded in metrics.json (protocol, configuration names)


def method_class(name: str) -> type[CrossModalMethod]:
    try:
        module = importlib.import_module(f"retrieval_bench.studies.crossmodal.methods.{name}")
    except ModuleNotFoundError as e:
        raise UserError(f"unknown cross-modal method {name!r}: a file methods/{name}.py of the cross-modal "
                        f"study") from e
    found = [c for c in vars(module).values() if isinstance(c, type) and getattr(c, "name", None) == name]
    return found[0]


def build_method(spec: RunSpec, shape: DataShape) -> CrossModalMethod:
    torch.manual_seed(spec.seed)  # the initial weights: one stream per seed
    return method_class(spec.method)(spec.hparams, shape, spec.schedule)


def inputs_of(data: paired.PairedData) -> tuple[np.ndarray, np.ndarray]:
    if data.images.ndim != 2:
        raise UserError(f"this data set holds images of shape {data.images.shape[1:]}; the cross-modal study "
                        f"trains on image features (N x D) so far: prepare the data set with image_input: "
                        f"features (spec chapter3.md 6.3)")
    return np.asarray(data.images, dtype=np.float32), zero_mean_texts(np.asarray(data.texts, dtype=np.float32))


def run(spec: RunSpec, out: Path, checkpoint_dir: Path, device: str = "cpu") -> dict:
    """Train (on `device`), encode and score; writes model.pt, codes.npz, metrics.json, pr.csv and
    history.csv in `out`."""
    tic = time.perf_counter()
    data = paired.load(spec.data)
    split = read_split(spec.split)
    images, texts = inputs_of(data)
    labels = np.asarray(data.labels)
    shape = DataShape(image_dim=images.shape[1], text_dim=texts.shape[1], labels=labels.shape[1], bits=spec.bits,
                      train_pairs=len(split["train"]))
    method = build_method(spec, shape).to(device)

    def rows(role: str) -> dict[str, torch.Tensor]:
        return {"image": torch.from_numpy(images[split[role]]), "text": torch.from_numpy(texts[split[role]])}

    train_labels = torch.from_numpy(labels[split["train"]].astype(np.float32))
    fingerprint = {"spec": {k: v for k, v in vars(spec).items() if k != "extra"}, "format": 1,
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
    save_torch({"method": spec.method, "hparams": method.hparams, "shape": vars(shape),
                "modules": {n: m.state_dict() for n, m in method.modules().items()}}, out / "model.pt")
    write_json(out / "metrics.json", metrics)  # last: its presence says the run is complete
    log.info("%s bits %d seed %d: I2T mAP %.4f, T2I mAP %.4f (%.1f s)", spec.method, spec.bits, spec.seed,
             metrics["image_to_text"]["map"], metrics["text_to_image"]["map"], metrics["seconds"]["total"])
    return metrics
