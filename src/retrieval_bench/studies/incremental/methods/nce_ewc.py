"""NCE_EWC [233], a chapter 6 baseline (thesis L2085): EWC plus a normalised
cross-entropy over the similarities of each anchor to its hardest positive
and its 9 hardest negatives ("we follow this protocol by mining 9 hard
negative samples"), weight 10 (the third of "8000, 0.2, 10, and 0.1").

The Fisher of a task trained here is that of the whole training loss it
minimised (semantic terms + NCE); the shared base model's, of the loss the
base was trained with.  The reference implementation (ProsusAI
continual-object-instances) computes its Fisher from the NCE loss alone and
merges 0.5 (F_new + F_old); here EWC's HAT-style Fisher and merge are kept,
as the thesis cites HAT for EWC (L2062).
"""

from retrieval_bench.studies.incremental import losses
from retrieval_bench.studies.incremental.methods.ewc import EWC


class NCEEWC(EWC):
    name = "nce_ewc"

    @classmethod
    def hyperparameters(cls):
        return {**super().hyperparameters(), "nce_weight": 10.0, "n_negatives": 9, "nce_temperature": 1.0}

    def nce_term(self, embeddings, labels) -> dict:
        return {"nce": self.nce_weight * losses.nce(embeddings, labels, self.n_negatives, self.nce_temperature)}

    def extra_terms(self, context, images, labels, embeddings, logits):
        return {**self.nce_term(embeddings, labels), **super().extra_terms(context, images, labels, embeddings,
                                                                           logits)}

    def fisher_terms(self, embeddings, logits, labels, first_class, semantic=None):
        terms = super().fisher_terms(embeddings, logits, labels, first_class, semantic)
        if semantic is None:  # a task trained by this method: its NCE term too
            terms.update(self.nce_term(embeddings, labels))
        return terms
