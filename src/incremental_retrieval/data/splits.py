"""Class-split protocols: which classes form each group and which images train.

The split manifest adds to the dataset manifest a contiguous `label`
(0-based, official class order), the `group` (0 = the original classes, then
one per incremental task) and the protocol's `split`.  Classes beyond the
protocol's groups are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from incremental_retrieval.io import atomic_path


def make_split(manifest: pd.DataFrame, split: dict, groups: list[int]) -> pd.DataFrame:
    classes = sorted(manifest["class_id"].unique())
    if sum(groups) > len(classes):
        raise ValueError(f"the protocol's groups {groups} need {sum(groups)} classes; the dataset has {len(classes)}")
    bounds = np.cumsum([0, *groups])
    group_of = {c: g for g in range(len(groups)) for c in classes[bounds[g]:bounds[g + 1]]}
    frame = manifest[manifest["class_id"].isin(group_of)].copy()
    frame["label"] = frame["class_id"].map({c: i for i, c in enumerate(classes[: bounds[-1]])})
    frame["group"] = frame["class_id"].map(group_of)
    if split["kind"] == "official":
        if not frame["split"].isin(["train", "test"]).all():
            raise ValueError("the protocol asks for the official split but the dataset manifest has none; "
                             "use split: {kind: per_class_fraction}")
    else:
        frame["split"] = _per_class_fraction(frame, split.get("train_fraction", 0.6), split.get("seed", 0))
    return frame.reset_index(drop=True)


def make_sequence_split(manifests: dict[str, pd.DataFrame], sequence: list[dict]) -> pd.DataFrame:
    """Chapter 7's split of a sequence of datasets (spec 4.3): dataset t is
    task t; its first `seen` classes (official order) are split per class
    into train and test, its next `unseen` classes are evaluation only (every
    image `test`).  Labels are globally disjoint: dataset t's start after
    every class of datasets 0..t-1, seen classes first.  Paths are prefixed
    with the dataset's folder, so they are relative to data/<scale>/."""
    frames, offset = [], 0
    for task, entry in enumerate(sequence):
        manifest = manifests[entry["dataset"]]
        classes = sorted(manifest["class_id"].unique())
        wanted = entry["seen"] + entry["unseen"]
        if wanted > len(classes):
            raise ValueError(f"sequence entry {task} ({entry['dataset']}) asks for {entry['seen']} seen + "
                             f"{entry['unseen']} unseen classes; the dataset has {len(classes)}")
        seen = make_split(manifest, entry["split"], [entry["seen"]])
        seen["part"] = "seen"
        unseen = manifest[manifest["class_id"].isin(classes[entry["seen"]:wanted])].copy()
        unseen["label"] = unseen["class_id"].map({c: entry["seen"] + i for i, c in enumerate(classes[entry["seen"]:])})
        unseen["split"], unseen["part"] = "test", "unseen"
        frame = pd.concat([seen, unseen], ignore_index=True)
        frame["label"] += offset
        frame["group"] = frame["task"] = task
        frame["dataset"], frame["name"] = entry["dataset"], entry["name"]
        frame["path"] = entry["dataset"] + "/" + frame["path"].astype(str)
        frames.append(frame)
        offset += wanted
    return pd.concat(frames, ignore_index=True)


def sequence_statistics(frame: pd.DataFrame) -> pd.DataFrame:
    """Chapter 7's split statistics: classes and images per dataset, part and split."""
    out = frame.groupby(["task", "name", "part", "split"], sort=False).agg(
        images=("path", "size"), classes=("class_id", "nunique"))
    return out.reset_index()


def _per_class_fraction(frame: pd.DataFrame, fraction: float, seed: int) -> pd.Series:
    """floor(fraction * n) images of every class train, the rest test; which
    ones is a seeded random choice per class (as in the original code)."""
    split = pd.Series("test", index=frame.index)
    for class_id, members in frame.groupby("class_id").groups.items():
        members = sorted(members, key=lambda i: frame.at[i, "path"])
        rng = np.random.default_rng([seed, int(class_id)])
        chosen = rng.permutation(len(members))[: int(np.floor(fraction * len(members)))]
        split.loc[[members[i] for i in chosen]] = "train"
    return split


def write_split(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def read_split(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, dtype={"split": str})


def statistics(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 5.1: images / classes per group and split."""
    out = frame.groupby(["group", "split"]).agg(images=("path", "size"), classes=("class_id", "nunique"))
    return out.reset_index()
