"""The one interface every incremental method implements.

The training loop (train.py) knows nothing about any method: it builds a
TaskContext, calls `begin` once (which calls `prepare`), asks `loss_terms` for
the named loss terms of every batch (their sum is optimised; each is logged,
so an ablation is a weight set to 0 in config.yaml), calls `before_step`
between the backward pass and the optimiser step and `after_step` after it,
keeps `resume_state` in its resume checkpoints, and stores what `finish`
returns with the model, where the next task's `prepare` finds it in
`context.state` (and the path integral, if one was kept, in
`context.previous_path`).

A method that needs files besides its teacher (earlier models, images
generated from its teacher, the pretrained trunk) declares them in `inputs`;
the planner resolves them to paths (plan.method_inputs), the train rule
receives them as inputs, and the trainer hands each, loaded, to the method
in `context.inputs` under the declared name.  To add a method: write
methods/<name>.py with a `Method` subclass whose `name` is <name>, and give
it an entry under `configurations:` in config.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from retrieval_bench.studies.incremental import losses


@dataclass
class TaskContext:
    """Everything a method may use while training one task."""

    student: nn.Module                 # the model being trained (classifier already grown)
    teacher: nn.Module | None          # frozen copy of the previous task's model (None for base/joint)
    train_data: object                 # this task's ImageSet
    first_class: int                   # global id of the first class trained in this task
    task: int                          # 0 = base model, 1.. = incremental tasks
    state: dict = field(default_factory=dict)  # what earlier tasks' `finish` returned
    # The previous task's training data, only for statistics that belong to the
    # end of that task (an EWC Fisher of the shared base model): never mixed
    # into this task's batches.
    previous_train_data: Callable[[], object] | None = None
    previous_first_class: int = 0
    # The semantic terms the previous task was trained with (the shared base model's may differ
    # from this configuration's: chapter 6's base has no L_ce); None: this configuration's own.
    previous_semantic: list[str] | None = None
    # Path integral of -grad * dtheta over the previous task's steps and the
    # parameters at its start, kept by that task's method (`Method.path`; ALASSO, SI).
    previous_path: dict | None = None
    device: torch.device = torch.device("cpu")
    freeze_bn: bool = False            # BatchNorm kept in eval mode while training (thesis scale)
    # The scale's base-task P x K (the trainer sets it): statistics over a whole
    # training set (the EWC Fisher) use it, so they do not depend on a
    # protocol's incremental batch.
    statistics_batch: dict | None = None
    seed: int = 0                      # the run's seed: a method's own random streams derive from it
    # test_accuracy(model, groups, metric): a model's retrieval accuracy ("map", "map_original_code",
    # "recall@1") on the test images of these class groups (one retrieval set); None without test rows.
    # Evaluation only; chapter 6's accuracy changes (Eq. 6.6) are measured on test data as the thesis does.
    test_accuracy: Callable[[nn.Module, list[int], str], float] | None = None
    # What the method's `inputs` declared, each loaded by its Input (frozen earlier models, a teacher's
    # generated images, a builder of a fresh model from the pretrained trunk), by the declared name.
    inputs: dict = field(default_factory=dict)
    schedule: dict | None = None      # the task's learning rates and weight decay (a method's own optimiser)


class ModelLoader:
    """What an Input may build from its files; the trainer gives one with the run's device and settings."""

    def frozen(self, path: Path) -> nn.Module:
        """A saved model, frozen, normalising as the run's teacher does."""
        raise NotImplementedError

    def fresh(self, trunk: Path) -> nn.Module:
        """A model as a base run starts: the pretrained trunk, a fresh embedding and classifier."""
        raise NotImplementedError


class Input:
    """A file (or files) a method needs besides its teacher: where it is for a
    run (`paths`, given the config and the run) and what the method receives
    (`load`)."""

    def paths(self, config: dict, run) -> list[str]:
        raise NotImplementedError

    def load(self, paths: list[Path], loader: ModelLoader, device: torch.device):
        raise NotImplementedError


class EarlierModels(Input):
    """The models before the teacher, f_0..f_{t-2} (the shared base model,
    then the configuration's own tasks), frozen (Table 6.3 case d)."""

    def paths(self, config, run):
        from retrieval_bench.studies.incremental import plan

        return [plan.model_path(config, run.protocol, run.seed, "base" if j == 0 else run.configuration, j)
                for j in range(run.task - 1)]

    def load(self, paths, loader, device):
        return [loader.frozen(p) for p in paths]


class TeacherFile(Input):
    """A file a rule writes beside the frozen teacher's model (chapter 7: the
    images generated from its BatchNorm statistics, `generated.pt`), loaded
    with torch.load."""

    def __init__(self, name: str):
        self.name = name

    def paths(self, config, run):
        from retrieval_bench.studies.incremental import plan

        return [f"{plan.run_dir(config, *plan.teacher_run(config, *run[1:]))}/{self.name}"]

    def load(self, paths, loader, device):
        return torch.load(paths[0], map_location="cpu", weights_only=False)


class PretrainedTrunk(Input):
    """The pretrained trunk weights; the method receives a builder of fresh models from them."""

    def paths(self, config, run):
        from retrieval_bench.studies.incremental import plan

        return [plan.pretrained_weights(config)]

    def load(self, paths, loader, device):
        return lambda: loader.fresh(paths[0])


class PathIntegral:
    """Per parameter, the sum over optimiser steps of -g * dtheta (the path
    integral of SI and ALASSO), g the gradient of the task's own loss, and
    the parameters at the task's start."""

    def __init__(self, model: nn.Module, state: dict | None = None):
        if state is None:
            state = {"integral": {n: torch.zeros_like(p) for n, p in model.named_parameters()},
                     "start": {n: p.detach().clone() for n, p in model.named_parameters()}}
        self.integral, self.start = state["integral"], state["start"]
        self._before = {}

    def before_step(self, model: nn.Module, gradients: dict) -> None:
        self._before = {n: (gradients[n], p.detach().clone()) for n, p in model.named_parameters()
                        if gradients.get(n) is not None}

    def after_step(self, model: nn.Module) -> None:
        for n, p in model.named_parameters():
            if n in self._before:
                g, before = self._before[n]
                self.integral[n] -= g * (p.detach() - before)
        self._before = {}

    def state(self) -> dict:
        return {"integral": self.integral, "start": self.start}


DEFAULT_MARGIN = 0.5  # the metric loss's margin (Eq. 5.2)


class Method:
    """Base class: the semantic preserving loss L_ce + L_triplet (Eq. 5.1-5.2).

    A subclass adds its own terms in `extra_terms` and, when it needs them,
    overrides `prepare`, `after_step` and `finish`.
    """

    name = "base"
    trains = True            # feature extraction does not train at all
    from_pretrained = False  # joint training restarts from the pretrained trunk, with no teacher
    records_path = False     # keep this task's path integral for the next task (ALASSO)
    # Hyper-parameters that change nothing before task 2: configurations differing only in these
    # may share one task-1 run (`task_1_of`, Table 6.3's one f_1); validation compares the rest.
    acts_from_task_2: tuple[str, ...] = ()
    path: PathIntegral | None = None

    def __init__(self, margin: float = DEFAULT_MARGIN, metric_loss: str = "triplet", semantic: list[str] | None = None,
                 **hparams):
        self.margin, self.metric_loss = margin, metric_loss
        # The semantic terms of Eq. 5.1: chapter 5 trains L_ce + the metric loss; chapter 6's models
        # are trained with the ranking loss alone (Eq. 6.2-6.3), so a configuration may name its own.
        self.semantic = list(semantic) if semantic is not None else default_semantic(metric_loss)
        try:
            check_semantic(self.semantic)
        except ValueError as e:
            raise ValueError(f"semantic: {e}") from None
        unknown = set(hparams) - set(self.hyperparameters())
        if unknown:
            raise ValueError(f"method {self.name!r} has no hyper-parameter(s) {sorted(unknown)}; "
                             f"it takes {sorted(self.hyperparameters()) or 'none'} (plus margin, metric_loss, "
                             f"semantic)")
        for key, value in {**self.hyperparameters(), **hparams}.items():
            setattr(self, key, value)

    @classmethod
    def hyperparameters(cls) -> dict:
        """Names and defaults of the method's own hyper-parameters."""
        return {}

    @classmethod
    def task_1_params(cls, params: dict) -> dict:
        """Every hyper-parameter that can act in task 1, defaults filled in (margin, metric_loss and
        semantic included): two configurations with equal task_1_params train task 1 alike."""
        metric_loss = params.get("metric_loss", "triplet")
        full = {"margin": DEFAULT_MARGIN, "metric_loss": metric_loss, "semantic": default_semantic(metric_loss),
                **cls.hyperparameters(), **params}
        full["semantic"] = list(full["semantic"])
        return {k: v for k, v in full.items() if k not in cls.acts_from_task_2}

    @classmethod
    def inputs(cls, hparams: dict) -> dict[str, Input]:
        """The files this method needs with these hyper-parameters, by name (none by default)."""
        return {}

    @classmethod
    def check_config(cls, params: dict, where: str) -> None:
        """A configuration's hyper-parameters against the method's (names, and the types of
        their defaults); a ValueError names the key under `where`."""
        params = dict(params)
        if "semantic" in params:  # every method's (like margin): the semantic loss terms
            try:
                check_semantic(params.pop("semantic"))
            except ValueError as e:
                raise ValueError(f"{where}.semantic: {e}") from None
        defaults = cls.hyperparameters()
        unknown = set(params) - set(defaults)
        if unknown:
            raise ValueError(f"{where}: {cls.name} has no hyper-parameter(s) {sorted(unknown)}; it takes "
                             f"{sorted(defaults) or 'none'} (and semantic)")
        for key, value in params.items():  # the type of the method's default
            if not _accepts(defaults[key], value):
                raise ValueError(f"{where}.{key}: {value!r} is not {_type_name(defaults[key])}; {cls.name}'s "
                                 f"{key} takes {_type_name(defaults[key])} (default {defaults[key]!r})")

    @classmethod
    def check_values(cls, params: dict) -> None:
        """The values the method checks itself (a choice among options): building it raises ValueError."""
        cls(**params)

    def begin(self, context: TaskContext, resume_state: dict | None = None) -> None:
        """Called by the trainer once before the first step (and again on
        resume, with what `resume_state` returned): the step bookkeeping every
        method shares, then `prepare`."""
        # The shared base model (task 0) keeps the path integral too: any
        # method may start from it.
        if context.task == 0 or self.records_path:
            saved = (resume_state or {}).get("path")
            if saved is not None:
                saved = {part: {n: t.to(context.device) for n, t in values.items()} for part, values in saved.items()}
            self.path = PathIntegral(context.student, saved)
        self.prepare(context)

    def prepare(self, context: TaskContext) -> None:
        """Called once before the first step of the task (and again on resume)."""

    def semantic_terms(self, embeddings, logits, labels, first_class: int, names: list[str] | None = None) -> dict:
        """The semantic terms `names` (default: the configuration's `semantic`): L_ce over the
        trained classes' outputs and/or a metric loss (Eq. 5.1-5.2, 6.2)."""
        terms = {}
        for name in names or self.semantic:
            if name == "ce":
                terms["ce"] = losses.classification(logits, labels, first_class)
            elif name == "pair":
                terms["pair"] = losses.pair_loss(embeddings, labels)
            elif name == "triplet_sqeuclidean":  # Eq. 7.1: squared Euclidean distances
                terms["triplet"] = losses.triplet(embeddings, labels, self.margin, distance="squared_euclidean")
            else:
                terms["triplet"] = losses.triplet(embeddings, labels, self.margin)
        return terms

    def loss_terms(self, context: TaskContext, images: torch.Tensor, labels: torch.Tensor) -> dict:
        embeddings, logits = context.student(images)
        terms = self.semantic_terms(embeddings, logits, labels, context.first_class)
        if context.teacher is not None:
            terms.update(self.extra_terms(context, images, labels, embeddings, logits))
        return terms

    def extra_terms(self, context, images, labels, embeddings, logits) -> dict:
        """Weighted regularisation terms added to the semantic loss."""
        return {}

    @torch.no_grad()
    def teacher_outputs(self, context: TaskContext, images: torch.Tensor):
        return context.teacher(images)

    def task_gradients(self, context: TaskContext) -> dict:
        """Per parameter, the gradient of the task's own loss, for the path
        integral: by default the gradient of everything `loss_terms` returned."""
        return {n: p.grad for n, p in context.student.named_parameters()}

    def before_step(self, context: TaskContext) -> None:
        """Called after the backward pass, before every optimiser step
        (an override calls super())."""
        if self.path is not None:
            self.path.before_step(context.student, self.task_gradients(context))

    def after_step(self, context: TaskContext) -> None:
        """Called after every optimiser step (an override calls super())."""
        if self.path is not None:
            self.path.after_step(context.student)

    def resume_state(self) -> dict:
        """What a resumed job needs to continue this method's bookkeeping."""
        return {"path": None if self.path is None else self.path.state()}

    def finish(self, context: TaskContext) -> dict:
        """State kept with the checkpoint for the next task (default: carry over)."""
        return dict(context.state)

    def auxiliary_models(self) -> dict[str, nn.Module]:
        """Models trained beside the student, saved with it for evaluation
        only (chapter 7's on-the-fly teacher); none by default."""
        return {}


SEMANTIC_TERMS = ("ce", "triplet", "triplet_sqeuclidean", "pair")


def _type_name(value) -> str:
    """The kind of value a hyper-parameter with this default takes."""
    return "a boolean" if isinstance(value, bool) else "an integer" if isinstance(value, int) \
        else "a number" if isinstance(value, float) else "a string" if isinstance(value, str) else type(value).__name__


def _accepts(default, value) -> bool:
    if isinstance(default, float) and not isinstance(value, bool):  # 1 is as good as 1.0
        return isinstance(value, (int, float))
    return _type_name(value) == _type_name(default)


def default_semantic(metric_loss: str) -> list[str]:
    """Chapter 5's semantic terms (Eq. 5.1): L_ce + the scale's metric loss."""
    return ["ce", metric_loss]


def check_semantic(names) -> None:
    """A `semantic` setting names one or more of SEMANTIC_TERMS, each once."""
    if not isinstance(names, (list, tuple)) or not names or len(set(names)) != len(names) \
            or not set(names) <= set(SEMANTIC_TERMS):
        raise ValueError(f"{names!r} is not a list of distinct terms from {list(SEMANTIC_TERMS)} "
                         f"(e.g. [ce, triplet] as in chapter 5, [triplet] or [pair] as in chapter 6, "
                         f"[triplet_sqeuclidean] as in chapter 7)")


def paired_parameters(student: nn.Module, teacher: nn.Module):
    """(name, student parameter, teacher parameter) for every parameter of the
    teacher.  A grown classifier is sliced to the teacher's rows, so
    penalties apply to the old classes' outputs only (slicing keeps autograd)."""
    teacher_params = dict(teacher.named_parameters())
    for name, param in student.named_parameters():
        old = teacher_params.get(name)
        if old is None:
            continue
        if param.shape != old.shape:
            param = param[: old.shape[0]]
        yield name, param, old.detach()


def pad_rows(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Zero-pad a per-parameter statistic whose parameter grew along dim 0."""
    if tensor.shape == shape:
        return tensor
    padded = tensor.new_zeros(shape)
    padded[: tensor.shape[0]] = tensor
    return padded
