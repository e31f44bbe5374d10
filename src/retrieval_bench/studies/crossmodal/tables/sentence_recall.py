"""Image-sentence retrieval (Tables 4.1-4.5, 4.7, 4.8): per row (configuration,
backbone), data set and direction, R@1/5/10, the CMPM code's mAP (the
thesis's "mAP") and standard mAP, in percent, beside the thesis's numbers;
rows of other papers' methods show the thesis's value only."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import protocols_of, rows_of
from retrieval_bench.core.io import read_json
from retrieval_bench.core.tables import Layout
from retrieval_bench.studies.crossmodal import plan
from retrieval_bench.studies.crossmodal.tables.base import PublishedOnlyRows, SentenceTable

DIRECTIONS = ["i2t", "t2i"]
METRICS = ["recall@1", "recall@5", "recall@10", "map_cmpm_code", "map"]
SHORT = {"recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "map_cmpm_code": "mAP", "map": "mAP (std.)"}


def row_groups(config: dict, spec: dict, row: dict, run: plan.SentenceRun) -> list[str]:
    """The evaluation groups of `run` a table row shows: its protocol's, narrowed by the row's (or the
    table's) `datasets`."""
    wanted = row.get("datasets") or spec.get("datasets")
    return [g for g in plan.groups_of(config, run.protocol) if wanted is None or g in wanted]


class SentenceRecall(PublishedOnlyRows, SentenceTable):
    name = "sentence_recall"
    label = "Image-sentence retrieval"
    caption = ("Image-to-text (i2t: image queries, the test captions the gallery) and text-to-image (t2i) retrieval "
               "by cosine in the shared space; relevant = the same instance (image; person on CUHK-PEDES). R@K: a "
               "relevant item among the top K. mAP: the CMPM code's average precision, the thesis's column (for "
               "t2i with one relevant image it equals R@1); mAP (std.): standard average precision. MS-COCO 1K: "
               "the mean over its five test folds")
    keys = ["configuration", "backbone", "dataset", "direction", "metric"]
    options = {
        "datasets": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                     "description": "sentence_recall: the evaluation groups shown (a protocol's name, or name1k "
                                    "and name5k for a set with test folds); default all"},
        "directions": {"type": "array", "items": {"enum": DIRECTIONS}, "minItems": 1,
                       "description": "sentence_recall: the directions shown (default both, i2t first)"},
        "measures": {"type": "array", "items": {"enum": METRICS}, "minItems": 1,
                    "description": "sentence_recall: the measures shown, in this order (default all)"},
    }
    row_options = {
        **plan.BACKBONE_ROW_OPTION,
        "datasets": {"type": "array", "items": {"type": "string"}, "description": "sentence_recall: the "
                     "evaluation groups this row has (narrower than the table's)"},
        "published_only": {"type": "boolean", "description": "a row the thesis prints but the project does "
                           "not run: its thesis values, no reproduced cell"},
    }
    mini_note = ("At mini scale images are feature vectors of synthetic captioned scenes and the encoders stand-ins "
                 "(spec chapter4.md 13): the thesis numbers are context, not targets. Compare the patterns "
                 "(which term helps, which direction is easier, which backbone ranks higher).")

    def setting(self, config, spec):
        models = plan.embedding_block(config)["backbones"]
        return (f"protocols {', '.join(f'`{p}`' for p in protocols_of(spec))}; backbones "
                + ", ".join(f"{b} = `{m}`" for b, m in models.items()))

    def cells(self, config, table, seeds=None):
        """(row, run, groups) of every run the table reads."""
        spec = config["tables"][table]
        out = []
        for row in rows_of(spec):
            if row.get("published_only"):
                continue
            for run in plan.sentence_runs(config, {**spec, "rows": [row]}, seeds):
                out.append((row, run, row_groups(config, spec, row, run)))
        return out

    def inputs(self, config, table):
        return sorted({f"{plan.sentence_run_dir(config, run)}/metrics.json" for _, run, _ in self.cells(config, table)})

    def values(self, config, table):
        spec = config["tables"][table]
        directions, metrics = spec.get("directions", DIRECTIONS), spec.get("measures", METRICS)
        records = []
        for row, run, groups in self.cells(config, table):
            result = read_json(f"{plan.sentence_run_dir(config, run)}/metrics.json")["groups"]
            records += [{"configuration": row["id"], "backbone": run.backbone, "dataset": group, "direction": d,
                         "metric": m, "seed": run.seed, "value": 100.0 * result[group][d][m]}
                        for group in groups for d in directions for m in metrics]
        return pd.DataFrame(records)

    def build(self, config, table):
        """The runs' rows and the published-only rows (thesis values, no reproduced cell), in the config's
        row order."""
        out = super().build(config, table)
        spec = config["tables"][table]
        rows = rows_of(spec)
        published = {(r["id"], r.get("backbone", "mobilenet")) for r in rows if r.get("published_only")}
        thesis = self.thesis(table)
        wanted = (thesis[["configuration", "backbone"]].apply(tuple, axis=1).isin(published)
                  & thesis["direction"].isin(spec.get("directions", DIRECTIONS))
                  & thesis["metric"].isin(spec.get("measures", METRICS)))
        if spec.get("datasets"):
            wanted &= thesis["dataset"].isin(spec["datasets"])
        out = self.with_published(out, thesis[wanted])
        order = {(r["id"], r.get("backbone", "mobilenet")): i for i, r in enumerate(rows)}
        position = out[["configuration", "backbone"]].apply(tuple, axis=1).map(order)
        return out.assign(_row=position).sort_values("_row", kind="stable").drop(columns="_row").reset_index(drop=True)

    def wide_column(self, frame):
        return frame["dataset"] + " " + frame["direction"] + " " + frame["metric"].map(SHORT)

    def long_form(self, frame):
        return frame.assign(column=self.wide_column(frame))

    def layout(self):
        return Layout(["configuration", "backbone"], "column", 2)


KIND = SentenceRecall()
