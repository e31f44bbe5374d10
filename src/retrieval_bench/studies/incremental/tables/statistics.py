"""Split statistics (Tables 5.1, chapter 6's and 7's splits): images and classes per class group and split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from retrieval_bench.core.reference import thesis_table
from retrieval_bench.core.tables import Layout, TableKind
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.protocol import form_of

KEYS = ["protocol", "class_group", "split"]


class Statistics(TableKind):
    name = "statistics"
    marks_best = False
    label = "Datasets"
    caption = ("Images and classes per protocol, class group (old: the classes of the first task; chapter 7: "
               "each dataset's seen and unseen classes) and split, with the thesis's counts in `thesis_images` "
               "and `thesis_classes`")
    keys = KEYS
    unit = "image and class counts"
    needs_rows = False

    def inputs(self, config, table):
        return [plan.split_manifest(config, p) for p in config["tables"][table]["protocols"]]

    def build(self, config, table):
        """Table 5.1: images and classes per split and class group (old = group 0).  Chapter 6's CUB split is
        Table 5.1's (L2035); its Dogs 60/40 counts are not published."""
        from retrieval_bench.studies.incremental.splits import read_split

        thesis = thesis_table(table)
        records = []
        for protocol in config["tables"][table]["protocols"]:
            frame = read_split(Path(plan.split_manifest(config, protocol)))
            form = form_of(config, protocol)
            frame["class_group"] = form.class_groups(frame)
            for (group, split), part in frame.groupby(["class_group", "split"], sort=form.sort_class_groups):
                published = thesis[(thesis.protocol == protocol) & (thesis.class_group == group)
                                   & (thesis.split == split)]
                records.append({"protocol": protocol, "class_group": group, "split": split, "images": len(part),
                                "classes": part["class_id"].nunique(),
                                "thesis_images": published["images"].iloc[0] if len(published) else None,
                                "thesis_classes": published["classes"].iloc[0] if len(published) else None})
        return pd.DataFrame(records)

    def wide(self, frame):
        return frame.set_index(KEYS)

    def layout(self):
        return Layout(KEYS, "quantity", 0)

    def long_form(self, frame):
        """A row per split and quantity (images, classes), in the long form of the other kinds."""
        parts = [frame[KEYS].assign(quantity=q, reproduced=frame[q], thesis=frame[f"thesis_{q}"])
                 for q in ("images", "classes")]
        return pd.concat(parts, ignore_index=True)


KIND = Statistics()
