"""Generation quality (Table 7.5): Inception score and FID analogues of noise, generated and real images."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.io import read_json
from retrieval_bench.core.tables import TableKind
from retrieval_bench.studies.lifelong.plan import quality_path

QUALITY_METRICS = {"inception_score_mean": "inception_score", "inception_score_std": "inception_score_split_std",
                   "fid": "fid"}


class GenerationQuality(TableKind):
    name = "generation_quality"
    label = "Generated images"
    caption = ("Inception score (mean and spread over splits) and Fréchet distance to the real origin images of "
               "the generator's initial noise, the images generated from the base model and the real images; the "
               "floor: the distance between two random halves of the origin set")
    keys = ["configuration", "metric"]
    unit = "Inception score and Fréchet distance analogues"

    def inputs(self, config, table):
        return [quality_path(config, config["tables"][table]["protocol"], seed) for seed in config["seeds"]]

    def values(self, config, table):
        spec = config["tables"][table]
        records = []
        for seed in config["seeds"]:
            result = read_json(quality_path(config, spec["protocol"], seed))
            for row in result["rows"]:
                records += [{"configuration": row["configuration"], "seed": seed, "metric": metric,
                             "value": float(row[key])} for key, metric in QUALITY_METRICS.items()]
            # the floor: two halves of the real origin set, FID between them
            records.append({"configuration": "real_split_half", "seed": seed, "metric": "fid",
                            "value": float(result["real_split_half"])})
        return pd.DataFrame(records)


KIND = GenerationQuality()
