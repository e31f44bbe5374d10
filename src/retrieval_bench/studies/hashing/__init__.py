"""Pseudo-supervised hashing (the slide deck's third work, LDPH): an existing hashing method's codes (LSH,
PCAH, ITQ, SH) as pseudo-labels for a small network whose Hamming distances follow a fitted line
a * Euclidean distance + b; codes of single-view vectors ranked by Hamming distance against a database
(spec pseudo-supervised-hashing.md)."""

from retrieval_bench.core.registry import Study, register

STUDY = register(Study(
    name="hashing",
    title="Pseudo-supervised hashing",
    chapters=("ldph",),
    package=__name__,
    rules="hashing.smk",
    protocol_marker="vectors",
))
