"""Chapter 5's method (Eq. 5.6): L = alpha L_dist + beta L_mmd + L_ce + L_triplet.

L_dist is LwF's distillation of the old classes' logits (Eq. 5.3); L_mmd is
the maximum mean discrepancy between the frozen teacher's and the student's
embeddings of the same new-class batch (Eq. 5.5).  alpha = 0 or beta = 0 gives
the ablations of Table 5.7.
"""

from retrieval_bench.studies.incremental import losses
from retrieval_bench.studies.incremental.methods.base import Method


class MMD(Method):
    name = "mmd"

    @classmethod
    def hyperparameters(cls):
        return {"alpha": 1.0, "beta": 1.0, "temperature": 2.0, "n_kernels": 5, "kernel_factor": 2.0}

    def extra_terms(self, context, images, labels, embeddings, logits):
        teacher_embeddings, teacher_logits = self.teacher_outputs(context, images)
        terms = {}
        if self.alpha:
            terms["dist"] = self.alpha * losses.knowledge_distillation(logits, teacher_logits, self.temperature)
        if self.beta:
            terms["mmd"] = self.beta * losses.mmd(teacher_embeddings, embeddings, self.n_kernels, self.kernel_factor)
        return terms
