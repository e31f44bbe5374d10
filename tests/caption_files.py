"""Tiny files in the real layouts of chapter 4's thesis data sets (Karpathy's JSON in its zip, image zips),
for the tests that read them."""

import io
import json
import zipfile

import numpy as np
from PIL import Image


def picture(seed: int, size=(12, 8)) -> bytes:
    """A small noisy PNG (noise: any two crops or flips differ)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def entry(filename, split, texts, filepath=None):
    out = {"filename": filename, "split": split, "sentences": [{"tokens": t.split(), "raw": t} for t in texts]}
    return {**out, "filepath": filepath} if filepath else out


FLICKR = [entry("1.jpg", "train", ["A Dog runs", "a dog", "a dog", "a cat", "a cat"]),
          entry("2.jpg", "train", ["a man"] * 5), entry("3.jpg", "train", ["a man"] * 5),
          entry("4.jpg", "val", ["a boat"] * 5),
          entry("5.jpg", "test", ["a zebra"] * 5), entry("6.jpg", "test", ["a zebra"] * 6)]


def write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)


def karpathy_zip(path, dataset, entries):
    write_zip(path, {"caption_datasets/dataset_other.json": b"{}",
                     f"caption_datasets/dataset_{dataset}.json": json.dumps({"images": entries}).encode()})
