"""Paired image-text data of the cross-modal study: the container, the split, the builders."""
