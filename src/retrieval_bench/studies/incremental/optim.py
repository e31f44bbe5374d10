"""The optimiser every model of the incremental loop trains with (the student,
and a method's own extra model such as chapter 7's on-the-fly teacher)."""

from __future__ import annotations

import torch


def make_optimizer(model, schedule: dict) -> torch.optim.Optimizer:
    # The thesis trains the backbone with a 10x smaller learning rate than the
    # embedding and classifier layers.
    head = list(model.embedding.parameters()) + list(model.classifier.parameters())
    head_ids = {id(p) for p in head}
    trunk = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.Adam([{"params": trunk, "lr": schedule["lr_backbone"]},
                             {"params": head, "lr": schedule["lr_head"]}],
                            weight_decay=schedule.get("weight_decay", 0.0))
