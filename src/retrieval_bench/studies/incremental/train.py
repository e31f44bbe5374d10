"""Train one task of one method: load the previous model, train, save.

The loop is method-agnostic (see methods/base.py).  After every epoch a
checkpoint (model, optimiser, random states, path integral) is written
atomically to `checkpoint_dir`; a killed job started again resumes from it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from retrieval_bench.core.io import save_torch
from retrieval_bench.studies.incremental.methods import TaskContext, build_method
from retrieval_bench.studies.incremental.methods.base import ModelLoader
from retrieval_bench.studies.incremental.optim import make_optimizer
from retrieval_bench.vision.loading import ImageSet, PKSampler, SeededBatches, SeededImages
from retrieval_bench.vision.models import EmbeddingNet, freeze_batchnorm, load_checkpoint, model_from_checkpoint

log = logging.getLogger(__name__)


@dataclass
class TaskSpec:
    """What one training job needs to know, independent of Snakemake."""

    method: str
    hparams: dict
    backbone: str
    embedding_dim: int
    train_rows: object            # split rows of this task's training images
    data_root: Path
    image_size: int
    n_classes: int                # classifier outputs after this task
    first_class: int              # first class id trained in this task
    task: int
    schedule: dict                # epochs, lr_backbone, lr_head, weight_decay
    batch: dict                   # p, k, rounds
    seed: int = 0
    margin: float = 0.5
    metric_loss: str = "triplet"
    freeze_bn: bool = False
    in_memory: bool = True
    decoded: Path | None = None   # the dataset's decoded-image cache (data/decoded.py); None: JPEG files or memory
    workers: int = 0
    previous_rows: object = None  # the previous task's training rows (statistics only)
    previous_first_class: int = 0
    previous_semantic: list | None = None  # the semantic terms the previous task was trained with (None: own)
    device: str = "cpu"
    monitor_rows: object = None   # old-class test rows: mAP after every `monitor_every` epochs (Fig. 5.3c)
    monitor_every: int = 1
    checkpoint_seconds: float = 0  # resume point at most this often (0: every epoch); preemption loses less than this
    statistics_batch: dict | None = None  # the scale's base P x K, for whole-set statistics (EWC Fisher); None: batch
    channels_last: bool = False   # NHWC convolutions (faster on oneDNN and cuDNN)
    precision: str = "float32"    # "bfloat16": the networks' forward passes under autocast (losses stay float32)
    test_rows: object = None      # test rows of groups 0..task: only read if a method asks (Eq. 6.6, evaluation only)
    # the files the method declared (Method.inputs), by name: earlier models, a teacher's generated images,
    # the pretrained trunk; each is loaded by its Input and reaches the method in context.inputs
    inputs: dict = field(default_factory=dict)


def initial_model(spec: TaskSpec, init: Path | None, from_pretrained: bool,
                  device: torch.device) -> tuple[EmbeddingNet, dict | None]:
    """The student before training: pretrained trunk (base and joint runs) or
    the previous task's model with its classifier grown (incremental runs)."""
    if from_pretrained:
        model = EmbeddingNet(spec.backbone, spec.embedding_dim, spec.n_classes)
        if init is not None:
            from retrieval_bench.vision.models.weights import load_trunk

            load_trunk(model, init)
        return model, None
    previous = load_checkpoint(init, device)  # method state (Fisher, path integral) on the training device
    model = model_from_checkpoint(previous)
    model.expand_classifier(spec.n_classes - model.n_classes)
    return model, previous


class _Loader(ModelLoader):
    """Models for a method's inputs, with the run's device, BatchNorm handling, precision and layout."""

    def __init__(self, spec: TaskSpec, device: torch.device):
        self.spec, self.device = spec, device

    def frozen(self, path):
        teacher = frozen_teacher(load_checkpoint(path, self.device), self.device,
                                 batch_statistics=not self.spec.freeze_bn)
        return _run_settings(teacher, self.spec)

    def fresh(self, trunk):
        """A model as a base run starts: the pretrained trunk, a fresh embedding
        and classifier (chapter 7's on-the-fly teacher, re-built every task)."""
        model, _ = initial_model(self.spec, trunk, from_pretrained=True, device=self.device)
        return _run_settings(model.to(self.device), self.spec)


def _run_settings(model: EmbeddingNet, spec: TaskSpec) -> EmbeddingNet:
    """The run's precision and memory layout, which every model of a task gets."""
    model.mixed_precision(torch.bfloat16 if spec.precision == "bfloat16" else None)
    return model.channels_last() if spec.channels_last else model


def frozen_teacher(checkpoint: dict, device: torch.device, batch_statistics: bool) -> EmbeddingNet:
    """The previous task's model, frozen.  Its BatchNorm layers normalise as
    the student's do at the same step: with running statistics where the
    scale freezes BatchNorm, else with the batch's own statistics (momentum 0:
    the running ones stay as trained), so teacher and student give identical
    outputs at a task's first step and the distillation terms start at 0."""
    teacher = model_from_checkpoint(checkpoint).to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    if batch_statistics:
        for module in teacher.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.train()
                module.momentum = 0.0
    return teacher


def train_task(spec: TaskSpec, init: Path | None, out: Path, checkpoint_dir: Path) -> dict:
    """Train and write `out` (model + method state); returns the training
    history and the seconds spent per phase (`timings`)."""
    started = time.perf_counter()
    timings = {"monitoring": 0.0, "epochs": 0.0, "saving": 0.0}
    torch.manual_seed(spec.seed)
    device = torch.device(spec.device)
    method = build_method(spec.method, margin=spec.margin, metric_loss=spec.metric_loss, **spec.hparams)
    student, previous = initial_model(spec, init, spec.task == 0 or method.from_pretrained, device)
    student.to(device)
    teacher = None if previous is None else frozen_teacher(previous, device, batch_statistics=not spec.freeze_bn)
    for model in (student, teacher):
        if model is not None:
            _run_settings(model, spec)
    needs = method.inputs(spec.hparams)
    inputs = {name: needs[name].load([Path(p) for p in paths], _Loader(spec, device), device)
              for name, paths in spec.inputs.items()}

    def image_set(rows, train: bool) -> ImageSet:
        return ImageSet(rows, spec.data_root, spec.image_size, train=train, in_memory=spec.in_memory,
                        decoded=spec.decoded)

    data = image_set(spec.train_rows, train=True)

    sampler = PKSampler(data.labels, spec.batch["p"], spec.batch["k"], spec.batch.get("rounds", 1), seed=spec.seed)

    def previous_data():
        return image_set(spec.previous_rows, train=False)

    test_sets = {}  # built on a method's first request only: runs that never ask load no test images

    def test_accuracy(model, groups, metric: str = "map") -> float:
        key = tuple(sorted(groups))
        if key not in test_sets:
            test_sets[key] = image_set(spec.test_rows[spec.test_rows["group"].isin(key)], train=False)
        return _test_accuracy(model, test_sets[key], device, metric, spec.workers)

    context = TaskContext(
        student=student, teacher=teacher, train_data=data,
        first_class=spec.first_class, task=spec.task, state=(previous or {}).get("state", {}),
        previous_train_data=previous_data if spec.previous_rows is not None else None,
        previous_first_class=spec.previous_first_class, previous_semantic=spec.previous_semantic,
        previous_path=(previous or {}).get("path"), device=device, freeze_bn=spec.freeze_bn,
        statistics_batch=spec.statistics_batch or spec.batch,
        seed=spec.seed, test_accuracy=test_accuracy if spec.test_rows is not None else None, inputs=inputs,
        schedule=spec.schedule,
    )
    optimizer = make_optimizer(student, spec.schedule)
    augment = torch.Generator().manual_seed(spec.seed + 1)

    history, start_epoch, grams = [], 0, {}  # grams: epoch -> Gram matrix of the monitored old-class sample
    resume = checkpoint_dir / "last.pt"
    fingerprint = _fingerprint(spec, init)
    # Loaded on the CPU: random-number states must stay there; the optimiser
    # moves its own state to the parameters' device.
    ckpt = load_checkpoint(resume) if resume.exists() else None
    if ckpt is not None and ckpt.get("fingerprint") != fingerprint:
        log.info("ignoring %s: it belongs to a different run configuration", resume)
        ckpt = None
    if ckpt is not None:
        student.load_state_dict(ckpt["model"])  # before `begin`: its bookkeeping starts from these weights
        optimizer.load_state_dict(ckpt["optimizer"])
        sampler.generator.set_state(ckpt["sampler_rng"])
        augment.set_state(ckpt["augment_rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        history, start_epoch = ckpt["history"], ckpt["epoch"]
        grams = ckpt.get("gram_snapshots", {})
        log.info("resuming %s task %d at epoch %d from %s", spec.method, spec.task, start_epoch, resume)

    # A method's own random draws (e.g. building an extra model) come from a
    # stream of their own: the same in a fresh and a resumed run, and not
    # shifting the training stream restored above.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(spec.seed + 2)
        method.begin(context, None if ckpt is None else ckpt["method"])
    loader = _batches(data, sampler, augment, spec.workers, device)
    monitor = None if spec.monitor_rows is None else image_set(spec.monitor_rows, train=False)
    if monitor is not None:
        from retrieval_bench.studies.incremental.measures import gram_sample

        sample = gram_sample(monitor.labels.numpy())  # Fig. 6.6b's fixed old-class sample

    def monitor_pass(epoch: int) -> float:  # timed apart from the epochs: the benchmark's monitoring phase
        tic = time.perf_counter()
        value, gram = _monitor(student, monitor, device, sample)
        grams[epoch] = gram.round(5).tolist()  # the same embedding pass; a 30 x 30 matrix costs nothing
        timings["monitoring"] += time.perf_counter() - tic
        return round(value, 5)

    timings["setup"] = time.perf_counter() - started  # models, method state, images into memory
    if monitor is not None and start_epoch == 0:
        history.append({"epoch": 0, "old_map": monitor_pass(0)})
    saved_at = time.monotonic()
    for epoch in range(start_epoch, spec.schedule["epochs"]):
        student.train()
        if spec.freeze_bn:
            freeze_batchnorm(student)
        sums, seen, tic = {}, 0, time.perf_counter()
        for images, labels in loader():
            images, labels = images.to(device, non_blocking=True), labels.to(device)
            terms = method.loss_terms(context, images, labels)
            loss = sum(terms.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            method.before_step(context)
            optimizer.step()
            method.after_step(context)
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value.item() * len(labels)
            seen += len(labels)
        seconds = time.perf_counter() - tic
        timings["epochs"] += seconds
        record = {"epoch": epoch + 1, "seconds": round(seconds, 3), "images_per_second": round(seen / seconds, 1),
                  **{name: round(total / max(seen, 1), 5) for name, total in sums.items()}}
        if monitor is not None and (epoch + 1) % spec.monitor_every == 0:
            record["old_map"] = monitor_pass(epoch + 1)
        history.append(record)
        log.info("%s task %d epoch %d/%d  %s", spec.method, spec.task, epoch + 1, spec.schedule["epochs"],
                 "  ".join(f"{k}={v}" for k, v in record.items() if k != "epoch"))
        last_epoch = epoch + 1 == spec.schedule["epochs"]  # the final model follows at once
        if not last_epoch and time.monotonic() - saved_at >= spec.checkpoint_seconds:
            tic = time.perf_counter()
            save_torch({"model": student.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                        "sampler_rng": sampler.generator.get_state(), "augment_rng": augment.get_state(),
                        "torch_rng": torch.get_rng_state(), "method": method.resume_state(), "history": history,
                        "gram_snapshots": grams, "fingerprint": fingerprint}, resume)
            saved_at = time.monotonic()
            timings["saving"] += time.perf_counter() - tic

    tic = time.perf_counter()
    student.eval()
    state = method.finish(context)
    auxiliary = method.auxiliary_models()  # trained beside the student, saved for evaluation only (Table 7.4)
    save_torch({"model": student.state_dict(), "backbone": spec.backbone, "embedding_dim": spec.embedding_dim,
                "n_classes": spec.n_classes, "state": state, "history": history, "method": spec.method,
                "hparams": spec.hparams, "task": spec.task,
                "path": None if method.path is None else method.path.state(),
                **({"auxiliary": {name: m.state_dict() for name, m in auxiliary.items()}} if auxiliary else {}),
                **({} if monitor is None else {"gram_snapshots": {
                    "sample": {"labels": monitor.labels.numpy()[sample].tolist(), "indices": sample.tolist()},
                    "epochs": grams}})}, out)
    resume.unlink(missing_ok=True)  # finished: a forced rerun must train afresh
    timings["saving"] += time.perf_counter() - tic
    return {"history": history, "timings": timings}


def _fingerprint(spec: TaskSpec, init: Path | None) -> str:
    """Identifies a run's settings, so a checkpoint is only resumed by the same run."""
    import hashlib
    import json

    keys = {k: getattr(spec, k) for k in ("method", "hparams", "backbone", "embedding_dim", "image_size",
                                          "n_classes", "first_class", "task", "schedule", "batch", "seed",
                                          "margin", "metric_loss", "freeze_bn", "statistics_batch",
                                          "channels_last", "precision")}
    keys["resume_format"] = 2  # checkpoints keep the method's own resume state
    keys["train_images"] = list(spec.train_rows["path"])
    # the images (in memory at 32 px, PIL crops, or crops of the decoded cache resized by torch) and whether
    # the history holds the old-class mAP curve: never resume a checkpoint made under other ones
    keys["pipeline"] = "decoded" if spec.decoded is not None else "memory" if spec.in_memory else "pil"
    keys["monitored"] = spec.monitor_rows is not None
    keys["init_mtime"] = init.stat().st_mtime if init is not None and init.exists() else None
    if spec.inputs:  # the method's declared files, each as it is on disk now
        keys["inputs"] = {name: [(str(p), Path(p).stat().st_mtime if Path(p).exists() else None) for p in paths]
                          for name, paths in spec.inputs.items()}
    return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()


def _monitor(model, data: ImageSet, device, sample):
    """Old-class test mAP of the model as it is now (evaluation only: the
    images never enter training), and the Gram matrix of the images at
    `sample`; the model is back in train mode next epoch."""
    from retrieval_bench.retrieval.metrics import mean_average_precision, same_label
    from retrieval_bench.studies.incremental.measures import gram_matrix
    from retrieval_bench.vision.extract import embed

    features, _ = embed(model, data, device=device)
    return mean_average_precision(features, relevance=same_label(data.labels.numpy())), gram_matrix(features[sample])


def _test_accuracy(model, data: ImageSet, device, metric: str, workers: int = 0) -> float:
    """A model's retrieval accuracy on one set of test images (query set =
    gallery = `data`), as the evaluation computes it."""
    from retrieval_bench.retrieval import metrics
    from retrieval_bench.vision.extract import embed

    features, _ = embed(model, data, device=device, workers=workers)
    labels = data.labels.numpy()
    if metric == "recall@1":
        return metrics.recall_at_k(features, relevance=metrics.same_label(labels), ks=(1,))[1]
    if metric == "map_original_code":
        return metrics.map_original_code(features, labels)
    return metrics.mean_average_precision(features, relevance=metrics.same_label(labels))


def _batches(data: ImageSet, sampler: PKSampler, augment: torch.Generator, workers: int,
             device: torch.device | str = "cpu"):
    """A callable giving one epoch of (images, labels) batches.

    Both paths draw their augmentation from `augment`, whose state the resume
    checkpoint keeps, so a resumed epoch is augmented exactly as in an
    uninterrupted run.  In-memory sets augment whole batches in this process.
    File-backed sets are augmented per image by torchvision transforms in the
    DataLoader workers; their RNG is not in the checkpoint, and a worker's
    RNG stream depends on which worker reads an image and how many it read
    before.  So every image gets its own seed, drawn here from `augment` in
    batch order (a function of run seed, epoch and position in the epoch),
    and the worker seeds torch's RNG with it just for that image
    (`SeededImages`).  That is chosen over seeding per (seed, epoch, worker
    id): the result then does not depend on the number of workers either
    (0 or 8 give the same weights), and no epoch number has to reach the
    persistent workers.  Sets read from the decoded-image cache take the same
    per-image seeds, crop in this process and resize on `device`; they draw
    the PIL path's boxes and flips, so a resumed epoch is exact there too.
    """
    if data.cache is not None:
        return lambda: (data.batch(indices, augment) for indices in sampler)
    if data.decoded is not None:
        batches = SeededBatches(sampler, augment)
        return lambda: (data.seeded_batch(items, device) for items in batches)
    # The DataLoader draws its workers' base seed from `generator` when the
    # iterator is created (once: persistent workers); from torch's global RNG
    # without one, which would shift that RNG by one draw in a resumed run.
    loader = torch.utils.data.DataLoader(SeededImages(data), batch_sampler=SeededBatches(sampler, augment),
                                         num_workers=workers, pin_memory=torch.cuda.is_available(),
                                         persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))
    return lambda: iter(loader)
