"""Images from a split manifest, their transforms, and the P x K batch sampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from retrieval_bench.vision.decoded import (
    TRAIN_SCALE,
    DecodedImages,
    augment_batch,
    crop_params,
    eval_batch,
    resized_crops,
    shorter_side,
)


class ImageSet(torch.utils.data.Dataset):
    """Labelled images read from manifest rows (columns `path`, `label`).

    `root` is the folder the manifest paths are relative to.  Small images
    (the mini scale) are decoded once and kept in memory; large ones are read
    per access with the thesis's torchvision transforms, from the JPEG files
    or, given `decoded` (a cache folder of data/decoded.py), from the
    decoded-image cache with the same crop boxes and flips.
    """

    decoded: DecodedImages | None = None  # set when the images come from the decoded-image cache

    def __init__(self, rows: pd.DataFrame, root: str | Path, image_size: int, train: bool, in_memory: bool = False,
                 decoded: str | Path | None = None):
        self.paths = [Path(root) / p for p in rows["path"]]
        self.labels = torch.tensor(rows["label"].to_numpy(), dtype=torch.long)
        self.image_size, self.train = image_size, train
        # resize 256 / crop 224 and RandomResizedCrop scale (0.16, 1), as the original code
        resize = shorter_side(image_size)
        self.cache = self.transform = self.plain_transform = None
        if not in_memory:  # torchvision costs about 1 s to import: only file-backed sets need it
            # the decoded cache's crops use the same scale range: both pipelines draw the same boxes
            self.transform = _thesis_transform(image_size, resize, train, TRAIN_SCALE)
            self.plain_transform = _thesis_transform(image_size, resize, False, TRAIN_SCALE)
        else:
            arrays = [np.asarray(Image.open(p).convert("RGB").resize((image_size, image_size))) for p in self.paths]
            self.cache = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous() if arrays else \
                torch.empty(0, 3, image_size, image_size, dtype=torch.uint8)
        if decoded is not None and not in_memory:
            self.decoded = DecodedImages(decoded, shorter_side=resize)
            self.positions = self.decoded.positions(rows["path"])

    @property
    def in_process(self) -> bool:
        """Batches are made in this process (in memory, or from the decoded
        cache), not by DataLoader workers."""
        return self.cache is not None or self.decoded is not None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if self.cache is not None:
            return self.cache[i].float() / 255.0, self.labels[i]
        if self.decoded is not None:  # training: the box drawn from torch's RNG, as the transforms draw it
            if not self.train:
                return eval_batch(self.decoded, self.positions[i:i + 1], self.image_size)[0], self.labels[i]
            position = int(self.positions[i])
            box = crop_params(*self.decoded.shape(position))
            return resized_crops(self.decoded, [position], [box], self.image_size)[0], self.labels[i]
        return self._read(i, self.transform), self.labels[i]

    def _read(self, i: int, transform) -> torch.Tensor:
        return transform(Image.open(self.paths[i]).convert("RGB"))

    def batch(self, indices, generator: torch.Generator | None = None, augment: bool = True, device="cpu"):
        """A batch as (images, labels); in-memory training sets augment on whole
        tensors (unless `augment` is False), file-backed ones per image, decoded
        ones per image from seeds drawn from `generator` (as `SeededBatches`
        draws them; resized on `device`)."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        if self.decoded is not None:
            if self.train and augment:
                return self.seeded_batch(zip(indices.tolist(), draw_seeds(len(indices), generator)), device)
            return eval_batch(self.decoded, self.positions[indices.numpy()], self.image_size), self.labels[indices]
        if self.cache is None:
            transform = self.transform if augment else self.plain_transform
            images = [self._read(int(i), transform) for i in indices]
            return torch.stack(images), self.labels[indices]
        images = self.cache[indices].float() / 255.0
        if self.train and augment:
            images = _augment_small(images, generator)
        return images, self.labels[indices]

    def seeded_batch(self, items, device="cpu"):
        """A training batch of the decoded cache from `(index, seed)` items
        (`SeededBatches`): each image's crop box and flip are the ones the PIL
        path's transforms draw with that seed; the crops are resized on `device`."""
        indices, seeds = zip(*items)
        indices = torch.tensor(indices, dtype=torch.long)
        images = augment_batch(self.decoded, self.positions[indices.numpy()], seeds, self.image_size, device)
        return images, self.labels[indices]


def _augment_small(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Random horizontal flip and a random crop of a 3-pixel padded image."""
    n, _, h, w = images.shape
    flip = torch.rand(n, generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    pad = 3
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def _thesis_transform(size: int, resize: int, train: bool, crop_scale):
    from torchvision import transforms as T

    if train:
        return T.Compose([T.Resize(resize), T.RandomResizedCrop(size, scale=crop_scale),
                          T.RandomHorizontalFlip(), T.ToTensor()])
    return T.Compose([T.Resize(resize), T.CenterCrop(size), T.ToTensor()])


class PKSampler:
    """Batches of P classes x K images, as in the original code.

    One epoch draws every class `rounds` times, in a random class order; each
    draw takes K images of the class (without replacement while the class has
    enough, with replacement otherwise).  Consecutive draws are grouped P at a
    time and an incomplete last batch is dropped.
    """

    def __init__(self, labels: torch.Tensor, p: int, k: int, rounds: int = 1, seed: int = 0):
        self.p, self.k, self.rounds = p, k, rounds
        labels = torch.as_tensor(labels)
        self.classes = sorted(int(c) for c in labels.unique())
        self.by_class = {c: torch.nonzero(labels == c).flatten() for c in self.classes}
        self.generator = torch.Generator().manual_seed(seed)
        if len(self) == 0:
            raise ValueError(
                f"the P x K sampler makes no batch: {len(self.classes)} classes x {rounds} rounds "
                f"< P = {p}; lower `batch.p` or raise `batch.rounds` in config.yaml"
            )

    def __len__(self) -> int:
        return len(self.classes) * self.rounds // self.p

    def __iter__(self):
        draws = []
        for _ in range(self.rounds):
            order = torch.randperm(len(self.classes), generator=self.generator)
            for c in order.tolist():
                members = self.by_class[self.classes[c]]
                if len(members) >= self.k:
                    pick = members[torch.randperm(len(members), generator=self.generator)[: self.k]]
                else:
                    pick = members[torch.randint(len(members), (self.k,), generator=self.generator)]
                draws.append(pick)
        for b in range(len(self)):
            yield torch.cat(draws[b * self.p:(b + 1) * self.p])


class SeededBatches:
    """A batch sampler whose batches carry one augmentation seed per image.

    Wraps a batch sampler (e.g. `PKSampler`) and yields `[(index, seed), ...]`.
    The seeds are drawn in the main process, in batch order, from `generator`,
    so the seed of every image is a function of the run's seed, the epoch and
    the image's position in the epoch only: not of the number of DataLoader
    workers, nor of which worker reads the image, nor of whether the job was
    killed and resumed (the generator's state goes into the resume checkpoint).
    """

    def __init__(self, sampler, generator: torch.Generator):
        self.sampler, self.generator = sampler, generator

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for indices in self.sampler:
            indices = torch.as_tensor(indices).tolist()
            yield list(zip(indices, draw_seeds(len(indices), self.generator)))


def draw_seeds(n: int, generator: torch.Generator | None) -> list[int]:
    """One augmentation seed per image."""
    return torch.randint(0, 2**62, (n,), generator=generator).tolist()


class SeededImages(torch.utils.data.Dataset):
    """Reads `images[index]` with torch's global RNG seeded by the item's seed.

    Items are `(index, seed)` pairs from `SeededBatches`. torchvision's
    transforms (RandomResizedCrop, RandomHorizontalFlip) draw from torch's
    global RNG; seeding it per image makes the augmentation independent of
    the worker and its history.  The caller's RNG state is restored after
    each read (it matters with 0 workers, where reads run in the main process).
    """

    def __init__(self, images: ImageSet):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, item):
        index, seed = item
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.images[index]
