"""The captioned data sets as prepared (not a thesis table): images, captions
and instances (identities on CUHK-PEDES) per split and the vocabulary, beside
the split counts of L1320, so that a reader sees which split a run used (the
Flickr30K and MS-COCO questions of spec chapter4.md 5.2)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import protocols_of
from retrieval_bench.core.io import read_json
from retrieval_bench.core.tables import TableKind
from retrieval_bench.studies.crossmodal import plan


class CaptionStatistics(TableKind):
    name = "caption_statistics"
    label = "Data sets"
    caption = ("Images, captions and instances per split of each prepared captioned data set, and its vocabulary "
               "(training-caption words seen at least 3 times, CMPM's rule), beside the counts the thesis gives "
               "(L1320)")
    keys = ["dataset", "split", "quantity"]
    unit = "counts"
    needs_rows = False
    marks_best = False
    mini_note = ("At mini scale the data sets are the synthetic stand-ins of spec chapter4.md 13.2 (sizes in "
                 "proportion to the real ones), so their counts are far below the thesis's.")

    def setting(self, config, spec):
        return f"protocols {', '.join(f'`{p}`' for p in protocols_of(spec))}"

    def inputs(self, config, table):
        return [f"{plan.captions_folder(config, p)}/info.json" for p in protocols_of(config["tables"][table])]

    def values(self, config, table):
        records = []
        for protocol in protocols_of(config["tables"][table]):
            name = plan.captions_block(config, protocol)["name"]
            statistics = read_json(f"{plan.captions_folder(config, protocol)}/info.json")["statistics"]
            instance = "identities" if name == "cuhk_pedes" else "instances"
            for split in ("train", "val", "test", "all"):  # all: the sum (an instance lies in one split)
                counts = statistics[split] if split != "all" else {
                    key: sum(statistics[s][key] for s in ("train", "val", "test"))
                    for key in ("images", "captions", "instances")}
                records += [{"dataset": name, "split": split, "quantity": q, "value": counts[key]}
                            for q, key in (("images", "images"), ("captions", "captions"), (instance, "instances"))]
            records.append({"dataset": name, "split": "all", "quantity": "vocabulary",
                            "value": statistics["vocabulary"]})
        # the data do not depend on the seed: one value, under the first seed
        return pd.DataFrame(records).assign(seed=config["seeds"][0])

    def decimals(self, measure) -> int:
        return 0

    def cell(self, row) -> str:
        return f"{row.reproduced:.0f}" + (f" ({row.thesis:.0f})" if pd.notna(row.thesis) else "")


KIND = CaptionStatistics()
