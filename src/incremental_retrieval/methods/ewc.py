"""Elastic Weight Consolidation, as in the HAT repository's implementation.

Penalty: lambda / 2 * sum_i F_i (theta_i - theta_old_i)^2, with F the diagonal
empirical Fisher of the previous tasks' semantic loss.  F is computed at the
end of each task and merged as (F_new + t F_old) / (t + 1).  The shared base
model is trained by no method, so the first incremental task computes the base
task's Fisher from the base training data before training starts: the same
numbers the base task would have stored at its end.
"""

from __future__ import annotations

import copy

import torch

from incremental_retrieval.methods.base import Method, pad_rows, paired_parameters


def fisher_diagonal(model, data, sampler, loss_fn) -> dict[str, torch.Tensor]:
    """Mean over batches of batch_size * (gradient of the batch-mean loss)^2,
    divided by the images seen (HAT's estimator), on un-augmented images with
    BatchNorm statistics fixed.  `loss_fn(embeddings, logits, labels)` is the
    task's semantic loss."""
    model = copy.deepcopy(model).eval()
    device = next(model.parameters()).device
    for p in model.parameters():
        p.requires_grad_(True)
    fisher = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    seen = 0
    for indices in sampler:
        images, labels = data.batch(indices, augment=False)
        images, labels = images.to(device), labels.to(device)
        model.zero_grad()
        embeddings, logits = model(images)
        loss_fn(embeddings, logits, labels).backward()
        for n, p in model.named_parameters():
            if p.grad is not None:
                fisher[n] += len(labels) * p.grad.detach() ** 2
        seen += len(labels)
    return {n: f / max(seen, 1) for n, f in fisher.items()}


class EWC(Method):
    name = "ewc"

    @classmethod
    def hyperparameters(cls):
        return {"lambda_": 8000.0}

    def prepare(self, context):
        if "ewc_fisher" in context.state:
            self.fisher, self.n_tasks = context.state["ewc_fisher"], context.state["ewc_tasks"]
        else:  # the previous task was the shared base model
            old_data = context.previous_train_data()
            self.fisher = fisher_diagonal(context.teacher, old_data, context.sampler_factory(old_data.labels),
                                          self._loss(context.previous_first_class))
            self.n_tasks = 1
        self.pairs = [(p, old, self.fisher[n]) for n, p, old in paired_parameters(context.student, context.teacher)]

    def _loss(self, first_class: int):
        return lambda embeddings, logits, labels: sum(
            self.semantic_terms(embeddings, logits, labels, first_class).values())

    def extra_terms(self, context, images, labels, embeddings, logits):
        penalty = sum((f * (p - old) ** 2).sum() for p, old, f in self.pairs)
        return {"ewc": self.lambda_ / 2 * penalty}

    def finish(self, context):
        new = fisher_diagonal(context.student, context.train_data, context.sampler_factory(context.train_data.labels),
                              self._loss(context.first_class))
        t = self.n_tasks
        merged = {n: (f + t * pad_rows(self.fisher[n], f.shape)) / (t + 1) if n in self.fisher else f
                  for n, f in new.items()}
        return {**context.state, "ewc_fisher": merged, "ewc_tasks": t + 1}
