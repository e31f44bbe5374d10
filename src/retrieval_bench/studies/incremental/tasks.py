"""One training job's TaskSpec, from the config and the split: which rows
train, which classes the classifier has, which schedule and batch apply, and
which files the method declared."""

from __future__ import annotations

from pathlib import Path

from retrieval_bench.core import runtime
from retrieval_bench.core.config import method_of, scale_block
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.evaluation import image_source
from retrieval_bench.studies.incremental.protocol import form_of


def task_spec(config: dict, split, protocol: str, configuration: str, task: int, seed: int):
    from retrieval_bench.studies.incremental.methods.base import default_semantic
    from retrieval_bench.studies.incremental.train import TaskSpec

    block = scale_block(config)
    training = block["training"]
    method, hparams = method_of(config, configuration)
    proto = block["protocols"][protocol]
    base_semantic = proto.get("base_semantic")  # unset: chapter 5's [ce, <metric loss>]
    if configuration == "base" and base_semantic:
        hparams = {**hparams, "semantic": base_semantic}
    train, test, label_start, label_end = form_of(config, protocol).task_rows(split, proto, task)
    incremental = task > 0 and not plan.method_class(config, configuration).from_pretrained
    first_group = task if incremental else 0
    monitor = incremental and training["monitor_every"] > 0 and plan.monitored(config, protocol, seed, configuration,
                                                                              task)
    schedule = dict(training["incremental" if incremental else "base"])
    epochs = proto.get("epochs", {}).get("incremental" if incremental else "base")  # chapter 7: 1500 / 800
    if epochs:
        schedule["epochs"] = epochs
    batch = proto.get("batch", training["batch"])
    inputs = plan.method_inputs(config, protocol, seed, configuration, task)
    return TaskSpec(
        method=method, hparams=hparams, backbone=block["backbone"], embedding_dim=block["embedding_dim"],
        train_rows=train[(train["group"] >= first_group) & (train["group"] <= task)],
        data_root=Path(plan.data_root(config, protocol)),
        image_size=block["image_size"], n_classes=int(label_end[task]), first_class=int(label_start[first_group]),
        task=task, schedule=schedule,
        batch=proto.get("incremental_batch", batch) if incremental else batch, seed=seed,
        margin=training["margin"], metric_loss=training["metric_loss"],
        freeze_bn=proto.get("freeze_bn", training["freeze_bn"]),
        **image_source(config, protocol), workers=training["workers"],
        previous_rows=train[train["group"] == task - 1] if incremental else None,
        previous_first_class=int(label_start[task - 1]) if incremental else 0, device=runtime.device(config),
        previous_semantic=(base_semantic or default_semantic(training["metric_loss"])) if task == 1 and incremental
        else None,
        monitor_rows=test[test["group"] == 0] if monitor else None, monitor_every=training["monitor_every"],
        checkpoint_seconds=training["checkpoint_seconds"], statistics_batch=training["batch"],
        channels_last=training["channels_last"], precision=training["precision"],
        test_rows=test[test["group"] <= task] if incremental else None,  # read only by methods that ask
        # the files the method declared (Method.inputs), resolved by the planner: declared inputs of the
        # job (rule train) and derived here from the config, so the rule's command line stays the same
        inputs={name: [Path(p) for p in paths] for name, paths in inputs.items()},
    )
