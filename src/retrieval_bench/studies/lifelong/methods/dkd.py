"""Dual knowledge distillation (thesis chapter 7, Eqs. 7.6-7.9, Algorithm 2).

Eq. 7.9: L = λ_s L_s + λ_kd1 L_kd1 + λ_kd2 L_kd2 + λ_te2 L_te2, each weight
applied once (spec 2.2):
  L_s    the student's metric loss (Eq. 7.6) on the batch, which with
         `generate` is the real images followed by images generated from the
         frozen teacher's BatchNorm statistics (X_mix, labels Y_mix: the
         generated clusters get labels above every real one);
  L_kd1  frozen teacher -> student (Eq. 7.3) on the same (mixed) batch;
  L_te2  the on-the-fly teacher's own metric loss on the real images only
         (Eq. 7.7): the only term that reaches its parameters;
  L_kd2  on-the-fly teacher -> student on the real images (Eq. 7.8), the
         teacher's side detached (L2329).
`distance` replaces Eqs. 7.3 and 7.8 together: kl (Gram-KL, the proposed
one), l1, l2, mmd.  Every row of Tables 7.1-7.6 is a setting of the switches:
sft has λ_kd1 = 0 and neither generated images nor an on-the-fly teacher;
ablation case 4 sets λ_s = 0 (spec 2.4).

The on-the-fly teacher is rebuilt from the pretrained trunk before every
task (fresh embedding layer, L2348) and trained by its own Adam with the
task's learning rates; it is saved with the model for evaluation (Table 7.4)
and never used by the next task.  The frozen teacher runs in eval mode
(running BatchNorm statistics, the ones the generated images were fitted to;
the spec's teacher table and DeepInversion's `net_teacher.eval()`).  The
student trains with batch statistics, so at a task's first step with equal
weights L_kd1 is not 0 (mini base, seed 0: 80 L_kd1 = 0.198);
`teacher_batchnorm: batch` keeps the teacher as the trainer builds it for
chapters 5 and 6 wherever BatchNorm trains (mini; thesis scale freezes it
there, chapter 7 never does): BatchNorm on the batch's statistics with
momentum 0, its running statistics untouched, so teacher and student differ
only in their weights.
"""

from __future__ import annotations

import torch

from retrieval_bench.studies.incremental import losses
from retrieval_bench.studies.incremental.methods.base import Method, PretrainedTrunk, TaskContext, TeacherFile
from retrieval_bench.studies.incremental.optim import make_optimizer

DISTANCES = ("kl", "l1", "l2", "mmd")
KL_DIRECTIONS = ("teacher_student", "student_teacher")
REDUCTIONS = ("mean", "sum")  # Eq. 7.3's sum over rows divided by the batch size (Eq. 6.5's 1/N), or as written
TEACHER_BATCHNORM = ("running", "batch")  # how the frozen teacher normalises in L_kd1



class DKD(Method):
    name = "dkd"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.distance not in DISTANCES:
            raise ValueError(f"distance {self.distance!r}: choose one of {list(DISTANCES)}")
        if self.kl_direction not in KL_DIRECTIONS:
            raise ValueError(f"kl_direction {self.kl_direction!r}: choose one of {list(KL_DIRECTIONS)}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction {self.reduction!r}: choose one of {list(REDUCTIONS)}")
        if self.teacher_batchnorm not in TEACHER_BATCHNORM:
            raise ValueError(f"teacher_batchnorm {self.teacher_batchnorm!r}: choose one of {list(TEACHER_BATCHNORM)}")
        self.on_the_fly = self.on_the_fly_optimizer = None
        self.generated_step = 0

    @classmethod
    def hyperparameters(cls) -> dict:
        return {"distance": "kl", "lambda_s": 1.0, "lambda_kd1": 80.0, "lambda_kd2": 20.0, "lambda_te2": 1.0,
                "generate": False, "on_the_fly_teacher": False, "temperature": 4.0, "kl_direction": "teacher_student",
                "reduction": "mean", "teacher_batchnorm": "running"}

    @classmethod
    def inputs(cls, hparams):
        """The frozen teacher's generated images (the generate rule's output beside its model) and the
        pretrained trunk the on-the-fly teacher restarts from."""
        defaults = cls.hyperparameters()
        needs = {}
        if hparams.get("generate", defaults["generate"]):
            needs["generated"] = TeacherFile("generated.pt")
        if hparams.get("on_the_fly_teacher", defaults["on_the_fly_teacher"]):
            needs["pretrained"] = PretrainedTrunk()
        return needs

    def begin(self, context: TaskContext, resume_state: dict | None = None) -> None:
        super().begin(context, resume_state)
        saved = (resume_state or {}).get("on_the_fly")
        if saved is not None and self.on_the_fly is not None:  # a resumed job continues the same teacher
            self.on_the_fly.load_state_dict(saved["model"])
            self.on_the_fly_optimizer.load_state_dict(saved["optimizer"])
        self.generated_step = (resume_state or {}).get("generated_step", 0)

    def prepare(self, context: TaskContext) -> None:
        if context.teacher is None:  # the base model: L_s alone
            return
        if self.teacher_batchnorm == "running":  # else as the trainer built it: batch statistics, momentum 0
            context.teacher.eval()
        if self.generate:
            generated = context.inputs.get("generated")
            if generated is None:
                raise ValueError("dkd with generate: true needs the frozen teacher's generated images "
                                 "(the generate rule's generated.pt, given to the training job)")
            images, labels = generated["images"], generated["labels"]
            per_batch = generated.get("batch_size", len(images))
            self.generated_batches = [(images[i:i + per_batch].to(context.device),
                                       (labels[i:i + per_batch] + context.student.n_classes).to(context.device))
                                      for i in range(0, len(images), per_batch)]
        if self.on_the_fly_teacher:
            if "pretrained" not in context.inputs:
                raise ValueError("dkd with on_the_fly_teacher: true needs the pretrained trunk weights")
            self.on_the_fly = context.inputs["pretrained"]()
            self.on_the_fly_optimizer = make_optimizer(self.on_the_fly, context.schedule)

    def _distance(self, teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        if self.distance == "kl":
            return losses.gram_kl(teacher, student, self.temperature, self.kl_direction, reduction=self.reduction)
        if self.distance == "l1":
            return losses.feature_l1(student, teacher)
        if self.distance == "l2":
            return losses.feature_l2(student, teacher)
        return losses.mmd(teacher, student)

    def _metric_terms(self, embeddings, logits, labels, context, real: int, weight: float) -> dict:
        """The semantic terms, weighted: metric losses over the whole (mixed)
        batch, L_ce (if configured) over the real images' classes only."""
        metric = [n for n in self.semantic if n != "ce"]
        terms = self.semantic_terms(embeddings, logits, labels, context.first_class, metric) if metric else {}
        if "ce" in self.semantic:
            terms.update(self.semantic_terms(embeddings[:real], logits[:real], labels[:real], context.first_class,
                                             ["ce"]))
        return {name: weight * value for name, value in terms.items()}

    def loss_terms(self, context: TaskContext, images: torch.Tensor, labels: torch.Tensor) -> dict:
        real = len(labels)
        incremental = context.teacher is not None
        if incremental and self.generate:  # X_mix = X ∪ X', Y_mix = Y ∪ Y' (one generated batch per step, in turn)
            extra_images, extra_labels = self.generated_batches[self.generated_step % len(self.generated_batches)]
            self.generated_step += 1
            images = torch.cat([images, extra_images.to(images.dtype)])
            labels = torch.cat([labels, extra_labels])
        embeddings, logits = context.student(images)
        if not incremental:
            return self.semantic_terms(embeddings, logits, labels, context.first_class)
        terms = self._metric_terms(embeddings, logits, labels, context, real, self.lambda_s) if self.lambda_s else {}
        if self.lambda_kd1:
            with torch.no_grad():
                frozen = context.teacher(images)[0]
            terms["kd1"] = self.lambda_kd1 * self._distance(frozen, embeddings)
        if self.on_the_fly is not None:
            self.on_the_fly.train()
            fly_embeddings, fly_logits = self.on_the_fly(images[:real])
            te2 = self._metric_terms(fly_embeddings, fly_logits, labels[:real], context, real, self.lambda_te2)
            terms["te2"] = sum(te2.values())
            terms["kd2"] = self.lambda_kd2 * self._distance(fly_embeddings.detach(), embeddings[:real])
        return terms

    def after_step(self, context: TaskContext) -> None:
        super().after_step(context)
        if self.on_the_fly_optimizer is not None:  # its gradient is λ_te2 L_te2's alone (L_kd2 detached)
            self.on_the_fly_optimizer.step()
            self.on_the_fly_optimizer.zero_grad(set_to_none=True)

    def resume_state(self) -> dict:
        state = {**super().resume_state(), "generated_step": self.generated_step}
        if self.on_the_fly is not None:
            state["on_the_fly"] = {"model": self.on_the_fly.state_dict(),
                                   "optimizer": self.on_the_fly_optimizer.state_dict()}
        return state

    def finish(self, context: TaskContext) -> dict:
        return {}  # only the student's weights (and BatchNorm statistics) carry to the next task

    def auxiliary_models(self) -> dict:
        return {} if self.on_the_fly is None else {"on_the_fly_teacher": self.on_the_fly.eval()}
