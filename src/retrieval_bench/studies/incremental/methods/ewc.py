"""Elastic Weight Consolidation, as in the HAT repository's implementation.

Penalty: lambda / 2 * sum_i F_i (theta_i - theta_old_i)^2, with F the diagonal
empirical Fisher of the previous tasks' semantic loss.  F is computed at the
end of each task and merged as (F_new + t F_old) / (t + 1).  As in the HAT
reference, F is estimated over every training image of the task once, in
fixed batches, with the model in training mode (BatchNorm frozen where the
scale freezes it), on un-augmented images: it depends on the model and the
data only, not on a seed or on the next protocol's batch settings.  The shared
base model is trained by no method, so the first incremental task computes the
base task's Fisher from the base training data before training starts: the
same numbers the base task would have stored at its end.
"""

from __future__ import annotations

import copy

import torch

from retrieval_bench.studies.incremental.methods.base import Method, pad_rows, paired_parameters
from retrieval_bench.vision.models import freeze_batchnorm


def covering_batches(labels: torch.Tensor, p: int, k: int) -> list[torch.Tensor]:
    """Every image exactly once, in fixed batches of about P classes x K
    images (the metric loss needs several images of several classes per
    batch): each class's images in index order cut into pieces of K, the
    first piece of every class, then the second, ..., dealt P pieces a batch;
    a last batch of fewer than P pieces joins the one before it."""
    labels = torch.as_tensor(labels)
    pieces = []
    for c in sorted(int(c) for c in labels.unique()):
        members = torch.nonzero(labels == c).flatten()
        pieces += [(i, c, members[i * k:(i + 1) * k]) for i in range((len(members) + k - 1) // k)]
    pieces.sort(key=lambda piece: piece[:2])
    starts = list(range(0, len(pieces), p))
    if len(starts) > 1 and len(pieces) - starts[-1] < p:
        starts.pop()
    ends = starts[1:] + [len(pieces)]
    return [torch.cat([m for *_, m in pieces[a:b]]) for a, b in zip(starts, ends)]


def fisher_diagonal(model, data, batches, loss_fn, freeze_bn: bool = False) -> dict[str, torch.Tensor]:
    """Mean over batches of batch_size * (gradient of the batch-mean loss)^2,
    divided by the images seen (HAT's estimator), on un-augmented images, the
    model (a copy) in training mode.  `loss_fn(embeddings, logits, labels)` is
    the task's semantic loss."""
    model = copy.deepcopy(model).train()
    if freeze_bn:
        freeze_batchnorm(model)
    device = next(model.parameters()).device
    for p in model.parameters():
        p.requires_grad_(True)
    fisher = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    seen = 0
    for indices in batches:
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
        else:  # the previous task was the shared base model: its Fisher is of the loss it was trained with
            self.fisher = self._fisher(context, context.teacher, context.previous_train_data(),
                                       context.previous_first_class, context.previous_semantic)
            self.n_tasks = 1
        self.pairs = [(p, old, self.fisher[n]) for n, p, old in paired_parameters(context.student, context.teacher)]

    def fisher_terms(self, embeddings, logits, labels, first_class: int, semantic=None) -> dict:
        """The loss whose gradients make the Fisher: the semantic terms (`semantic`: the base
        model's, None: this configuration's own)."""
        return self.semantic_terms(embeddings, logits, labels, first_class, semantic)

    def _fisher(self, context, model, data, first_class: int, semantic=None):
        def loss(embeddings, logits, labels):
            return sum(self.fisher_terms(embeddings, logits, labels, first_class, semantic).values())

        batch = context.statistics_batch
        return fisher_diagonal(model, data, covering_batches(data.labels, batch["p"], batch["k"]), loss,
                               context.freeze_bn)

    def extra_terms(self, context, images, labels, embeddings, logits):
        penalty = sum((f * (p - old) ** 2).sum() for p, old, f in self.pairs)
        return {"ewc": self.lambda_ / 2 * penalty}

    def finish(self, context):
        new = self._fisher(context, context.student, context.train_data, context.first_class)
        t = self.n_tasks
        merged = {n: (f + t * pad_rows(self.fisher[n], f.shape)) / (t + 1) if n in self.fisher else f
                  for n, f in new.items()}
        return {**context.state, "ewc_fisher": merged, "ewc_tasks": t + 1}
