"""Generation quality (Table 7.5): Inception score and Fréchet distance of noise, generated and real images."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.io import read_json
from retrieval_bench.core.tables import TableKind
from retrieval_bench.studies.lifelong.plan import quality_path

QUALITY_METRICS = {"inception_score_mean": "inception_score", "inception_score_std": "inception_score_split_std",
                   "frechet_distance": "frechet_distance"}


class GenerationQuality(TableKind):
    name = "generation_quality"
    label = "Generated images"
    caption = ("Inception score (mean and spread over splits of a seeded shuffle) and Fréchet distance to the real "
               "origin images of the generator's initial noise, the images generated from the base model and the "
               "real images, on the judge network's features (thesis scale: torchvision's ImageNet Inception-v3, not "
               "pytorch-fid's FID network; the thesis's FID is shown beside it); the floor real_bootstrap: the "
               "distance between two bootstrap resamples of the origin set, each of the rows' size")
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
            # the floor: two real sets of the rows' size (bootstrap resamples of the origin set)
            records.append({"configuration": "real_bootstrap", "seed": seed, "metric": "frechet_distance",
                            "value": float(result["real_bootstrap"])})
        return pd.DataFrame(records)


KIND = GenerationQuality()
