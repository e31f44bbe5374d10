"""Joint training: the reference model A(1-n+m), trained on all classes at once
from the pretrained backbone (the same recipe as the base model)."""

from retrieval_bench.studies.incremental.methods.base import Method


class Joint(Method):
    name = "joint"
    from_pretrained = True
