"""Loss terms: metric losses, distillation terms (regularisers live with their methods)."""

from retrieval_bench.studies.incremental.losses.distillation import (
    feature_l1,
    feature_l2,
    gram_kl,
    knowledge_distillation,
    mmd,
)
from retrieval_bench.studies.incremental.losses.metric import classification, nce, pair_loss, triplet

__all__ = ["classification", "triplet", "pair_loss", "nce", "knowledge_distillation", "feature_l1", "feature_l2",
           "mmd", "gram_kl"]
