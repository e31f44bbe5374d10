"""Chapter 7's split of a sequence of datasets and its statistics."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.studies.incremental.splits import make_split


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
