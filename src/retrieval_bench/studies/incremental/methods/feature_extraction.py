"""Feature extraction: the base model, not retrained, embeds the new classes."""

from retrieval_bench.studies.incremental.methods.base import Method


class FeatureExtraction(Method):
    name = "feature_extraction"
    trains = False
