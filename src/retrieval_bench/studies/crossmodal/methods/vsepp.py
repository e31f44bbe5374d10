"""VSE++ (Faghri et al., thesis reference [184]), the baseline row of Table 4.1:
the bidirectional hinge with the hardest in-batch negative (`--max_violation`),
margin 0.2, summed over the batch as VSE++ sums it, on the same encoders and
schedule as ITMeetsAL (a shared schedule isolates the loss; spec 4.1).  A
caption of the pair's own instance is never a negative."""

from __future__ import annotations

from retrieval_bench.studies.crossmodal import losses
from retrieval_bench.studies.crossmodal.embedding_method import EmbeddingMethod


class VSEpp(EmbeddingMethod):
    name = "vsepp"
    DEFAULTS = {**EmbeddingMethod.COMMON, "margin": 0.2, "noise_sigma": 0.0}

    @classmethod
    def check_values(cls, params: dict) -> None:
        EmbeddingMethod.check_common(params)

    def generator_terms(self, zi, zt, labels):
        return {"vse": losses.vsepp_max_violation(zi, zt, labels, self.hparams["margin"])}
