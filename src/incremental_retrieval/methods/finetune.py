"""Fine-tuning: the semantic preserving loss only (L_ce + L_triplet)."""

from incremental_retrieval.methods.base import Method


class FineTune(Method):
    name = "finetune"
