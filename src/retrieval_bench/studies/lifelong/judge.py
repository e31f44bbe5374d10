"""Chapter 7's measurements of images rather than of retrieval runs: Table 7.5
(Inception score and Fréchet distance of images generated from a model's
BatchNorm statistics) and Fig. 7.8(a, b) (Recall@1 and top-1 under Gaussian
noise).

Table 7.5 needs a judge network that no evaluated model is built from.  At
thesis scale it is torchvision's Inception-v3 on ImageNet (IS from its
1000-way softmax, the Fréchet distance on its 2048-d pool features).  That is
the thesis's FID formula but not pytorch-fid's FID network (a port of the
2015 TensorFlow graph, other weights and pooling), so the column is named
`frechet_distance`: comparable with the thesis's FID in order, not to the
digit.  Offline (spec 10.4) the judge is a `small_convnet` classifier trained
here on the first dataset's real images, and the numbers are the same
formulas on its outputs: comparable in order (noise > generated > real), not
in value, with the thesis.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from retrieval_bench.retrieval.metrics import recall_at_k, same_label
from retrieval_bench.studies.incremental.measures import top1_accuracy
from retrieval_bench.studies.lifelong.generation import IMAGENET_MEAN, IMAGENET_STD, generate_images, generation_options
from retrieval_bench.studies.lifelong.measures import bootstrap_floor, frechet_distance, inception_score
from retrieval_bench.vision.loading import ImageSet
from retrieval_bench.vision.models import EmbeddingNet

log = logging.getLogger(__name__)

INCEPTION_URL = "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"
INCEPTION_FILE = Path("data/weights") / INCEPTION_URL.rsplit("/", 1)[1]
JUDGE_BACKBONE = "small_convnet"  # spec 10.4: 256-d pooled features, whatever the scale's backbone
JUDGE_EMBEDDING_DIM = 128
NOISE_RATIOS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
NOISE_STD = 0.1  # "sampled from N(0, 0.1)", read as the standard deviation (spec 2.8)


def first_dataset(split_frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the sequence's first dataset (task 0), whose base model generates."""
    rows = split_frame[split_frame["task"] == 0]
    if rows.empty:
        raise ValueError("the split has no rows of task 0")
    return rows


def seen_classes(split_frame: pd.DataFrame) -> list[int]:
    """The first dataset's seen labels, in order; the base model's classifier
    outputs 0..n_seen-1 are these (the unseen labels follow them)."""
    labels = sorted(first_dataset(split_frame).query("part == 'seen'")["label"].unique().tolist())
    if labels != list(range(len(labels))):
        raise ValueError(f"task 0's seen labels should be 0..{len(labels) - 1}, got {labels[:5]}...")
    return labels


def judge_rows(split_frame: pd.DataFrame) -> pd.DataFrame:
    """The judge's training images (spec 10.4): every seen-class training image
    of the first dataset and the first half (path order) of each unseen class's
    images, so the judge knows all its classes, as Inception knows ImageNet's."""
    rows = first_dataset(split_frame)
    unseen = rows[rows["part"] == "unseen"].sort_values("path")
    by_class = unseen.groupby("label")
    half = unseen[by_class.cumcount() < by_class["label"].transform("size") // 2]
    return pd.concat([rows[(rows["part"] == "seen") & (rows["split"] == "train")], half]).reset_index(drop=True)


def load_images(rows: pd.DataFrame, root: Path, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of `rows` as one N x 3 x S x S tensor in [0, 1], with their labels."""
    data = ImageSet(rows, root, image_size, train=False, in_memory=True)
    return data.batch(range(len(data)), augment=False)


def train_judge(images_set: ImageSet, n_classes: int, backbone: str = JUDGE_BACKBONE, seed: int = 0,
                epochs: int = 10, lr: float = 1e-3, batch_size: int = 64, device="cpu",
                history: list | None = None) -> EmbeddingNet:
    """Cross-entropy training of a fresh EmbeddingNet classifier (Adam, random
    horizontal flips), from a random init drawn with `seed` so the judge shares
    nothing with the evaluated models.  Per-epoch loss and accuracy are
    appended to `history` when given; returns the judge in eval mode."""
    with torch.random.fork_rng(devices=[]):  # the init from `seed` without touching the caller's RNG
        torch.manual_seed(seed)
        model = EmbeddingNet(backbone, JUDGE_EMBEDDING_DIM, n_classes)
    model.to(device)
    if len(images_set) and int(images_set.labels.max()) >= n_classes:
        raise ValueError(f"judge labels reach {int(images_set.labels.max())}, but it has {n_classes} classes")
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        model.train()
        total, correct, tic = 0.0, 0, time.perf_counter()
        for indices in torch.randperm(len(images_set), generator=generator).split(batch_size):
            images, labels = images_set.batch(indices, augment=False)
            flip = torch.rand(len(indices), generator=generator) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(3), images).to(device)
            labels = labels.to(device)
            logits = model(images)[1]
            loss = F.cross_entropy(logits, labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
        entry = {"epoch": epoch + 1, "loss": total / len(images_set), "accuracy": correct / len(images_set)}
        log.info("judge epoch %d/%d: loss %.4f, train accuracy %.3f, %.1f s", epoch + 1, epochs, entry["loss"],
                 entry["accuracy"], time.perf_counter() - tic)
        if history is not None:
            history.append(entry)
    return model.eval()


class InceptionJudge(nn.Module):
    """torchvision's Inception-v3 with the Google ImageNet weights: images in
    [0, 1] at any size -> (1000-way logits, 2048-d pool features), resized to
    299 and ImageNet-normalised (the weights' `transform_input` maps that to
    the [-1, 1] input they were trained on)."""

    def __init__(self, state_dict: dict):
        super().__init__()
        from torchvision.models import inception_v3

        net = inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
        net.load_state_dict(state_dict)
        self.fc, net.fc = net.fc, nn.Identity()  # net now ends at the pooled (dropout: identity in eval) features
        self.net = net.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
        features = self.net((x - self.mean) / self.std)
        return self.fc(features), features


def load_inception_judge(path: Path = INCEPTION_FILE) -> InceptionJudge:
    """The thesis-scale judge from a weights file already on disk (nothing is
    downloaded: the jobs run offline); checked by the sha256 prefix in its name."""
    from retrieval_bench.vision.archives import file_digest
    from retrieval_bench.vision.models.weights import WeightsError

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Table 7.5 at thesis scale needs the Inception-v3 weights at {path}; download "
                           f"{INCEPTION_URL} on a machine with network access and put the file there")
    prefix = path.stem.rsplit("-", 1)[-1]
    digest = file_digest(path, "sha256")
    if not digest.startswith(prefix):
        raise WeightsError(f"{path} has sha256 {digest}, but its name says it starts with {prefix}; "
                           f"download {INCEPTION_URL} again")
    return InceptionJudge(torch.load(path, map_location="cpu", weights_only=True)).eval()


@torch.no_grad()
def judge_outputs(judge: nn.Module, images: torch.Tensor, batch_size: int = 256,
                  device=None) -> tuple[np.ndarray, np.ndarray]:
    """(softmax probabilities, features) of images in [0, 1].  The features
    are the global-max-pooled trunk (or Inception's pool) features, not the
    embedding: FID's features are the layer below the classifier's linear
    read-out, which keeps what the last layer discards, and the pooled
    features depend on no layer trained for one task only.  The sets compared
    here have hundreds of images or more, enough for their 256-d covariance."""
    device = torch.device(device) if device is not None else next(judge.parameters()).device
    judge.eval().to(device)
    probabilities, features = [], []
    for batch in images.split(batch_size):
        batch = batch.to(device)
        if isinstance(judge, EmbeddingNet):
            pooled = torch.amax(judge.trunk(judge.normalise_input(batch)), dim=(2, 3))
            logits = judge.classifier(judge.embedding(pooled))
        else:
            logits, pooled = judge(batch)
        probabilities.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
        features.append(pooled.double().cpu().numpy())
    return np.concatenate(probabilities), np.concatenate(features)


def batch_seed(seed: int, batch: int) -> int:
    """Generation seed of batch `batch`: one independent stream per (seed, batch)."""
    return int(np.random.SeedSequence([seed, batch]).generate_state(1)[0])


def _mean_losses(entries: list[dict]) -> dict:
    return {key: float(np.mean([e[key] for e in entries])) for key in ("L_BN", "L_cluster", "total")}


def generation_quality(split_frame: pd.DataFrame, data_root: Path, image_size: int, base_model: EmbeddingNet,
                       judge: nn.Module, generation: dict, quality: dict, seed: int = 0, device="cpu") -> dict:
    """Table 7.5: Inception score and Fréchet distance of the generator's initial Gaussian
    noise, of the images it generates and of the real "origin" images (all
    images, train and test, of the first `origin_classes` seen classes of the
    first dataset), the Fréchet distance to the origin set, plus the distance
    between two bootstrap resamples of the origin set at its own size (the
    floor a generated set of that size can reach).  The distance is taken on
    the judge's pooled features: at thesis scale torchvision's ImageNet
    Inception-v3, not pytorch-fid's FID network, hence its name.

    As many images are generated as the origin set has, in independent batches
    of clusters x per_cluster with the `generation` settings (the generator has
    cluster ids, not classes, so "equal numbers per class" means equal in
    total).  Returns plain numbers, and under "images" the generated and noise
    images (uint8) for a figure: the caller removes them before writing JSON.
    """
    n_classes = int(quality["origin_classes"])
    seen = seen_classes(split_frame)
    if n_classes > len(seen):
        raise ValueError(f"origin_classes {n_classes}: the first dataset has only {len(seen)} seen classes")
    rows = first_dataset(split_frame)
    origin_rows = rows[(rows["part"] == "seen") & rows["label"].isin(seen[:n_classes])].sort_values(["label", "path"])
    origin, _ = load_images(origin_rows, data_root, image_size)
    n = len(origin)
    options = generation_options(generation)
    options.pop("batches", None)  # here: as many K x P batches as the origin set needs
    per_batch = options.get("n_clusters", 8) * options.get("per_cluster", 4)
    batches = math.ceil(n / per_batch)
    generated, noise, labels, first, last = [], [], [], [], []
    tic = time.perf_counter()
    for b in range(batches):
        result = generate_images(base_model, image_size=image_size, seed=batch_seed(seed, b), device=device,
                                 snapshots=(0,), log_every=0, **options)
        generated.append(result["images"])
        noise.append(result["snapshots"][0])
        labels.append(result["labels"] + b * result["settings"]["n_clusters"])  # one id range per batch
        if result["log"]:
            first.append(result["log"][0])
            last.append(result["log"][-1])
        log.info("generation batch %d/%d done, %.1f s so far", b + 1, batches, time.perf_counter() - tic)
    sets = {"noise": torch.cat(noise)[:n], "generated": torch.cat(generated)[:n], "origin": origin}
    outputs = {name: judge_outputs(judge, images, device=device) for name, images in sets.items()}
    splits = int(quality["splits"])
    reference = outputs["origin"][1]
    table = []
    for name, (probabilities, features) in outputs.items():
        score, spread = inception_score(probabilities, splits, seed=seed)  # shuffled: origin is sorted by class
        table.append({"configuration": name, "images": len(features), "inception_score_mean": score,
                      "inception_score_std": spread, "frechet_distance": frechet_distance(features, reference)})
        log.info("%s: IS %.3f +- %.3f, Fréchet distance %.2f", name, score, spread, table[-1]["frechet_distance"])
    floor, floor_spread = bootstrap_floor(reference, seed=seed)
    log.info("real floor (two bootstrap resamples of the origin set): %.2f +- %.2f", floor, floor_spread)
    to_uint8 = lambda x: (x * 255).round().to(torch.uint8)  # noqa: E731
    return {
        "rows": table, "real_bootstrap": floor, "real_bootstrap_std": floor_spread, "origin_images": n,
        "origin_classes": n_classes, "judge": quality["judge"], "splits": splits, "seed": seed,
        "generation": {"batches": batches, "images_per_batch": per_batch, "settings": options,
                       "first_losses": _mean_losses(first) if first else {},
                       "last_losses": _mean_losses(last) if last else {}},
        "images": {"generated": to_uint8(sets["generated"]), "noise": to_uint8(sets["noise"]),
                   "labels": torch.cat(labels)[:n]},
    }


@torch.no_grad()
def _model_outputs(model: EmbeddingNet, images: torch.Tensor, batch_size: int, device) -> tuple[np.ndarray, np.ndarray]:
    model.eval().to(device)
    outputs = [model(batch.to(device)) for batch in images.split(batch_size)]
    return (torch.cat([o[0] for o in outputs]).float().cpu().numpy(),
            torch.cat([o[1] for o in outputs]).float().cpu().numpy())


def noise_sensitivity(split_frame: pd.DataFrame, data_root: Path, image_size: int, model: EmbeddingNet,
                      ratios=NOISE_RATIOS, seed: int = 0, device="cpu", batch_size: int = 256) -> list[dict]:
    """Fig. 7.8(a, b): on the first dataset's seen test images,
    x' = clip(x + r eps, 0, 1) with one eps ~ N(0, 0.1^2) per pixel (seeded,
    the same for every ratio and both measures); Recall@1 with the noisy images
    as query and gallery, and top-1 over the first dataset's classifier outputs
    only (the old classes).  Values in percent; degradation relative to r = 0."""
    n_seen = len(seen_classes(split_frame))
    rows = first_dataset(split_frame)
    images, labels = load_images(rows[(rows["part"] == "seen") & (rows["split"] == "test")], data_root, image_size)
    eps = NOISE_STD * torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))
    values = {}
    for r in sorted({0.0, *map(float, ratios)}):
        features, logits = _model_outputs(model, (images + r * eps).clamp(0, 1), batch_size, device)
        values[r] = {"retrieval": 100 * recall_at_k(features, relevance=same_label(labels.numpy()), ks=(1,))[1],
                     "classification": 100 * top1_accuracy(logits[:, :n_seen], labels.numpy())}
        log.info("noise ratio %.2f: Recall@1 %.2f %%, top-1 %.2f %%", r, *values[r].values())
    return [{"noise_ratio": float(r), "measure": measure, "value": values[float(r)][measure],
             "degradation": (values[0.0][measure] - values[float(r)][measure]) / values[0.0][measure]
             if values[0.0][measure] else float("nan")}
            for r in ratios for measure in ("retrieval", "classification")]
