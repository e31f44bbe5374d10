"""Cross-modal hashing (thesis chapter 3): image-text pairs with multi-label
supervision, a query set of one modality against a database of the other,
binary codes ranked by Hamming distance (DCMH's protocol and alternating
schedule); DCMH and the chapter's domain-uncertainty method."""

from retrieval_bench.core.registry import Study, register

STUDY = register(Study(
    name="crossmodal",
    title="Cross-modal hashing",
    chapters=("3",),
    package=__name__,
    rules="crossmodal.smk",
    protocol_marker="paired",
))
