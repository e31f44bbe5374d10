"""Model size and computation (Table 4.6): per trained model, the image side's
FLOPs (the thesis's column), the text side's, the parameters as the thesis
counts them (the word embedding at CMPM's 12,000 rows, and at the run's own
vocabulary), and the
inference milliseconds per image-caption pair measured on this machine."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from retrieval_bench.core.io import read_json
from retrieval_bench.studies.crossmodal import plan
from retrieval_bench.studies.crossmodal.tables.base import SentenceTable

MEASURES = ["flops", "flops_text", "params_million", "params_million_actual_vocab", "inference_ms",
            "inference_ms_std", "inference_ms_median"]


class Complexity(SentenceTable):
    name = "complexity"
    label = "Model complexity"
    caption = ("FLOPs of one forward pass (a multiply-add counts 2; image side as the thesis, text side beside it "
               "with the LSTM counted analytically), parameters in millions (image trunk, both heads' Linear, the "
               "word embedding at 12,000 rows as the thesis counts it, LSTMs; and with the run's own vocabulary), "
               "inference time per pair at batch 1 in milliseconds (mean, std and median of the timed pairs) on the "
               "machine the heading names")
    keys = ["configuration", "backbone", "dataset", "metric"]
    unit = "FLOPs, millions of parameters, milliseconds"
    marks_best = False
    mini_note = ("At mini scale the encoders are stand-ins over feature vectors whose widths mirror the thesis "
                 "backbones' cost order (spec chapter4.md 13.3): the FLOP and parameter orders hold by construction "
                 "and test the counting; inference time is measured.")

    def setting(self, config, spec):
        runs = plan.sentence_runs(config, spec)
        where = ""
        if runs and Path(first := f"{plan.sentence_run_dir(config, runs[0])}/complexity.json").is_file():
            measured = read_json(first)
            where = f"; timed on {measured['device']} with {measured['threads']} thread(s)"
        return f"protocol `{spec['protocol']}`, the trained models of its runs{where}"

    def runs(self, config, table):
        return plan.sentence_runs(config, config["tables"][table])

    def inputs(self, config, table):
        return sorted({f"{plan.sentence_run_dir(config, run)}/complexity.json" for run in self.runs(config, table)})

    def values(self, config, table):
        records = []
        for run in self.runs(config, table):
            measured = read_json(f"{plan.sentence_run_dir(config, run)}/complexity.json")
            name = plan.captions_block(config, run.protocol)["name"]
            records += [{"configuration": run.row, "backbone": run.backbone, "dataset": name, "metric": m,
                         "seed": run.seed, "value": float(measured[m])} for m in MEASURES
                        if measured.get(m) is not None]
        return pd.DataFrame(records)

    def decimals(self, measure) -> int:
        return 4 if measure.startswith("params") else 2

    def cell(self, row) -> str:
        if row.metric.startswith("flops"):
            text = f"{row.reproduced:.3g}"
            return text + (f" ({row.thesis:.2g})" if pd.notna(row.thesis) else "")
        return super().cell(row)


KIND = Complexity()
