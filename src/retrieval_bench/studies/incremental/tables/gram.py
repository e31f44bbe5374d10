"""Gram-matrix measures (chapter 6, Fig. 6.6b as numbers) of the rows' final models on a fixed old-class sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from retrieval_bench.studies.incremental import measures, plan
from retrieval_bench.studies.incremental.tables.base import RunTable


class Gram(RunTable):
    name = "gram"
    marks_best = False
    label = "Gram matrices"
    caption = ("Gram-matrix measures of each row's final model on a fixed old-class sample: the mean same-class "
               "similarity, and the distance to the reference configuration's Gram matrix of the same images")
    keys = ["configuration", "metric"]
    unit = "Gram-matrix measures x 100"
    options = {"reference": {"type": "string", "description": "the configuration whose final model's Gram matrix "
                                                              "the rows are compared to"}}

    def inputs(self, config, table):  # the final models' old-class features
        return sorted({plan.features_dir(config, run) for run in self.runs(config, table)})

    def values(self, config, table):
        """Gram-matrix measures (measures.gram_measures, x 100) of each row's final model on the fixed old-class
        sample of group 0, per seed; the distance is to the `reference` configuration's Gram of the same images."""
        from retrieval_bench.vision.extract import load_features

        reference = config["tables"][table].get("reference")
        grams, records = {}, []
        for run in self.runs(config, table):
            data = load_features(Path(plan.features_dir(config, run)) / "group0.npz")
            grams[run] = measures.sample_gram(data["features"], data["labels"])
        for run, (gram, labels) in grams.items():
            ref = None
            if reference is not None:
                ref_gram, ref_labels = next(g for r, g in grams.items() if r.row == reference and r.seed == run.seed)
                if not np.array_equal(labels, ref_labels):
                    raise ValueError(f"{table}: {run.row} and {reference} sampled different images (seed {run.seed})")
                ref = ref_gram
            for metric, value in measures.gram_measures(gram, labels, ref).items():
                records.append({"configuration": run.row, "seed": run.seed, "metric": metric, "value": 100.0 * value})
        return pd.DataFrame(records)


KIND = Gram()
