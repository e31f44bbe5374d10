import numpy as np
import pytest

from retrieval_bench.studies.incremental import measures
from retrieval_bench.studies.lifelong.measures import harmonic_mean


def test_forgetting_and_harmonic_mean():
    accuracy = np.array([[0.8, np.nan, np.nan], [0.6, 0.9, np.nan], [0.5, 0.7, 0.95]])
    assert measures.forgetting(accuracy) == pytest.approx([0.3, 0.2])
    assert harmonic_mean(0.5, 1.0) == pytest.approx(2 / 3)
    assert harmonic_mean(0.0, 0.0) == 0.0


def test_top1_accuracy():
    assert measures.top1_accuracy([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0]], [0, 1, 1]) == pytest.approx(2 / 3)
