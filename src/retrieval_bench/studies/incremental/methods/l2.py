"""The "L2 loss" baseline [219]: keep the student's embeddings of the new
images close to the frozen teacher's."""

from retrieval_bench.studies.incremental import losses
from retrieval_bench.studies.incremental.methods.base import Method


class L2(Method):
    name = "l2"

    @classmethod
    def hyperparameters(cls):
        return {"weight": 0.1}

    def extra_terms(self, context, images, labels, embeddings, logits):
        teacher_embeddings, _ = self.teacher_outputs(context, images)
        return {"l2": self.weight * losses.feature_l2(embeddings, teacher_embeddings)}
