"""Ranking and retrieval metrics on (query, gallery, relevance, similarity, exclude_self)."""
