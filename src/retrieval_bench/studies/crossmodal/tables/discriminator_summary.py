"""Beside Table 4.4 (not a thesis table): the modality discriminator's accuracy
and output entropy in the first epoch and over the last three, per row.  In the
rows with the adversary D is the adversary; in the others a probe trained on
detached features that never feeds back: the numbers say whether the
adversary ran and how separable the two modalities are without it (spec
chapter4.md 3.1, 13.6)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import protocols_of
from retrieval_bench.studies.crossmodal import plan
from retrieval_bench.studies.crossmodal.tables.base import SentenceTable

LAST_EPOCHS = 3


class DiscriminatorSummary(SentenceTable):
    name = "discriminator_summary"
    label = "Discriminator"
    caption = ("The modality discriminator's accuracy (at its steps, before each update; chance 0.5) and the "
               "entropy of its output in nats (chance log 2 = 0.693), in the first epoch and averaged over the last "
               f"{LAST_EPOCHS}: the adversary in rows with L_s, a detached probe in the others")
    keys = ["configuration", "backbone", "dataset", "metric"]
    unit = "accuracy as a fraction, entropy in nats"
    marks_best = False
    mini_note = "Measured at mini scale on the synthetic stand-ins; the thesis reports no such numbers."

    def setting(self, config, spec):
        return f"protocol {', '.join(f'`{p}`' for p in protocols_of(spec))}, the runs' history.csv"

    def inputs(self, config, table):
        return sorted({f"{plan.sentence_run_dir(config, run)}/history.csv"
                       for run in plan.sentence_runs(config, config["tables"][table])})

    def values(self, config, table):
        records = []
        for run in plan.sentence_runs(config, config["tables"][table]):
            history = pd.read_csv(f"{plan.sentence_run_dir(config, run)}/history.csv")
            if "d_accuracy" not in history:
                continue  # a method without a discriminator (modality_probe: false)
            name = plan.captions_block(config, run.protocol)["name"]
            for measure in ("d_accuracy", "d_entropy"):
                records += [{"configuration": run.row, "backbone": run.backbone, "dataset": name,
                             "metric": f"{measure}_{when}", "seed": run.seed, "value": value}
                            for when, value in (("first_epoch", history[measure].iloc[0]),
                                                ("last_epochs", history[measure].iloc[-LAST_EPOCHS:].mean()))]
        return pd.DataFrame(records)

    def decimals(self, measure) -> int:
        return 4


KIND = DiscriminatorSummary()
