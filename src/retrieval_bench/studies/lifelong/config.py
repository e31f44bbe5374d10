"""What the schema cannot say about the lifelong study's part of the config."""

from __future__ import annotations

from retrieval_bench.studies.lifelong.protocol import FORM


def normalise(config: dict) -> None:
    for scale in config["scales"].values():  # a sequence's tasks are its datasets' seen classes
        for proto in scale["protocols"].values():
            if "sequence" in proto:
                FORM.normalise(proto)


def check(config: dict) -> None:
    """Nothing beyond the schema and the incremental study's checks of its datasets."""
