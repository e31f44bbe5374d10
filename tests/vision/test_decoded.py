"""The decoded-image cache (data/decoded.py) against the PIL path it replaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from retrieval_bench.vision import decoded as decoded_module
from retrieval_bench.vision.decoded import DecodedImages, build_decoded_cache, crop_box, resized_crops
from retrieval_bench.vision.loading import ImageSet, SeededImages, draw_seeds

SIZE = 224
# (width, height): CUB's typical landscape and portrait sizes, an odd one, and
# one whose shorter side is already 256 (torchvision's Resize leaves it alone)
SIZES = [(500, 375), (375, 500), (500, 333), (457, 500), (300, 256)]


def realistic_jpeg(path: Path, width: int, height: int, rng: np.random.Generator) -> None:
    """Smooth colour gradients, a few sharp-edged shapes and sensor-like noise, JPEG quality 90."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for c in range(3):
        fx, fy, phase = rng.uniform(1, 4), rng.uniform(1, 4), rng.uniform(0, 2 * np.pi)
        channels.append(128 + 70 * np.sin(2 * np.pi * fx * x / width + phase) * np.cos(2 * np.pi * fy * y / height)
                        + 40 * (x / width - 0.5) + 25 * (y / height - 0.5) * (c - 1))
    pixels = np.stack(channels, axis=-1)
    for _ in range(6):  # edges, where a misplaced box shows
        top, left = rng.integers(0, height - 40), rng.integers(0, width - 40)
        pixels[top:top + rng.integers(20, 120), left:left + rng.integers(20, 120)] = rng.uniform(0, 255, 3)
    pixels += rng.normal(0, 8, pixels.shape)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    root = tmp_path_factory.mktemp("jpegs")
    rng, rows = np.random.default_rng(0), []
    for i, (width, height) in enumerate(SIZES):
        rel = Path(f"class{i % 2}") / f"image{i}.jpg"
        (root / rel).parent.mkdir(exist_ok=True)
        realistic_jpeg(root / rel, width, height, rng)
        rows.append({"path": str(rel), "label": i % 2})
    return root, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def cache(jpegs, tmp_path_factory):
    root, rows = jpegs
    out = tmp_path_factory.mktemp("cache") / "decoded"
    build_decoded_cache(rows["path"], out, 256, root=root)
    return out


def items(n_per_image: int, n_images: int, seed: int = 0):
    """(index, seed) pairs as SeededBatches makes them."""
    indices = [i for i in range(n_images) for _ in range(n_per_image)]
    return list(zip(indices, draw_seeds(len(indices), torch.Generator().manual_seed(seed))))


def test_cache_holds_torchvision_resize_of_the_pil_image_exactly(jpegs, cache):
    from torchvision import transforms as T

    root, rows = jpegs
    images = DecodedImages(cache, shorter_side=256)
    assert images.paths == list(rows["path"]) and len(images) == len(SIZES)
    for k, path in enumerate(rows["path"]):
        expected = np.asarray(T.Resize(256)(Image.open(root / path).convert("RGB")))
        assert images.shape(k) == expected.shape[:2] and min(expected.shape[:2]) == 256
        assert torch.equal(images.image(k), torch.from_numpy(expected.copy()).permute(2, 0, 1))
    assert images.meta["bytes"] == sum(h * w * 3 for h, w in map(images.shape, range(len(images))))


def test_a_crop_copies_only_the_box(cache):
    images = DecodedImages(cache)
    crop = images.crop(1, 10, 20, 30, 40)
    assert crop.shape == (3, 30, 40) and crop.dtype == torch.uint8
    assert crop.untyped_storage().nbytes() == 30 * 40 * 3  # not a view into a copy of the whole image
    assert torch.equal(crop, images.image(1)[:, 10:40, 20:60])


def test_crop_boxes_and_flips_are_the_pil_paths(jpegs, cache, monkeypatch):
    """Given the same per-image seeds, the boxes RandomResizedCrop draws in the
    PIL path (recorded from the real transform) and whether it flips are
    exactly the decoded path's."""
    from torchvision import transforms as T
    from torchvision.transforms import functional as TF

    root, rows = jpegs
    pil = SeededImages(ImageSet(rows, root, SIZE, train=True))
    seeded = items(40, len(rows))
    recorded, get_params, hflip = [], T.RandomResizedCrop.get_params, TF.hflip

    def record_box(img, scale, ratio):
        box = get_params(img, scale, ratio)
        recorded.append([*box, False])
        return box

    def record_flip(img):
        recorded[-1][4] = True
        return hflip(img)

    monkeypatch.setattr(T.RandomResizedCrop, "get_params", staticmethod(record_box))
    monkeypatch.setattr(TF, "hflip", record_flip)
    for item in seeded:
        pil[item]
    monkeypatch.undo()
    assert len(recorded) == len(seeded)

    images = DecodedImages(cache)
    boxes = [crop_box(seed, *images.shape(index)) for index, seed in seeded]
    assert boxes == [tuple(r) for r in recorded]
    flips = [b[4] for b in boxes]
    assert 0 < sum(flips) < len(flips)  # both kinds occur
    assert len({b[2:4] for b in boxes}) > len(boxes) // 2  # and many different box sizes


def test_training_pixels_differ_from_the_pil_path_only_by_interpolation(jpegs, cache):
    """Same seeds: the PIL path resizes the crop in uint8 (PIL's bilinear
    resample), the decoded path in float (torch's antialiased bilinear).

    Measured on these images (5 sizes x 16 seeds, in 0-255 units): mean
    absolute difference 0.29, max 1.00 (torch 2.14.1, torchvision 0.29.1,
    Pillow 13.0.0).  A box 4 pixels smaller on each side gives a mean of 7.5,
    a flip left out 48.6: far above the bounds asserted."""
    root, rows = jpegs
    seeded = items(16, len(rows), seed=1)
    pil = SeededImages(ImageSet(rows, root, SIZE, train=True))
    expected = torch.stack([pil[item][0] for item in seeded])
    data = ImageSet(rows, root, SIZE, train=True, decoded=cache)
    got, labels = data.seeded_batch(seeded, "cpu")
    assert got.shape == expected.shape and got.dtype == torch.float32
    assert torch.equal(labels, torch.tensor([rows["label"][i] for i, _ in seeded]))
    difference = (got - expected).abs() * 255
    print(f"decoded vs PIL training crops: mean {difference.mean():.3f}, max {difference.max():.3f} (0-255)")
    assert difference.mean() < 0.5 and difference.max() < 2.0

    # what the bounds rule out: a box 4 pixels smaller on each side, a flip left out
    images, boxes = data.decoded, [crop_box(seed, *data.decoded.shape(i)) for i, seed in seeded]
    shrunk = [(top + 4, left + 4, h - 8, w - 8, f) for top, left, h, w, f in boxes]
    unflipped = [(top, left, h, w, False) for top, left, h, w, _ in boxes]
    for wrong in (shrunk, unflipped):
        pixels = torch.cat([resized_crops(images, [i], [box], SIZE) for (i, _), box in zip(seeded, wrong)])
        changed = [k for k in range(len(wrong)) if wrong[k] != boxes[k]]
        assert ((pixels - expected).abs() * 255)[changed].mean() > 5.0


def test_per_item_training_reads_match_the_batched_ones(jpegs, cache):
    """ImageSet[i] under SeededImages (the DataLoader route) draws the same box
    as a batch made from the same seeds."""
    root, rows = jpegs
    data = ImageSet(rows, root, SIZE, train=True, decoded=cache)
    seeded = items(2, len(rows), seed=2)
    batch, _ = data.seeded_batch(seeded)
    assert torch.equal(torch.stack([SeededImages(data)[item][0] for item in seeded]), batch)


def test_evaluation_crops_are_bit_identical_to_the_pil_path(jpegs, cache):
    root, rows = jpegs
    pil = ImageSet(rows, root, SIZE, train=False)
    data = ImageSet(rows, root, SIZE, train=False, decoded=cache)
    assert data.in_process and not pil.in_process
    expected = torch.stack([pil[i][0] for i in range(len(rows))])
    got, labels = data.batch(range(len(rows)))
    assert got.dtype == expected.dtype and torch.equal(got, expected)
    assert torch.equal(labels, pil.labels)
    assert all(torch.equal(data[i][0], expected[i]) for i in range(len(rows)))
    # a training set's un-augmented batch (the EWC Fisher's) is the same centre crop
    train = ImageSet(rows, root, SIZE, train=True, decoded=cache)
    assert torch.equal(train.batch([3, 0], augment=False)[0], expected[[3, 0]])


def test_rows_are_found_by_path_whatever_their_order(jpegs, cache):
    root, rows = jpegs
    subset = rows.iloc[[4, 1]].reset_index(drop=True)
    data = ImageSet(subset, root, SIZE, train=False, decoded=cache)
    assert list(data.positions) == [4, 1]
    missing = pd.DataFrame({"path": ["class0/elsewhere.jpg"], "label": [0]})
    with pytest.raises(KeyError, match="not in the decoded-image cache"):
        ImageSet(missing, root, SIZE, train=False, decoded=cache)
    with pytest.raises(ValueError, match="shorter side 256, but 73 is needed"):
        ImageSet(rows, root, 64, train=False, decoded=cache)


def test_a_killed_build_leaves_no_finished_looking_cache_and_a_rebuild_is_identical(jpegs, cache, tmp_path,
                                                                                   monkeypatch):
    root, rows = jpegs
    out = tmp_path / "decoded"
    build_decoded_cache(rows["path"], out, 256, root=root)  # a finished cache, about to be rebuilt
    real, calls = decoded_module._decode_job, []

    def decode_then_die(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed by the scheduler")
        return real(job)

    monkeypatch.setattr(decoded_module, "_decode_job", decode_then_die)
    with pytest.raises(KeyboardInterrupt):
        build_decoded_cache(rows["path"], out, 256, root=root)
    monkeypatch.undo()
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no old cache, no partial one
    with pytest.raises(FileNotFoundError, match="not a finished decoded-image cache"):
        DecodedImages(out)

    build_decoded_cache(rows["path"], out, 256, root=root, workers=2)  # in 2 processes this time
    for name in ("images.u8", "index.csv", "cache.json"):
        assert (out / name).read_bytes() == (cache / name).read_bytes(), name


def test_an_empty_cache_reads_as_empty(tmp_path):
    build_decoded_cache([], tmp_path / "decoded", 256)
    images = DecodedImages(tmp_path / "decoded")
    assert len(images) == 0 and images.meta["bytes"] == 0
