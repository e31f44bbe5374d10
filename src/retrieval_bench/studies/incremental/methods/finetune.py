"""Fine-tuning: the semantic preserving loss only (L_ce + L_triplet)."""

from retrieval_bench.studies.incremental.methods.base import Method


class FineTune(Method):
    name = "finetune"
