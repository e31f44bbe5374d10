"""Training seconds per method and code length (fit on the training items; encoding and scoring not
counted), on the machine that ran the job (named in the run's log and the docs)."""

from __future__ import annotations

from retrieval_bench.studies.hashing.tables.base import VectorHashingTable


class TrainingTime(VectorHashingTable):
    name = "training_time"
    label = "Training time"
    caption = "Seconds to fit each method at each code length (one process, the scale's threads)"
    keys = ["configuration", "dataset", "bits", "metric"]
    unit = "seconds"

    def records(self, spec, measured):
        return [{"metric": "train_seconds", "value": measured["train_seconds"]}]

    def decimals(self, measure):
        return 4  # the references fit in milliseconds

    def wide_index(self):
        return ["configuration"]


KIND = TrainingTime()
