"""Feature extraction: the base model, not retrained, embeds the new classes."""

from incremental_retrieval.methods.base import Method


class FeatureExtraction(Method):
    name = "feature_extraction"
    trains = False
