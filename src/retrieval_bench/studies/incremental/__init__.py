"""Incremental fine-grained image retrieval (thesis chapters 5 and 6): one
dataset split into class groups, one group trained per task, every method
behind methods/base.py's Method, evaluated by retrieval on each group's test
images (query = gallery, leave-one-out)."""

from retrieval_bench.core.registry import Study, register

STUDY = register(Study(
    name="incremental",
    title="Incremental image retrieval",
    chapters=("5", "6"),
    package=__name__,
    rules="incremental.smk",
    protocol_marker="dataset",
))
