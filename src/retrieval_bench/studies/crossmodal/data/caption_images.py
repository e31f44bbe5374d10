"""The image files of a prepared captioned set (images.txt under info["root"]) as normalised tensors, with
VSE++'s transforms (spec chapter4.md 3.3): training RandomResizedCrop + horizontal flip, evaluation
Resize + CenterCrop.

The crop box and the flip of each image are drawn from a stream seeded by one draw of the caller's
`torch.Generator` per image (torchvision's RandomResizedCrop draws from the global RNG), so a training
batch is a function of the generator's state (resumable, reproducible) whatever the number of `workers`:
threads that decode a batch's images side by side (PIL releases the GIL while decoding).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from retrieval_bench.core.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_SCALE = (0.08, 1.0)           # RandomResizedCrop's defaults, as VSE++ uses them
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)


def _pair(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class ImageFiles:
    """Images read from `files` (paths relative to `root`); `image_size` and `resize` are an int (square crop;
    the shorter side for `resize`) or (height, width), e.g. [384, 128] for CUHK-PEDES."""

    def __init__(self, root: str | Path, files: list[str], image_size: int | tuple[int, int] = 224,
                 resize: int | tuple[int, int] = 256, mean=IMAGENET_MEAN, std=IMAGENET_STD, workers: int = 0):
        self.root, self.files = Path(root), list(files)
        self.image_size, self.resize = _pair(image_size), resize if isinstance(resize, int) else _pair(resize)
        self.mean, self.std = list(mean), list(std)
        self.workers, self._pool = workers, None

    @classmethod
    def of(cls, data, **kwargs) -> "ImageFiles":
        """The images of a prepared `CaptionedData` whose images are files."""
        if data.has_features:
            raise UserError("this captioned set holds image features (images.npy), not image files")
        return cls(data.info["root"], data.images, **kwargs)

    def __len__(self) -> int:
        return len(self.files)

    def batch(self, indices, train: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """B x 3 x H x W floats, normalised; each training image's crop and flip come from its own stream,
        seeded by one draw of `generator` per image in the order of `indices`."""
        indices = torch.as_tensor(indices).reshape(-1).tolist()
        if not indices:
            return torch.empty(0, 3, *self.image_size)
        seeds = (torch.randint(0, 2 ** 62, (len(indices),), generator=generator).tolist() if train
                 else [None] * len(indices))
        if self.workers > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.workers)
            images = list(self._pool.map(self._one, indices, seeds))
        else:
            images = [self._one(i, s) for i, s in zip(indices, seeds)]
        return torch.stack(images)

    def _one(self, index: int, seed: int | None) -> torch.Tensor:
        """One image, cropped and flipped with a stream seeded by `seed` (training), or centred (None)."""
        from torchvision.transforms.v2 import functional as F

        image = self.read(index)
        if seed is not None:
            stream = torch.Generator().manual_seed(seed)
            top, left, height, width = _crop_box(*image.shape[-2:], stream)
            image = F.resized_crop(image, top, left, height, width, list(self.image_size), antialias=True)
            if torch.rand(1, generator=stream).item() < 0.5:
                image = F.horizontal_flip(image)
        else:
            image = F.resize(image, self.resize if isinstance(self.resize, int) else list(self.resize),
                             antialias=True)
            image = F.center_crop(image, list(self.image_size))
        return F.normalize(F.to_dtype(image, torch.float32, scale=True), self.mean, self.std)

    def read(self, index: int) -> torch.Tensor:
        """One image as a 3 x H x W uint8 tensor (RGB)."""
        from torchvision.transforms.v2 import functional as F

        path = self.root / self.files[index]
        try:
            with Image.open(path) as picture:
                return F.pil_to_tensor(picture.convert("RGB"))
        except (FileNotFoundError, OSError) as e:
            raise UserError(f"cannot read image {path} ({e}): prepare the data set again") from e


def _crop_box(height: int, width: int, generator: torch.Generator | None) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a random crop with an area fraction in CROP_SCALE and an aspect ratio
    log-uniform in CROP_RATIO (RandomResizedCrop's rule: ten tries, then the centred largest crop of a
    ratio inside the range)."""
    area = height * width
    log_ratio = (math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]))
    for _ in range(10):
        target = area * (CROP_SCALE[0] + (CROP_SCALE[1] - CROP_SCALE[0]) * torch.rand(1, generator=generator).item())
        ratio = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * torch.rand(1, generator=generator).item())
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return top, left, h, w
    ratio = width / height
    if ratio < CROP_RATIO[0]:
        w, h = width, round(width / CROP_RATIO[0])
    elif ratio > CROP_RATIO[1]:
        w, h = round(height * CROP_RATIO[1]), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w
