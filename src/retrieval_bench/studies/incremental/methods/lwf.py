"""Learning without Forgetting: knowledge distillation on the old classes'
logits (Eq. 5.3, temperature T = 2) added to the semantic loss."""

from retrieval_bench.studies.incremental import losses
from retrieval_bench.studies.incremental.methods.base import Method


class LwF(Method):
    name = "lwf"

    @classmethod
    def hyperparameters(cls):
        return {"alpha": 1.0, "temperature": 2.0}

    def extra_terms(self, context, images, labels, embeddings, logits):
        _, teacher_logits = self.teacher_outputs(context, images)
        return {"dist": self.alpha * losses.knowledge_distillation(logits, teacher_logits, self.temperature)}
