"""Hamming-ranking mAP (Tables 3.1-3.3): image-to-text and text-to-image mAP@all
in percent, per row, data set and code length, beside the thesis's numbers."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import protocols_of, rows_of
from retrieval_bench.core.io import read_json
from retrieval_bench.core.tables import Layout, TableKind
from retrieval_bench.studies.crossmodal import plan
from retrieval_bench.studies.crossmodal.tables.base import PublishedOnlyRows

DIRECTIONS = {"i2t": "image_to_text", "t2i": "text_to_image"}


class HashingMap(PublishedOnlyRows, TableKind):
    name = "hashing_map"
    label = "Hamming mAP"
    caption = ("mAP over the whole Hamming ranking (ties in database order; a query without a relevant item "
               "counts 0, DCMH's protocol), image queries against the text database (i2t) and the reverse "
               "(t2i); relevant = sharing a label")
    keys = ["configuration", "dataset", "direction", "bits", "metric"]
    options = {"bits": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1,
                        "description": "the code lengths of the table's columns"}}
    row_options = {"published_only": {"type": "boolean", "description": "a row the thesis prints but the "
                                      "project does not run (SSAH): its thesis values, no reproduced cell"}}

    mini_note = ("At mini scale the pairs are synthetic stand-ins (spec chapter3.md 14.2) and the networks a tenth "
                 "of the thesis's: the thesis numbers are context, not targets. Compare the patterns (which term "
                 "helps, which method ranks higher), not the absolute values.")

    def setting(self, config, spec):
        protocols = protocols_of(spec)
        return f"protocol{'s' if len(protocols) > 1 else ''} {', '.join(f'`{p}`' for p in protocols)}, image features"

    def check(self, config, where, spec):
        if "bits" not in spec:
            raise ValueError(f"{where}.bits: missing; list the code lengths of the table's columns")

    def inputs(self, config, table):
        return sorted({plan.metrics_path(config, run) for run in plan.table_runs(config, config["tables"][table])})

    def values(self, config, table):
        records = []
        for run in plan.table_runs(config, config["tables"][table]):
            metrics = read_json(plan.metrics_path(config, run))
            name = plan.paired_block(config, run.protocol)["name"]
            records += [{"configuration": run.row, "dataset": name, "direction": short, "bits": run.bits,
                         "metric": "map", "seed": run.seed, "value": 100.0 * metrics[direction]["map"]}
                        for short, direction in DIRECTIONS.items()]
        return pd.DataFrame(records)

    def build(self, config, table):
        """The runs' rows, then the published-only rows with their thesis values (no reproduced cell)."""
        out = super().build(config, table)
        spec = config["tables"][table]
        published = [row["id"] for row in rows_of(spec) if row.get("published_only")]
        thesis = self.thesis(table)
        return self.with_published(out, thesis[thesis["configuration"].isin(published)
                                               & thesis["dataset"].isin(out["dataset"].unique())
                                               & thesis["bits"].isin(spec["bits"])])

    def wide_index(self):
        return ["configuration", "direction"]

    def wide_column(self, frame):
        return frame["dataset"] + " " + frame["bits"].astype(str) + " bits"

    def long_form(self, frame):
        return frame.assign(codes=self.wide_column(frame))

    def layout(self):
        return Layout(["configuration", "direction"], "codes", 2)


KIND = HashingMap()
