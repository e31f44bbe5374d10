"""Incremental methods, one file each, all behind `methods.base.Method`.

To add a method: write `methods/<name>.py` with a `Method` subclass, add it to
METHODS below, and give it an entry under `configurations:` in config.yaml.
"""

from incremental_retrieval.methods.alasso import ALASSO
from incremental_retrieval.methods.base import Method, TaskContext
from incremental_retrieval.methods.correlation import Correlation
from incremental_retrieval.methods.dkd import DKD
from incremental_retrieval.methods.ewc import EWC
from incremental_retrieval.methods.feature_extraction import FeatureExtraction
from incremental_retrieval.methods.finetune import FineTune
from incremental_retrieval.methods.joint import Joint
from incremental_retrieval.methods.l2 import L2
from incremental_retrieval.methods.lwf import LwF
from incremental_retrieval.methods.mmd import MMD
from incremental_retrieval.methods.nce_ewc import NCEEWC

METHODS: dict[str, type[Method]] = {
    cls.name: cls for cls in (FeatureExtraction, FineTune, LwF, EWC, ALASSO, L2, MMD, Joint, NCEEWC, Correlation,
                                 DKD)
}


def build_method(name: str, **hparams) -> Method:
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; known methods: {sorted(METHODS)}")
    return METHODS[name](**hparams)


__all__ = ["METHODS", "Method", "TaskContext", "build_method"]
