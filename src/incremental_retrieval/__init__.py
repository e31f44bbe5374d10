"""Incremental and lifelong image retrieval: a reproducible benchmark of
chapters 5-7 of Wei Chen's thesis (Leiden, 2021)."""

__version__ = "0.1.0"
