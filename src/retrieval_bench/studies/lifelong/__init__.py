"""Lifelong image retrieval across datasets (thesis chapter 7): a sequence of
datasets, each split into seen and unseen classes, trained one dataset per
task on the incremental study's loop (it builds on it); dual knowledge
distillation with images generated from the frozen teacher's BatchNorm
statistics; s / u / H per dataset."""

from retrieval_bench.core.registry import Study, register

STUDY = register(Study(
    name="lifelong",
    title="Lifelong image retrieval",
    chapters=("7",),
    package=__name__,
    rules="lifelong.smk",
    protocol_marker="sequence",
    builds_on=("incremental",),
))
