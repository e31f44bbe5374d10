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

from retrieval_bench.core.io import atomic_path


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
