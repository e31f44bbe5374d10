"""Tiny archives with the real layouts of CUB-200-2011, Stanford Dogs, Stanford
Cars and CIFAR-100, for the tests that run the real fetch -> md5 check ->
extract -> manifest code on them (tests/test_datasets.py, and the thesis-scale
workflow in tests/test_thesis_path.py).

Each builder writes its archives under `server` and returns them with the
manifest rows `prepare` must produce from them.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image


def jpeg(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")


def tar(archive: Path, root: Path, members: list[str], mode: str = "w:gz") -> Path:
    """Pack `root/<member>` for each member (files or folders) into `archive`."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, mode) as out:
        for member in members:
            out.add(root / member, arcname=member)
    return archive


# --------------------------------------------------------------------------- CUB-200-2011

CUB_CLASSES = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]
CUB_CLASSES_4 = [*CUB_CLASSES, "004.Groove_billed_Ani"]


def cub_tgz(server: Path, extra_member: tarfile.TarInfo | None = None, classes: list[str] = CUB_CLASSES,
            images_per_class: int = 5) -> tuple[Path, list[dict]]:
    """CUB_200_2011.tgz: `classes` x `images_per_class` images, ids from 1,
    the official split from train_test_split.txt."""
    stage = server / "cub_stage"
    root = stage / "CUB_200_2011"
    images, labels, splits, expected = [], [], [], []
    image_id = 0
    for class_id, name in enumerate(classes, start=1):
        for k in range(images_per_class):
            image_id += 1
            rel = f"{name}/{name.split('.', 1)[1]}_{k:04d}_{image_id}.jpg"
            jpeg(root / "images" / rel, image_id)
            is_train = int((image_id * 7) % 3 == 0)  # irregular official split
            images.append(f"{image_id} {rel}")
            labels.append(f"{image_id} {class_id}")
            splits.append(f"{image_id} {is_train}")
            expected.append({"path": f"CUB_200_2011/images/{rel}", "class_id": class_id,
                             "class_name": name, "split": "train" if is_train else "test"})
    # files listed out of id order: the manifest must follow the numeric id (10 after 9, not after 1)
    (root / "images.txt").write_text("\n".join(reversed(images)) + "\n")
    (root / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (root / "train_test_split.txt").write_text("\n".join(splits[::2] + splits[1::2]) + "\n")
    (root / "classes.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(classes, 1)))
    (stage / "attributes.txt").write_text("1 has_bill_shape::curved\n")  # the real tgz has it at top level
    archive = tar(server / "CUB_200_2011.tgz", stage, ["CUB_200_2011", "attributes.txt"])
    if extra_member is not None:
        with tarfile.open(archive, "r:gz") as src:
            members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src.getmembers()]
        with tarfile.open(archive, "w:gz") as out:
            for m, data in members:
                out.addfile(m, io.BytesIO(data) if data is not None else None)
            out.addfile(extra_member, io.BytesIO(b"x" * extra_member.size) if extra_member.isfile() else None)
    return archive, expected


# --------------------------------------------------------------------------- Stanford Dogs

DOG_CLASSES = [("n02085620", "Chihuahua"), ("n02085782", "Japanese_spaniel"), ("n02086240", "Shih-Tzu")]
DOG_CLASSES_4 = [("n02085620", "Chihuahua"), ("n02085782", "Japanese_spaniel"), ("n02085936", "Maltese_dog"),
                 ("n02086079", "Pekinese")]  # the first four of the official class order


def _cell(strings: list[str]) -> np.ndarray:
    cell = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        cell[i, 0] = s
    return cell


def dogs_mat(path: Path, entries: list[tuple[str, int]]) -> None:
    """A train_list.mat / test_list.mat / file_list.mat as lists.tar ships them."""
    files = [f for f, _ in entries]
    scipy.io.savemat(path, {
        "file_list": _cell(files),
        "annotation_list": _cell([f.rsplit(".", 1)[0] for f in files]),
        "labels": np.array([[label] for _, label in entries], dtype=np.uint8),
    })


def dogs_tars(server: Path, classes: list[tuple[str, str]] = DOG_CLASSES,
              train_per_class: int = 2) -> tuple[list[Path], list[dict]]:
    """images.tar and lists.tar: class c has 3 + c images (unbalanced like the
    real test set), the first `train_per_class` of them in the official train list."""
    stage = server / "dogs_stage"
    train, test, expected = [], [], []
    for class_id, (wnid, name) in enumerate(classes, start=1):
        n_images = 3 + class_id
        for k in range(1, n_images + 1):
            rel = f"{wnid}-{name}/{wnid}_{k}.jpg"
            jpeg(stage / "Images" / rel, class_id * 100 + k)
            split = "train" if k <= train_per_class else "test"
            (train if split == "train" else test).append((rel, class_id))
            expected.append({"path": f"Images/{rel}", "class_id": class_id, "class_name": name, "split": split})
    lists = stage / "lists"
    lists.mkdir()
    dogs_mat(lists / "train_list.mat", train[::-1])  # order in the .mat must not matter
    dogs_mat(lists / "test_list.mat", test)
    dogs_mat(lists / "file_list.mat", train + test)
    images_tar = tar(server / "images.tar", stage, ["Images"], mode="w")
    lists_tar = tar(server / "lists.tar", lists, ["file_list.mat", "train_list.mat", "test_list.mat"], mode="w")
    return [images_tar, lists_tar], expected


# --------------------------------------------------------------------------- Stanford Cars

CAR_CLASSES = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012"]
ANNO_DTYPE = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"),
              ("class", "O"), ("fname", "O")]


def cars_annos(path: Path, entries: list[tuple[str, int]]) -> None:
    annos = np.zeros((1, len(entries)), dtype=ANNO_DTYPE)
    for i, (fname, label) in enumerate(entries):
        annos[0, i] = (np.uint8(1), np.uint8(1), np.uint8(7), np.uint8(7), np.uint8(label), fname)
    scipy.io.savemat(path, {"annotations": annos})


def cars_files(server: Path, n_test: int) -> tuple[list[Path], list[dict]]:
    stage = server / "cars_stage"
    (stage / "devkit").mkdir(parents=True)
    names = np.empty((1, len(CAR_CLASSES)), dtype=object)
    names[0, :] = CAR_CLASSES
    scipy.io.savemat(stage / "devkit" / "cars_meta.mat", {"class_names": names})
    train_labels = [3, 1, 2, 1, 3, 2]
    test_labels = [2, 3, 1][:n_test]
    expected = []
    for split, labels, images in (("train", train_labels, "cars_train"), ("test", test_labels, "cars_test")):
        entries = []
        for i, label in enumerate(labels, start=1):
            fname = f"{i:05d}.jpg"
            jpeg(stage / images / fname, (split == "test") * 100 + i)
            entries.append((fname, label))
            expected.append({"path": f"{images}/{fname}", "class_id": label,
                             "class_name": CAR_CLASSES[label - 1], "split": split})
        annos = stage / "devkit" / "cars_train_annos.mat" if split == "train" else \
            server / "cars_test_annos_withlabels.mat"
        cars_annos(annos, entries)
    (stage / "devkit" / "README.txt").write_text("devkit\n")
    files = [tar(server / "car_devkit.tgz", stage, ["devkit"]),
             tar(server / "cars_train.tgz", stage, ["cars_train"]),
             tar(server / "cars_test.tgz", stage, ["cars_test"]),
             server / "cars_test_annos_withlabels.mat"]
    expected.sort(key=lambda r: (r["class_id"], r["split"] != "train", r["path"]))
    return files, expected


# --------------------------------------------------------------------------- CIFAR-100

CIFAR_NAMES = ["apple", "aquarium_fish", "baby", "bear", "beaver"]


def cifar_image(i: int) -> np.ndarray:
    """A 32x32 RGB image whose channels and layout are all distinguishable."""
    y, x = np.mgrid[0:32, 0:32]
    return np.stack([(y * 8 + i) % 256, (x * 8 + 2 * i) % 256, (x + y + 50 * i) % 256], axis=-1).astype(np.uint8)


def cifar_tgz(server: Path) -> tuple[Path, dict]:
    root = server / "cifar_stage" / "cifar-100-python"
    root.mkdir(parents=True)
    labels = {"train": [3, 0, 4, 0, 2], "test": [1, 4, 0]}
    images = {}
    for split, fine in labels.items():
        imgs = [cifar_image(i + (100 if split == "test" else 0)) for i in range(len(fine))]
        images[split] = imgs
        batch = {"filenames": [f"img_{split}_{i}.png" for i in range(len(fine))],
                 "batch_label": f"{split} batch", "fine_labels": fine, "coarse_labels": [0] * len(fine),
                 # the official row layout: 1024 red, then 1024 green, then 1024 blue values
                 "data": np.stack([im.transpose(2, 0, 1).reshape(-1) for im in imgs]).astype(np.uint8)}
        (root / split).write_bytes(pickle.dumps(batch, protocol=2))
    (root / "meta").write_bytes(pickle.dumps({"fine_label_names": CIFAR_NAMES,
                                              "coarse_label_names": ["c0"]}, protocol=2))
    return tar(server / "cifar-100-python.tar.gz", root.parent, ["cifar-100-python"]), \
        {"labels": labels, "images": images}
