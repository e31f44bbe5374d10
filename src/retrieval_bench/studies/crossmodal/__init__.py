"""Cross-modal retrieval (thesis chapters 3 and 4).

Chapter 3, hashing: image-text pairs with multi-label supervision, a query
set of one modality against a database of the other, binary codes ranked by
Hamming distance (DCMH's protocol and alternating schedule); DCMH and the
chapter's domain-uncertainty method.  Protocols with a `paired` block.

Chapter 4, image-sentence embedding: images with several captions, a
Bi-LSTM over words, a shared real-valued space ranked by cosine, Algorithm
1's adversarial schedule; ITMeetsAL and its ablations, CMPM(+CMPC), VSE++.
Protocols with a `captions` block."""

from retrieval_bench.core.registry import Study, register

STUDY = register(Study(
    name="crossmodal",
    title="Cross-modal retrieval",
    chapters=("3", "4"),
    package=__name__,
    rules="crossmodal.smk",
    protocol_marker="paired",
    more_markers=("captions",),
))
