"""The decoded-image cache: the thesis-scale pipeline without per-epoch JPEG decoding.

`build_decoded_cache` decodes every image of a dataset once with PIL, resizes
it exactly as the thesis transforms' first step, torchvision's
`Resize(shorter_side)`, does on a PIL image, and stores all of them as uint8
HWC RGB in one flat file, in manifest order:

    <out>/images.u8    the pixels, image after image, no header
    <out>/index.csv    path (as given, relative to the dataset folder), offset, height, width
    <out>/cache.json   shorter side, image count, total bytes, format version

The folder is built under a temporary name and renamed into place when
complete, so a killed build never leaves a cache that looks finished.

`DecodedImages` reads it through a read-only `np.memmap` (the page cache is
shared by every job on a node) and copies out only the bytes of a crop box.
Training crops are drawn per image from the seed `SeededBatches` gives it:
the same `RandomResizedCrop.get_params` and flip draw, under the same seeded
RNG, as the PIL path's torchvision transforms, so the boxes and flips are
identical to it; only the final resize to the crop size differs (bilinear
with antialiasing in float on the training device, instead of PIL's uint8
resample).  Evaluation's centre crop takes stored pixels as they are and is
bit-identical to the PIL path's `Resize`, `CenterCrop`, `ToTensor`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

log = logging.getLogger(__name__)

FORMAT = 1                    # version of the folder layout above
PIXELS, INDEX, META = "images.u8", "index.csv", "cache.json"
TRAIN_SCALE = (0.16, 1.0)     # RandomResizedCrop area range of the thesis transforms (the original code's)
TRAIN_RATIO = (3.0 / 4.0, 4.0 / 3.0)  # RandomResizedCrop's default aspect-ratio range


def shorter_side(image_size: int) -> int:
    """The resize before cropping: 256 for 224 px crops (Resize(256), CenterCrop(224))."""
    return round(image_size * 256 / 224)


# --- building -----------------------------------------------------------------

def decode_image(path: str | Path, shorter: int) -> np.ndarray:
    """One image as the PIL path sees it after `Resize(shorter)`: uint8 H x W x 3, RGB."""
    from PIL import Image
    from torchvision.transforms import functional as F

    with Image.open(path) as image:
        rgb = image.convert("RGB")
    return np.asarray(F.resize(rgb, shorter))


def _decode_job(job) -> np.ndarray:
    return decode_image(*job)


def _decoded(files: list[Path], shorter: int, workers: int):
    """The decoded images in order; with workers > 1 from a process pool (the
    order, and so the file, does not depend on the number of processes)."""
    jobs = [(f, shorter) for f in files]
    if workers <= 1 or len(jobs) < 2:
        yield from map(_decode_job, jobs)
        return
    import multiprocessing

    # fork, as torch's DataLoader workers: the children run PIL only (no torch
    # threads that a fork could leave locked), and start in milliseconds
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_decode_job, jobs, chunksize=8)


def build_decoded_cache(paths, out_dir: str | Path, shorter_side: int = 256, *, root: str | Path | None = None,
                        workers: int = 1) -> dict:
    """Decode `paths` (relative to `root` when given) into the cache folder `out_dir`.

    An existing cache there is removed first; the new one appears only when
    complete.  Returns (and writes as cache.json) its summary.
    """
    out_dir = Path(out_dir)
    names = [str(p) for p in paths]
    files = [Path(root) / p if root is not None else Path(p) for p in paths]
    if out_dir.exists():  # stale: a failed rebuild must not leave the old cache looking current
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        offsets, heights, widths, offset = [], [], [], 0
        with open(tmp / PIXELS, "wb") as f:
            for pixels in _decoded(files, shorter_side, workers):
                height, width, _ = pixels.shape
                f.write(np.ascontiguousarray(pixels, dtype=np.uint8).data)
                offsets.append(offset)
                heights.append(height)
                widths.append(width)
                offset += pixels.size
            f.flush()
            os.fsync(f.fileno())
        pd.DataFrame({"path": names, "offset": offsets, "height": heights, "width": widths}) \
            .to_csv(tmp / INDEX, index=False)
        meta = {"format": FORMAT, "layout": "uint8 HWC RGB", "shorter_side": shorter_side, "images": len(names),
                "bytes": offset}
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes a 0700 folder; the cache is for other jobs to read
        for name in (PIXELS, INDEX, META):
            os.chmod(tmp / name, 0o666 & ~mask)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("decoded %d images (shorter side %d) into %s: %d bytes (%.1f MB, %.0f bytes per image)", len(names),
             shorter_side, out_dir, offset, offset / 1e6, offset / max(len(names), 1))
    return meta


# --- reading ------------------------------------------------------------------

class DecodedImages:
    """A decoded-image cache folder, read through a read-only memory map."""

    def __init__(self, folder: str | Path, shorter_side: int | None = None):
        self.folder = Path(folder)
        meta_file = self.folder / META
        if not meta_file.exists():
            raise FileNotFoundError(f"{self.folder} is not a finished decoded-image cache (no {META}); "
                                    f"build it with `python -m retrieval_bench decode-images`, or after "
                                    f"`dvc pull` and `snakemake --touch`: `snakemake --forcerun decode_images "
                                    f"--until decode_images` (README: Share results with DVC)")
        self.meta = json.loads(meta_file.read_text())
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{self.folder}: cache format {self.meta.get('format')}, this code reads {FORMAT}; "
                             f"rebuild it")
        if shorter_side is not None and self.meta["shorter_side"] != shorter_side:
            raise ValueError(f"{self.folder} holds images resized to shorter side {self.meta['shorter_side']}, "
                             f"but {shorter_side} is needed; rebuild it")
        index = pd.read_csv(self.folder / INDEX, dtype={"path": str}, keep_default_na=False)
        self.paths = index["path"].tolist()
        self.offsets = index["offset"].to_numpy(np.int64)
        self.heights = index["height"].to_numpy(np.int64)
        self.widths = index["width"].to_numpy(np.int64)
        size = (self.folder / PIXELS).stat().st_size
        expected = int((self.heights * self.widths * 3).sum())
        if size != expected or size != self.meta["bytes"] or len(self.paths) != self.meta["images"]:
            raise ValueError(f"{self.folder}: {PIXELS} has {size} bytes, the index describes {expected}; rebuild it")
        self._position = {p: i for i, p in enumerate(self.paths)}
        self._open()

    def _open(self) -> None:
        size = self.meta["bytes"]
        self.pixels = np.memmap(self.folder / PIXELS, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)

    def __getstate__(self):  # to DataLoader workers: the folder, never the mapped pixels
        state = dict(self.__dict__)
        del state["pixels"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._open()

    def __len__(self) -> int:
        return len(self.paths)

    def positions(self, paths) -> np.ndarray:
        """Cache positions of images named by their manifest paths."""
        try:
            return np.array([self._position[str(p)] for p in paths], dtype=np.int64)
        except KeyError as e:
            raise KeyError(f"{e.args[0]!r} is not in the decoded-image cache {self.folder}; rebuild it "
                           f"from the current manifest") from None

    def shape(self, i: int) -> tuple[int, int]:
        return int(self.heights[i]), int(self.widths[i])

    def _hwc(self, i: int) -> np.ndarray:
        h, w = self.shape(i)
        start = int(self.offsets[i])
        return self.pixels[start:start + h * w * 3].reshape(h, w, 3)

    def crop_hwc(self, i: int, top: int, left: int, height: int, width: int) -> np.ndarray:
        """A copy of the box's pixels only, H x W x 3."""
        return np.array(self._hwc(i)[top:top + height, left:left + width])

    def crop(self, i: int, top: int, left: int, height: int, width: int) -> torch.Tensor:
        """The box as a uint8 C x H x W tensor (only the box's bytes are read)."""
        return torch.from_numpy(self.crop_hwc(i, top, left, height, width)).permute(2, 0, 1)

    def image(self, i: int) -> torch.Tensor:
        """The whole stored image, uint8 C x H x W."""
        return self.crop(i, 0, 0, *self.shape(i))

    def center_crop(self, i: int, size: int) -> torch.Tensor:
        """torchvision's CenterCrop(size) of the stored image, uint8 C x H x W."""
        h, w = self.shape(i)
        if size > h or size > w:
            raise ValueError(f"{self.paths[i]}: stored {h} x {w} is smaller than the {size} px crop")
        top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))  # as F.center_crop
        return self.crop(i, top, left, size, size)


# --- the transforms -------------------------------------------------------------

def crop_params(height: int, width: int, scale=TRAIN_SCALE, ratio=TRAIN_RATIO) -> tuple[int, int, int, int, bool]:
    """(top, left, height, width, flip) drawn from torch's global RNG exactly as
    `RandomResizedCrop(scale=scale, ratio=ratio)` then `RandomHorizontalFlip()`
    draw them on an image of this size: get_params, then `torch.rand(1) < 0.5`."""
    from torchvision.transforms import RandomResizedCrop

    size_only = torch.empty(1, 1, 1).expand(1, height, width)  # get_params reads only the image's size
    top, left, h, w = RandomResizedCrop.get_params(size_only, list(scale), list(ratio))
    flip = bool(torch.rand(1) < 0.5)
    return top, left, h, w, flip


def crop_box(seed: int, height: int, width: int, scale=TRAIN_SCALE, ratio=TRAIN_RATIO):
    """`crop_params` under torch's global RNG seeded with `seed` (as `SeededImages`
    seeds it for the PIL path); the caller's RNG state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return crop_params(height, width, scale, ratio)


def augment_batch(images: DecodedImages, positions, seeds, size: int, device="cpu", scale=TRAIN_SCALE,
                  ratio=TRAIN_RATIO) -> torch.Tensor:
    """Training images (n, 3, size, size), floats in [0, 1] on `device`.

    Each image's box and flip come from its seed (`crop_box`).  The boxes are
    copied from the memory map into one buffer (pinned for a GPU), moved to
    the device in one transfer, and resized there one by one with bilinear
    interpolation and antialiasing (what PIL's bilinear resample does)."""
    boxes = [crop_box(int(seed), *images.shape(int(p)), scale, ratio) for p, seed in zip(positions, seeds)]
    return resized_crops(images, positions, boxes, size, device)


def resized_crops(images: DecodedImages, positions, boxes, size: int, device="cpu") -> torch.Tensor:
    """The (top, left, height, width, flip) boxes of the images at `positions`,
    resized to size x size on `device`, flipped where asked, scaled to [0, 1]."""
    device = torch.device(device)
    counts = [h * w * 3 for _, _, h, w, _ in boxes]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    buffer = torch.empty(int(starts[-1]), dtype=torch.uint8, pin_memory=device.type == "cuda")
    flat = buffer.numpy()
    for p, (top, left, h, w, _), start in zip(positions, boxes, starts):
        flat[start:start + h * w * 3].reshape(h, w, 3)[...] = images._hwc(int(p))[top:top + h, left:left + w]
    on_device = buffer.to(device, non_blocking=True)
    out = torch.empty(len(boxes), 3, size, size, device=device)
    for k, ((_, _, h, w, _), start) in enumerate(zip(boxes, starts)):
        crop = on_device[start:start + h * w * 3].view(1, h, w, 3).permute(0, 3, 1, 2).float()
        out[k] = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", antialias=True,
                                                 align_corners=False)[0]
    flips = [k for k, box in enumerate(boxes) if box[4]]
    if flips:
        flips = torch.tensor(flips, device=device)
        out[flips] = out[flips].flip(-1)
    return out.div_(255.0)


def eval_batch(images: DecodedImages, positions, size: int) -> torch.Tensor:
    """Evaluation images (n, 3, size, size) on the CPU: the centre crops as
    ToTensor makes them (uint8 to float32, divided by 255), bit for bit."""
    crops = [images.center_crop(int(p), size).contiguous() for p in positions]
    if not crops:
        return torch.empty(0, 3, size, size)
    return torch.stack(crops).to(torch.float32).div(255)


# --- throughput -------------------------------------------------------------------

def write_cub_like_jpegs(folder: str | Path, n_images: int, seed: int = 0) -> list[str]:
    """`n_images` synthetic JPEGs of CUB-200's typical sizes (500 px on the
    longer side, 280-500 on the shorter, a third of them portrait), quality
    90: colour gradients, sharp-edged shapes, noise.  Returns their names."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng, names = np.random.default_rng(seed), []
    for k in range(n_images):
        long, short = 500, int(rng.integers(280, 501))
        height, width = (long, short) if k % 3 == 2 else (short, long)
        y = np.linspace(0, 1, height)[:, None, None]
        x = np.linspace(0, 1, width)[None, :, None]
        pixels = 128 + 90 * np.sin(2 * np.pi * (rng.uniform(1, 4, 3) * x + rng.uniform(1, 4, 3) * y))
        for _ in range(4):
            top, left = rng.integers(0, height - 60), rng.integers(0, width - 60)
            pixels[top:top + rng.integers(30, 200), left:left + rng.integers(30, 200)] = rng.uniform(0, 255, 3)
        pixels = pixels + rng.normal(0, 8, pixels.shape)
        name = f"{k:05d}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / name, quality=90)
        names.append(name)
    return names


def measure_pipelines(out_dir: str | Path, n_images: int = 400, workers: int = 2, device="cpu", batch: int = 80,
                      image_size: int = 224, seed: int = 0, epochs: int = 3) -> dict:
    """Training images/s that each thesis-scale data pipeline delivers on its
    own (no model), on `n_images` CUB-like JPEGs written to `out_dir`.

    pil: PIL decoding and torchvision transforms in a DataLoader with
    `workers` processes, as train.py builds it, the batches moved to `device`;
    decoded: the decoded-image cache of the same files (its build time and
    size are reported too; built with max(1, workers) processes), crops
    resized to image_size on `device`.  Each pipeline runs one epoch of
    `batch`-image batches to warm up (worker start-up, page cache) and is
    timed over the next `epochs`."""
    from retrieval_bench.vision.loading import ImageSet, SeededBatches, SeededImages

    out_dir, device = Path(out_dir), torch.device(device)
    names = write_cub_like_jpegs(out_dir / "images", n_images, seed)
    rows = pd.DataFrame({"path": names, "label": np.arange(n_images) % 20})
    order = torch.randperm(n_images, generator=torch.Generator().manual_seed(seed)).tolist()
    batches = [order[i:i + batch] for i in range(0, n_images, batch)]

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def images_per_second(epoch) -> float:
        epoch()  # warm-up
        synchronize()
        tic = time.perf_counter()
        seen = sum(epoch() for _ in range(epochs))
        synchronize()
        return seen / (time.perf_counter() - tic)

    pil = ImageSet(rows, out_dir / "images", image_size, train=True)
    loader = torch.utils.data.DataLoader(SeededImages(pil), batch_sampler=SeededBatches(batches, torch.Generator()
                                                                                        .manual_seed(seed + 1)),
                                         num_workers=workers, pin_memory=torch.cuda.is_available(),
                                         persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))

    def pil_epoch() -> int:
        seen = 0
        for images, _ in loader:  # noqa: F821 (deleted after the last epoch ran)
            images = images.to(device, non_blocking=True)
            seen += len(images)
        return seen

    pil_rate = images_per_second(pil_epoch)
    del loader  # its worker processes end

    tic = time.perf_counter()
    meta = build_decoded_cache(names, out_dir / "decoded", shorter_side(image_size), root=out_dir / "images",
                               workers=max(1, workers))
    build_seconds = time.perf_counter() - tic
    decoded = ImageSet(rows, out_dir / "images", image_size, train=True, decoded=out_dir / "decoded")
    seeded = SeededBatches(batches, torch.Generator().manual_seed(seed + 1))

    def decoded_epoch() -> int:
        seen = 0
        for items in seeded:
            images, _ = decoded.seeded_batch(items, device)
            seen += len(images)
        return seen

    decoded_rate = images_per_second(decoded_epoch)
    jpeg_bytes = sum((out_dir / "images" / n).stat().st_size for n in names)
    return {"images": n_images, "batch": batch, "image_size": image_size, "device": str(device),
            "torch_threads": torch.get_num_threads(), "workers": workers, "timed_epochs": epochs,
            "pil_images_per_second": round(pil_rate, 1), "decoded_images_per_second": round(decoded_rate, 1),
            "cache_build_seconds": round(build_seconds, 2), "cache_build_workers": max(1, workers),
            "cache_bytes_per_image": round(meta["bytes"] / max(n_images, 1)),
            "jpeg_bytes_per_image": round(jpeg_bytes / max(n_images, 1))}
