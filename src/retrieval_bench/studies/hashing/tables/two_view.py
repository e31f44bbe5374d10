"""The deck's works (1) CIE and (2) complementary supervision as feature-level rows on two views of the
same items (spec 4; two_view.py): mAP by cosine over the database (relevant: the same class) and the bytes
each row stores per database item."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.io import read_json
from retrieval_bench.studies.hashing import plan
from retrieval_bench.studies.hashing.tables.base import VectorHashingTable

ROWS = ("view_a", "view_b", "view_b_dense", "late_fusion", "cie_b", "csm_b")


class TwoView(VectorHashingTable):
    name = "two_view"
    label = "Works 1 and 2 (two views)"
    caption = ("View A, view B (sparsified to 10 % of its entries as an inverted index stores it; dense beside "
               "it), late fusion of A and B, CIE's embedded B (B filled from A's reciprocal neighbours, only "
               "B kept) and CSM's fine-tuned B (a head trained on A's reciprocal neighbours as positives): mAP "
               "by cosine over the database with class labels, and bytes stored per database item")
    keys = ["configuration", "dataset", "metric"]
    unit = "mAP in percent; bytes per item"
    needs_rows = False
    options = {}
    mini_note = ("No published numbers (the slides show none). Feature-level rows on two views built for the "
                 "mini sets (digits: pixels and a random ReLU map of them; manifold128: two maps of one latent); "
                 "the image-level versions (SIFT inverted files, VGG fine-tuning on Holidays) are out of scope.")

    def check(self, config, where, spec):
        """No code lengths: the rows are real-valued."""

    def inputs(self, config, table):
        return [f"{plan.two_view_dir(config, p, s)}/metrics.json"
                for s in config["seeds"] for p in plan.two_view_protocols(config)]

    def values(self, config, table):
        records = []
        for seed in config["seeds"]:
            for protocol in plan.two_view_protocols(config):
                measured = read_json(f"{plan.two_view_dir(config, protocol, seed)}/metrics.json")["rows"]
                name = plan.vectors_block(config, protocol)["name"]
                records += [{"configuration": row, "dataset": name, "metric": metric, "seed": seed,
                             "value": measured[row][metric]} for row in ROWS for metric in ("map", "bytes")]
        return pd.DataFrame(records, columns=[*self.keys, "seed", "value"])

    def build(self, config, table):
        if not plan.two_view_protocols(config):  # no data set of this scale has a second view
            return pd.DataFrame(columns=[*self.keys, "reproduced", "thesis", "reproduced_std", "seeds"])
        return super().build(config, table)

    def setting(self, config, spec):
        names = [plan.vectors_block(config, p)["name"] for p in plan.two_view_protocols(config)]
        return f"vector sets {', '.join(f'`{n}`' for n in names) or '(none with a second view at this scale)'}"

    def wide_index(self):
        return ["configuration"]

    def wide_column(self, frame):
        return frame["dataset"] + " " + frame["metric"]


KIND = TwoView()
