"""One chapter 4 run: (protocol, seed, configuration, backbone) -> the trained
model, the embeddings it was scored on (with their image, instance and fold
ids), the metrics of both directions and the per-epoch history (every loss
term, the discriminator's accuracy and entropy, the input means)."""

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
from retrieval_bench.studies.crossmodal import sentence_evaluate
from retrieval_bench.studies.crossmodal.data import captions as captioned
from retrieval_bench.studies.crossmodal.embedding_method import EmbeddingMethod, SentenceShape
from retrieval_bench.studies.crossmodal.sentence_encoders import mini_trunk
from retrieval_bench.studies.crossmodal.sentence_train import TrainingPairs, train

log = logging.getLogger(__name__)


@dataclass
class RunSpec:
    data: Path                 # a prepared captioned data set (data/captions.py)
    name: str                  # the data set's name in the tables (flickr30k, coco, ...)
    method: str                # a file of methods/ (itmeetsal, vsepp)
    hparams: dict
    model: str                 # the image encoder: a mini stand-in or a thesis backbone
    seed: int
    schedule: dict             # the scale's crossmodal_embedding block
    weights: Path | None = None  # the backbone's ImageNet weights (thesis scale)
    extra: dict = field(default_factory=dict)  # recorded in metrics.json (protocol, configuration, backbone)


class FeatureImages:
    """Images that are feature vectors (the mini stand-ins): rows of one array."""

    def __init__(self, features: np.ndarray):
        self.features = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.features)

    def batch(self, indices, train: bool, generator=None) -> torch.Tensor:
        return self.features[torch.from_numpy(np.array(indices, dtype=np.int64))]


def image_source(data: captioned.CaptionedData, spec: RunSpec):
    if data.has_features:
        return FeatureImages(data.images)
    from retrieval_bench.studies.crossmodal.data.caption_images import ImageFiles
    from retrieval_bench.vision.models.image_trunks import IMAGENET_MEAN_STD

    mean, std = IMAGENET_MEAN_STD[spec.model]
    root = Path(data.info["root"])
    size = spec.schedule.get("image_size", 224)
    return ImageFiles(root if root.is_absolute() else spec.data / root, data.images, image_size=size,
                      resize=round(size * 256 / 224), mean=mean, std=std,  # 256 then 224 (VSE++'s test crop)
                      workers=spec.schedule.get("workers", 0))


def image_trunk(data: captioned.CaptionedData, spec: RunSpec):
    if spec.model.startswith("mini_"):
        if not data.has_features:
            raise UserError(f"{spec.data} holds image files: the mini stand-in {spec.model} reads feature vectors; "
                            f"map the backbone to a thesis model (scales.<scale>.crossmodal_embedding.backbones)")
        return mini_trunk(spec.model, data.images.shape[1])
    if data.has_features:
        raise UserError(f"{spec.data} holds feature vectors: backbone {spec.model} reads images; use a mini "
                        f"stand-in (mini_vgg, mini_mobilenet, mini_resnet50, mini_resnet152)")
    from retrieval_bench.vision.models.image_trunks import thesis_image_trunk

    return thesis_image_trunk(spec.model, spec.weights)


def build_method(spec: RunSpec, shape: SentenceShape) -> EmbeddingMethod:
    return registry.method_class(spec.method)(spec.hparams, shape, spec.schedule, spec.seed)


def run(spec: RunSpec, out: Path, checkpoint_dir: Path, device: str = "cpu") -> dict:
    """Train (on `device`), embed the test set and score it; writes model.pt, embeddings.npz, metrics.json
    and history.csv in `out`."""
    tic = time.perf_counter()
    data = captioned.load(spec.data)
    max_tokens = spec.schedule["text"]["max_tokens"]
    training = data.role("train")
    if training.empty or data.role("test").empty:
        raise UserError(f"{spec.data}: a run needs training and test captions; check its captions.csv roles")
    instances = np.unique(training["instance"].to_numpy())
    labels = np.searchsorted(instances, training["instance"].to_numpy())
    tokens, lengths = data.vocabulary.ids(training["text"], max_tokens)
    images = image_source(data, spec)
    torch.manual_seed(spec.seed)  # the initial weights and dropout: one stream per seed
    trunk, width = image_trunk(data, spec)
    method = build_method(spec, SentenceShape(len(data.vocabulary), len(instances), trunk, width)).to(device)
    pairs = TrainingPairs(images, training["image"].to_numpy(), tokens, lengths, labels)
    fingerprint = {"spec": {k: v for k, v in vars(spec).items() if k != "extra"}, "format": 1}
    history = train(method, pairs, spec.schedule, spec.seed, checkpoint_dir, fingerprint, device=device)
    trained = time.perf_counter() - tic

    test = data.role("test").reset_index(drop=True)
    image_rows = test["image"].drop_duplicates().to_numpy()
    test_tokens, test_lengths = data.vocabulary.ids(test["text"], max_tokens)
    image_emb, text_emb = sentence_evaluate.embed(method, images, image_rows, test_tokens, test_lengths, device)
    groups = sentence_evaluate.score(spec.name, test, image_rows, image_emb, text_emb)
    metrics = {"groups": groups, "method": spec.method, "model": spec.model, "seed": spec.seed,
               "device": str(device), "hparams": method.hparams, **spec.extra,
               "seconds": {"training": round(trained, 2), "total": round(time.perf_counter() - tic, 2)},
               "pairs": {"train": int(len(training)), "test": int(len(test)), "test_images": int(len(image_rows))},
               "instances": int(len(instances))}
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "embeddings.npz") as tmp, open(tmp, "wb") as f:
        image_instance = test.drop_duplicates("image")["instance"].to_numpy()
        np.savez_compressed(f, image_embeddings=image_emb, text_embeddings=text_emb, image_ids=image_rows,
                            image_instances=image_instance, caption_ids=test["caption"].to_numpy(),
                            caption_images=test["image"].to_numpy(), caption_instances=test["instance"].to_numpy(),
                            caption_folds=test["fold"].to_numpy())
    with atomic_path(out / "history.csv") as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    save_torch({"method": spec.method, "hparams": method.hparams, "model": spec.model,
                "modules": {n: m.state_dict() for n, m in method.modules().items()}}, out / "model.pt")
    write_json(out / "metrics.json", metrics)  # last: its presence says the run is complete
    first = next(iter(groups.values()))
    log.info("%s %s seed %d: i2t R@1 %.3f, t2i R@1 %.3f (%.1f s)", spec.method, spec.model, spec.seed,
             first["i2t"]["recall@1"], first["t2i"]["recall@1"], metrics["seconds"]["total"])
    return metrics
