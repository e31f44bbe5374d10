"""retrieval_bench: a reproducible benchmark of deep image retrieval that
rebuilds the experimental tables and figures of Wei Chen's thesis *Exploring
deep learning for intelligent image retrieval* (Leiden, 2021), one study per
kind of retrieval (core/registry.py), beside the thesis's own numbers."""

__version__ = "0.2.0"
