"""Thesis Table 5.1 from the real split code, the thesis protocol settings in
config.yaml and the datasets' real per-class image counts (only the counts:
no images are needed to split)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from retrieval_bench.core.reference import thesis_table
from retrieval_bench.studies.incremental.splits import make_split, statistics
from tiny_project import ROOT

DATA = Path(__file__).parent / "data"


def thesis_protocol(name: str) -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())["scales"]["thesis"]["protocols"][name]


def table_5_1_rows(frame: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """The split's statistics as Table 5.1 lays them out (old = group 0, new = the rest)."""
    stats = statistics(frame)
    stats["class_group"] = stats["group"].map(lambda g: "old" if g == 0 else "new")
    stats = stats.groupby(["class_group", "split"], as_index=False).agg(images=("images", "sum"),
                                                                        classes=("classes", "sum"))
    stats.insert(0, "protocol", protocol)
    return stats


def published(protocol: str) -> pd.DataFrame:
    table = thesis_table("table_5_1")
    return table[table.protocol == protocol]


def assert_matches_thesis(frame: pd.DataFrame, protocol: str) -> None:
    keys = ["protocol", "class_group", "split"]
    got = table_5_1_rows(frame, protocol).set_index(keys).sort_index()
    want = published(protocol).set_index(keys).sort_index()[["images", "classes"]]
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def dogs_manifest() -> pd.DataFrame:
    """A manifest with Stanford Dogs' real per-class sizes: per class, the official
    lists' 100 train images and the rest test (12,000 / 8,580 in all)."""
    counts = pd.read_csv(DATA / "stanford_dogs_images_per_class.csv", comment="#")
    rows = [{"path": f"Images/{c.folder}/{i:04d}.jpg", "class_id": c.class_id,
             "class_name": c.folder.split("-", 1)[1], "split": "train" if i < 100 else "test"}
            for c in counts.itertuples() for i in range(c.images)]
    return pd.DataFrame(rows)


def test_dogs_counts_source_matches_the_published_totals():
    counts = pd.read_csv(DATA / "stanford_dogs_images_per_class.csv", comment="#")
    assert counts.class_id.tolist() == list(range(1, 121))
    assert counts.images.sum() == 20_580 and counts.images.min() > 100
    manifest = dogs_manifest()
    assert (manifest.split == "train").sum() == 12_000 and (manifest.split == "test").sum() == 8_580


def test_dogs_onestep_split_gives_thesis_table_5_1():
    protocol = thesis_protocol("dogs_onestep")
    assert protocol["split"] == {"kind": "official"} and protocol["groups"] == [60, 60]
    frame = make_split(dogs_manifest(), protocol["split"], protocol["groups"])
    assert_matches_thesis(frame, "dogs_onestep")  # old 6000 / 4651, new 6000 / 3929


@pytest.mark.parametrize("protocol", ["dogs_5", "dogs_multistep"])
def test_other_dogs_protocols_keep_the_old_classes_of_table_5_1(protocol):
    """The 5-class and 4 x 15-class experiments share the 60 old classes."""
    spec = thesis_protocol(protocol)
    frame = make_split(dogs_manifest(), spec["split"], spec["groups"])
    old = table_5_1_rows(frame, "dogs_onestep").query("class_group == 'old'").set_index("split")
    want = published("dogs_onestep").query("class_group == 'old'").set_index("split")
    assert old.loc["train", "images"] == want.loc["train", "images"] == 6000
    assert old.loc["test", "images"] == want.loc["test", "images"] == 4651


def test_chapter_7_dogs_split_on_the_real_class_sizes():
    """L2342: 100 seen classes (17,028 images) and 20 unseen (3,552); the seen
    part's "~80 %" train fraction gives more than the published 13,063 train
    images; floor(0.77 n) per class gives exactly 13,063 (README)."""
    from retrieval_bench.studies.lifelong.sequences import make_sequence_split

    entry = next(e for e in thesis_protocol("ch7_cub_dogs")["sequence"] if e["name"] == "dogs")
    assert (entry["seen"], entry["unseen"]) == (100, 20)
    frame = make_sequence_split({"dogs": dogs_manifest()}, [entry])
    counts = frame.groupby(["part", "split"]).size()
    assert counts["seen"].sum() == 17_028 and counts["unseen", "test"] == 3_552
    assert counts["seen", "train"] == 13_582  # sum of floor(0.8 n) per class
    option = make_sequence_split({"dogs": dogs_manifest()},
                                 [{**entry, "split": {**entry["split"], "train_fraction": 0.77}}])
    assert (option.split == "train").sum() == 13_063
