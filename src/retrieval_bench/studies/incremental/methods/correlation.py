"""Correlation distillation with feature estimation (thesis chapter 6).

Eq. 6.3: L = L_semantic + weight * L_corr, with L_corr (Eq. 6.11) =
    L_corr(F_{t-1}, F_t) + sum_{i=1}^{t-1} w_i L_corr(V_{t-1-i}, F_t),  w_i = decay^(i-1) / (t - i),
where L_corr(F_r, F_s) is the KL divergence of the row-softmaxed Gram
matrices of a batch (Eqs. 6.4-6.5, `losses.gram_kl`), F_{t-1} the frozen
penultimate model's features (the only model kept, L1959) and V_j the
estimated ("virtual") features of the unsaved model f_j (Eqs. 6.7-6.9):
V_{s-1} = (1 + k A_s) * V_s, A_s ~ U(alpha_drop^(s), alpha_gain^(s)) drawn
elementwise per batch, V_{t-1} = F_{t-1}.  The alphas are the relative test
accuracy changes recorded at the end of every task s (Eq. 6.6).

The thesis writes Eq. 6.11's last term as L^{1->t}; its weight pattern and
Eq. 6.9 make it the term of f_0 (spec 7.B-1).  Options for Table 6.3:
`scale_by_task` (case b: weight x (1 + 1/(t-1)) for t >= 2) and `teachers:
all` (case d: actual features of every saved earlier model f_0..f_{t-2},
weight 1 each, besides f_{t-1}).  Each part is logged as its own term:
corr (f_{t-1}), corr_virtual (the estimated models), corr_multi (case d).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from retrieval_bench.studies.incremental import losses
from retrieval_bench.studies.incremental.methods.base import EarlierModels, Method

log = logging.getLogger(__name__)

CHOICES = {"kl_direction": ("teacher_student", "student_teacher"), "importance": ("thesis", "uniform"),
           "old_accuracy": ("group_mean", "pooled", "original"),
           "accuracy_metric": ("map", "map_original_code", "recall@1"), "teachers": ("penultimate", "all")}
ZERO_FLOOR = 1e-6  # Eq. 6.6's denominator where an accuracy before training is 0


def importance_weights(t: int, decay: float = 0.1, importance: str = "thesis") -> list[float]:
    """Eq. 6.11: the weight of the virtual term of f_{t-1-i}, i = 1..t-1
    (none at t <= 1).  "uniform" gives every estimated model weight 1, as case
    (d) weighs every saved one."""
    if importance == "uniform":
        return [1.0] * max(t - 1, 0)
    return [decay ** (i - 1) / (t - i) for i in range(1, t)]


def relative_change(before: float, after: float) -> float:
    """Eq. 6.6: (Acc^a - Acc^b) / Acc^b, with Acc^b = 0 floored at ZERO_FLOOR."""
    if before <= 0:
        log.warning("accuracy before training is %s: Eq. 6.6 divides by %g instead", before, ZERO_FLOOR)
        before = ZERO_FLOOR
    return (after - before) / before


def virtual_features(actual: torch.Tensor, ranges: list[tuple[float, float]], k: float,
                     generator: torch.Generator) -> list[torch.Tensor]:
    """Eqs. 6.7-6.9: [V_{t-2}, ..., V_0] from V_{t-1} = `actual`, with
    `ranges` the (alpha_drop, alpha_gain) of tasks t-1, ..., 1.  Each A_s is
    drawn elementwise (N x d) on the CPU from `generator`, so the draws do not
    depend on the device; a range with drop > gain is sampled as U(gain, drop).
    The "+" (going back in time adds the recorded change) and the missing
    re-normalisation are the thesis's (spec 7.B-16)."""
    virtual, v = [], actual
    for drop, gain in ranges:
        lo, hi = min(drop, gain), max(drop, gain)
        a = lo + (hi - lo) * torch.rand(actual.shape, generator=generator, dtype=torch.float32)
        v = (1 + k * a.to(actual.device, actual.dtype)) * v
        virtual.append(v)
    return virtual


def alpha_seed(seed: int, task: int) -> int:
    """The alpha generator's seed: a function of (run seed, task) only."""
    return int(np.random.SeedSequence([seed, task]).generate_state(1)[0])


class Correlation(Method):
    name = "correlation"
    # estimation's virtual terms and case (b)'s scale start at t >= 2, case (d) has no earlier model
    # before task 2; task 1's recorded change (old_accuracy, accuracy_metric) does act in task 1
    acts_from_task_2 = ("estimation", "k", "decay", "importance", "scale_by_task", "teachers")

    @classmethod
    def hyperparameters(cls):
        return {"weight": 10.0, "temperature": 4.0, "t2_scale": True, "kl_direction": "teacher_student",
                "estimation": False, "k": 1.0, "decay": 0.1, "importance": "thesis", "old_accuracy": "group_mean",
                "accuracy_metric": "map", "scale_by_task": False, "teachers": "penultimate"}

    @classmethod
    def inputs(cls, hparams):
        """Case (d) distils from every saved model: f_0..f_{t-2} besides the teacher f_{t-1}."""
        return {"earlier_models": EarlierModels()} if hparams.get("teachers") == "all" else {}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"correlation {key} {getattr(self, key)!r}: use one of {list(allowed)}")

    def prepare(self, context):
        t = context.task
        self.generator = torch.Generator().manual_seed(alpha_seed(context.seed, t))
        self.ranges, self.weights = [], []
        if self.estimation and t >= 2:
            changes = {entry["task"]: entry for entry in context.state.get("accuracy_changes", [])}
            missing = [s for s in range(1, t) if s not in changes]
            if missing:
                raise ValueError(f"feature estimation at task {t} needs the accuracy changes of tasks {missing}, "
                                 f"which the model it starts from does not carry: train that model again with "
                                 f"this version (a correlation run records task 1's change; one trained before "
                                 f"did not), e.g. snakemake --forcerun on its model.pt")
            self.ranges = [(changes[s]["drop"], changes[s]["gain"]) for s in range(t - 1, 0, -1)]
            self.weights = importance_weights(t, self.decay, self.importance)
        self.earlier = context.inputs.get("earlier_models", [])
        if self.teachers == "all" and len(self.earlier) != max(t - 1, 0):
            wanted = ", ".join(f"f_{i}" for i in range(t - 1))
            raise ValueError(f"teachers: all at task {t} needs the earlier models {wanted} as frozen teachers, "
                             f"got {len(self.earlier)}; the train command finds them with plan.method_inputs "
                             f"(TaskSpec.inputs)")

    def begin(self, context, resume_state=None):
        super().begin(context, resume_state)
        saved = (resume_state or {}).get("alpha_rng")
        if saved is not None:  # a resumed task continues the alpha draws where the killed one stopped
            self.generator.set_state(saved)

    def resume_state(self):
        return {**super().resume_state(), "alpha_rng": self.generator.get_state()}

    def corr(self, reference: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        return losses.gram_kl(reference, embeddings, self.temperature, self.kl_direction, self.t2_scale)

    def extra_terms(self, context, images, labels, embeddings, logits):
        t = context.task
        teacher, _ = self.teacher_outputs(context, images)
        scale = 1 + 1 / (t - 1) if self.scale_by_task and t >= 2 else 1.0
        terms = {"corr": self.weight * scale * self.corr(teacher, embeddings)}
        if self.ranges:
            virtual = virtual_features(teacher, self.ranges, self.k, self.generator)  # [V_{t-2}, ..., V_0]
            terms["corr_virtual"] = self.weight * sum(w * self.corr(v, embeddings)
                                                      for w, v in zip(self.weights, virtual))
        if self.teachers == "all" and self.earlier:
            with torch.no_grad():
                earlier = [model(images)[0] for model in self.earlier]
            terms["corr_multi"] = self.weight * sum(self.corr(f, embeddings) for f in earlier)
        return terms

    def finish(self, context):
        """Record Eq. 6.6's accuracy change of every task with estimation, and
        of task 1 without it: a run with estimation may continue from another
        configuration's task-1 run (Table 6.3's cases share f_1 through
        `task_1_of`) and reads alpha^(1) from the model it starts from."""
        state = dict(context.state)
        if (self.estimation and context.task >= 1) or (context.task == 1 and context.test_accuracy is not None):
            entry = self.accuracy_change(context)
            kept = [e for e in state.get("accuracy_changes", []) if e["task"] != entry["task"]]
            state["accuracy_changes"] = [*kept, entry]
        return state

    def accuracy_change(self, context) -> dict:
        """Eq. 6.6 for this task s: the accuracies of the teacher f_{s-1}
        (before) and the trained student f_s (after) on the old groups
        0..s-1 and the new group s.  Measured on the test images, as the
        thesis does (L2110: the mAPs of its worked example are the test mAPs
        its tables report), so test data sets a training quantity."""
        if context.test_accuracy is None:
            raise ValueError("feature estimation needs the test rows of groups 0..task (TaskSpec.test_rows)")
        s = context.task

        def accuracy(model, groups):
            return context.test_accuracy(model, groups, self.accuracy_metric)

        def old(model):
            if self.old_accuracy == "group_mean":  # the thesis evaluates old tasks "separately in prior groups"
                return float(np.mean([accuracy(model, [g]) for g in range(s)]))
            return accuracy(model, list(range(s)) if self.old_accuracy == "pooled" else [0])

        entry = {"task": s, "acc_old_before": old(context.teacher), "acc_old_after": old(context.student),
                 "acc_new_before": accuracy(context.teacher, [s]), "acc_new_after": accuracy(context.student, [s])}
        entry["drop"] = relative_change(entry["acc_old_before"], entry["acc_old_after"])
        entry["gain"] = relative_change(entry["acc_new_before"], entry["acc_new_after"])
        if entry["drop"] > entry["gain"]:
            log.warning("task %d: alpha_drop %.4f > alpha_gain %.4f; the next tasks sample U(%.4f, %.4f)",
                        s, entry["drop"], entry["gain"], entry["gain"], entry["drop"])
        log.info("task %d accuracy change (%s): %s", s, self.accuracy_metric,
                 {k: round(v, 4) for k, v in entry.items() if k != "task"})
        return entry
