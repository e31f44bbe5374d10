"""Datasets as manifests: one CSV row per image (path, class_id, class_name, split).

`class_id` is 1-based in the dataset's official class order (the thesis takes
"the first n classes" in that order); `split` is the official train/test
assignment where the dataset has one, else empty.  Paths are relative to the
dataset folder that holds the manifest.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from retrieval_bench.core.io import atomic_path
from retrieval_bench.vision import synthetic
from retrieval_bench.vision.archives import Archive, extract, fetch

MANIFEST_COLUMNS = ["path", "class_id", "class_name", "split"]

ARCHIVES = {
    "cub": [Archive("CUB_200_2011.tgz", (
        "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",
        "http://www.vision.caltech.edu/visipedia-data/CUB-200-2011/CUB_200_2011.tgz"),
        "97eceeb196236b17998738112f37df78")],
    "dogs": [
        Archive("images.tar", ("http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar",),
                "1bb1f2a596ae7057f99d7d75860002ef"),
        Archive("lists.tar", ("http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar",),
                "edbb9f16854ec66506b5f09b583e0656"),
    ],
    # The original Stanford host is gone: these URLs fail and the error says
    # where to put the four files (e.g. from a mirror you trust).
    "cars": [
        Archive("car_devkit.tgz", ("https://ai.stanford.edu/~jkrause/cars/car_devkit.tgz",),
                "c3b158d763b6e2245038c8ad08e45376"),
        Archive("cars_train.tgz", ("https://ai.stanford.edu/~jkrause/car196/cars_train.tgz",),
                "065e5b463ae28d29e77c1b4b166cfe61"),
        Archive("cars_test.tgz", ("https://ai.stanford.edu/~jkrause/car196/cars_test.tgz",),
                "4ce7ebf6a94d07f1952d94dd34c4d501"),
        Archive("cars_test_annos_withlabels.mat",
                ("https://ai.stanford.edu/~jkrause/car196/cars_test_annos_withlabels.mat",),
                "b0a2b23655a3edd16d84508592a98d10"),
    ],
    "cifar100": [Archive("cifar-100-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
                         "eb9058c3a382ffc7106e4002c42a8d85")],
}


def archives_for(kind: str, spec: dict) -> list[Archive]:
    """The archives of a dataset kind, with the dataset entry's `archives`
    (file name -> {url, md5}) replacing the official source of those files: a
    local mirror (`file://` URL or a plain path) or a re-packed archive (its own
    md5; without one the official md5 is expected)."""
    official = ARCHIVES.get(kind, [])
    overrides = spec.get("archives") or {}
    unknown = sorted(set(overrides) - {a.filename for a in official})
    if unknown:
        raise ValueError(f"{unknown} not among the archives of a {kind} dataset: "
                         f"{[a.filename for a in official] or 'it has none'}")
    return [Archive(a.filename, (_as_url(overrides[a.filename]["url"]),), overrides[a.filename].get("md5", a.md5))
            if a.filename in overrides else a for a in official]


def _as_url(location: str) -> str:
    """A URL as given; a plain path (absolute, or relative to the working directory) as a file:// URL."""
    if "://" in location:
        return location
    return Path(location).expanduser().resolve().as_uri()


def write_manifest(rows: list[dict] | pd.DataFrame, path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    frame["split"] = frame["split"].fillna("")
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


def read_manifest(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, dtype={"split": str})


def prepare(kind: str, spec: dict, folder: Path) -> pd.DataFrame:
    """Build `folder/manifest.csv` for a dataset of the given kind."""
    builders = {"synthetic": build_synthetic, "cub": build_cub, "dogs": build_dogs,
                "cars": build_cars, "cifar100": build_cifar100}
    if kind not in builders:
        raise KeyError(f"unknown dataset kind {kind!r}; known: {sorted(builders)}")
    folder.mkdir(parents=True, exist_ok=True)
    rows = builders[kind](spec, folder)
    return write_manifest(rows, folder / "manifest.csv")


def _save_png(array: np.ndarray, path: Path) -> None:
    # atomic: build_cifar100 skips existing files, so a killed write must not leave a truncated PNG
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def build_synthetic(spec: dict, folder: Path) -> list[dict]:
    """Render every group of a synthetic dataset to PNG files.

    Classes are numbered group after group.  With `official_train_per_class`
    the first images of each class form an official train split and the rest
    the test split (the Stanford Dogs situation); `images: [lo, hi]` draws a
    per-class image count, so test sets are unbalanced as in Dogs.
    `style: {palette: grey}` renders every image in grey (chapter 7's far
    dataset: no colour variation for distillation to constrain), `invert`
    turns brightness over.
    """
    rows, class_id, earlier = [], 0, []
    per_class_train = spec.get("official_train_per_class")
    for g, group in enumerate(spec["groups"]):
        counts = group["images"]
        rng = np.random.default_rng([spec["seed"], g])
        n_images = [counts] * group["classes"] if isinstance(counts, int) else \
            rng.integers(counts[0], counts[1] + 1, size=group["classes"]).tolist()
        classes = synthetic.class_identities(group["identity"], group["classes"], spec["seed"],
                                             values=group.get("values"), exclude=earlier)
        earlier += classes
        for c, identity in enumerate(classes):
            class_id += 1
            name = f"{class_id:03d}." + "_".join(identity[f] for f in group["identity"])
            for i in range(n_images[c]):
                rel = Path("images") / name / f"{i:04d}.png"
                image = synthetic.render(identity, synthetic._rng("image", spec["seed"], g, c, i),
                                         spec.get("image_size", 32), tuple(group.get("nuisance", ())))
                image = apply_style(image, spec.get("style"))
                _save_png(image, folder / rel)
                split = "" if per_class_train is None else ("train" if i < per_class_train else "test")
                rows.append({"path": str(rel), "class_id": class_id, "class_name": name, "split": split})
    return rows


def apply_style(image: np.ndarray, style: dict | None) -> np.ndarray:
    """A synthetic dataset's look, applied after rendering (kept out of
    synthetic.py: a change there regenerates every synthetic dataset):
    `palette: grey` replaces every pixel by its luminance (the mean of R, G,
    B), `invert: true` turns brightness over (255 - x)."""
    style = style or {}
    if style.get("palette", "colour") == "grey":
        grey = image.astype(np.float32).mean(axis=2, keepdims=True).round().astype(np.uint8)
        image = np.repeat(grey, 3, axis=2)
    if style.get("invert", False):
        image = 255 - image
    return image


def build_cub(spec: dict, folder: Path) -> list[dict]:
    archive = archives_for("cub", spec)[0]
    root = extract(fetch(archive, folder), folder, archive.md5) / "CUB_200_2011"

    def table(name):
        return dict(line.split(" ", 1) for line in (root / name).read_text().splitlines() if line.strip())

    images, labels = table("images.txt"), table("image_class_labels.txt")
    classes, is_train = table("classes.txt"), table("train_test_split.txt")
    return [{"path": f"CUB_200_2011/images/{images[i]}", "class_id": int(labels[i]),
             "class_name": classes[labels[i]], "split": "train" if is_train[i].strip() == "1" else "test"}
            for i in sorted(images, key=int)]


def _loadmat(path: Path) -> dict:
    from scipy.io import loadmat

    return loadmat(path, squeeze_me=True)


def build_dogs(spec: dict, folder: Path) -> list[dict]:
    images, lists = archives_for("dogs", spec)
    images_tar, lists_tar = fetch(images, folder), fetch(lists, folder)  # both before the long extraction
    extract(images_tar, folder, images.md5)
    extract(lists_tar, folder / "lists", lists.md5)
    rows = []
    for split in ("train", "test"):
        mat = _loadmat(folder / "lists" / f"{split}_list.mat")
        for file, label in zip(np.atleast_1d(mat["file_list"]), np.atleast_1d(mat["labels"])):
            file = str(file)
            rows.append({"path": f"Images/{file}", "class_id": int(label),
                         "class_name": file.split("/")[0].split("-", 1)[1], "split": split})
    return sorted(rows, key=lambda r: (r["class_id"], r["split"] != "train", r["path"]))


def build_cars(spec: dict, folder: Path) -> list[dict]:
    archives = archives_for("cars", spec)
    devkit, train_tgz, test_tgz, test_annos = (fetch(a, folder) for a in archives)
    for tgz, archive in zip((devkit, train_tgz, test_tgz), archives):
        extract(tgz, folder, archive.md5)
    names = [str(n) for n in np.atleast_1d(_loadmat(folder / "devkit" / "cars_meta.mat")["class_names"])]
    rows = []
    for split, annos, images in (("train", folder / "devkit" / "cars_train_annos.mat", "cars_train"),
                                 ("test", test_annos, "cars_test")):
        for record in np.atleast_1d(_loadmat(annos)["annotations"]):
            label = int(record["class"])
            rows.append({"path": f"{images}/{record['fname']}", "class_id": label,
                         "class_name": names[label - 1], "split": split})
    return sorted(rows, key=lambda r: (r["class_id"], r["split"] != "train", r["path"]))


def build_cifar100(spec: dict, folder: Path) -> list[dict]:
    """CIFAR-100 is pickled arrays: write each image to a PNG so that it is
    read like every other dataset."""
    archive = archives_for("cifar100", spec)[0]
    root = extract(fetch(archive, folder), folder, archive.md5) / "cifar-100-python"
    with open(root / "meta", "rb") as f:
        names = pickle.load(f, encoding="latin1")["fine_label_names"]
    rows = []
    for split in ("train", "test"):
        with open(root / split, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        for i, (image, label) in enumerate(zip(data, batch["fine_labels"])):
            rel = Path("images") / split / f"{label:03d}" / f"{i:05d}.png"
            if not (folder / rel).exists():
                _save_png(image, folder / rel)
            rows.append({"path": str(rel), "class_id": label + 1, "class_name": names[label], "split": split})
    return sorted(rows, key=lambda r: (r["class_id"], r["split"] != "train", r["path"]))
