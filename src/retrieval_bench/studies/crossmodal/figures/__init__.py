"""The cross-modal study's figure kinds, one file each."""

from retrieval_bench.core.figures import pyplot  # noqa: F401  (the kinds import it from here)
