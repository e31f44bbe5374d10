"""Incremental methods, one file each, all behind `methods.base.Method`.

Methods are found by file name (core.registry.method_class): to add one,
write methods/<name>.py with a `Method` subclass whose `name` is <name> and
give it an entry under `configurations:` in config.yaml.  A study building on
this loop keeps its own methods in its own methods/ folder (the lifelong
study's dkd.py).
"""

from retrieval_bench.core import registry
from retrieval_bench.studies.incremental.methods.base import Method, TaskContext


def build_method(name: str, **hparams) -> Method:
    return registry.method_class(name)(**hparams)


__all__ = ["Method", "TaskContext", "build_method"]
