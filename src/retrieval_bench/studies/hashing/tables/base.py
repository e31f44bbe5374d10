"""What the hashing study's table kinds share: runs on one or every vector protocol, code lengths as
columns, no published numbers (the slides show plots only)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.io import read_json
from retrieval_bench.core.tables import Layout, TableKind
from retrieval_bench.studies.hashing import plan
from retrieval_bench.studies.hashing.plan import EVERY_PROTOCOL

BITS_OPTION = {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1,
               "description": "the code lengths of the table's columns (multiples of 8 here: codes are packed "
                              "to bytes)"}


class VectorHashingTable(TableKind):
    options = {"bits": BITS_OPTION, "every_protocol": EVERY_PROTOCOL}
    mini_note = ("No published numbers: the slides (002:81-84) show plots without numbers, so the published "
                 "column is empty at every scale. At mini scale the data are scikit-learn's digits and a "
                 "synthetic 128-d manifold (spec 10.1): compare LDPH with its reference, not with other papers.")

    def setting(self, config, spec):
        names = [plan.vectors_block(config, p)["name"] for p in plan.protocols_of(config, spec)]
        return f"vector set{'s' if len(names) > 1 else ''} {', '.join(f'`{n}`' for n in names)}"

    def check(self, config, where, spec):
        if "bits" not in spec:
            raise ValueError(f"{where}.bits: missing; list the code lengths of the table's columns")
        odd = [b for b in spec["bits"] if b % 8]
        if odd:
            raise ValueError(f"{where}.bits: {odd} not a multiple of 8 (codes are packed to bytes); use 16, 32, ...")

    def inputs(self, config, table):
        return sorted({plan.metrics_path(config, run) for run in plan.runs(config, config["tables"][table])})

    def records(self, spec: dict, measured: dict) -> list[dict]:
        """The table's records (a `metric` and a `value`, and the kind's other keys) of one run at one code
        length (`measured`: that code length's entry of metrics.json)."""
        raise NotImplementedError

    def values(self, config, table):
        spec, records = config["tables"][table], []
        for run in plan.runs(config, spec):
            metrics = read_json(plan.metrics_path(config, run))
            name = plan.vectors_block(config, run.protocol)["name"]
            for bits in spec["bits"]:
                measured = metrics["bits"].get(str(bits))
                if measured is None:  # a code length the method does not define (PCAH past the dimension)
                    continue
                records += [{"configuration": run.row, "dataset": name, "bits": bits, "seed": run.seed, **r}
                            for r in self.records(spec, measured)]
        return pd.DataFrame(records)

    def thesis(self, table):
        return pd.DataFrame({k: pd.Series(dtype="int64" if k == "bits" else "object") for k in self.keys}
                            | {"thesis": pd.Series(dtype="float64")})

    def wide_column(self, frame):
        return frame["dataset"] + " " + frame["bits"].astype(str) + " bits"

    def long_form(self, frame):
        return frame.assign(codes=self.wide_column(frame))

    def layout(self):
        return Layout(self.wide_index(), "codes", 2)
