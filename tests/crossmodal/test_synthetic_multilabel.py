"""The chapter 3 stand-ins: shapes, determinism, and the statistics they were calibrated to (spec 14.2)."""

import numpy as np
import pytest

from retrieval_bench.studies.crossmodal.data.synthetic_multilabel import DEFAULTS, generate


@pytest.mark.parametrize("kind, vocabulary, labels", [("synthetic_mir", 352, 24), ("synthetic_nus", 454, 21)])
def test_shapes_types_and_at_least_one_label(kind, vocabulary, labels):
    data = generate(kind, 0, pairs=400)
    assert data.images.shape == (400, 128) and data.images.dtype == np.float32
    assert data.texts.shape == (400, vocabulary) and set(np.unique(data.texts)) <= {0.0, 1.0}
    assert data.labels.shape == (400, labels) and data.labels.dtype == np.uint8
    assert data.labels.sum(axis=1).min() >= 1


def test_a_seed_draws_the_same_data_and_another_seed_other_data():
    a, b, c = generate("synthetic_mir", 1, pairs=300), generate("synthetic_mir", 1, pairs=300), \
        generate("synthetic_mir", 2, pairs=300)
    for name in ("images", "texts", "labels"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name))


@pytest.mark.parametrize("kind, labels_per_pair, top, density", [("synthetic_mir", 3.56, 0.48, 0.556),
                                                                  ("synthetic_nus", 2.47, 0.43, 0.395)])
def test_the_statistics_the_stand_ins_were_calibrated_to(kind, labels_per_pair, top, density):
    stats = [generate(kind, seed).statistics() for seed in range(3)]
    mean = {k: np.mean([s[k] for s in stats]) for k in stats[0]}
    assert mean["labels_per_pair"] == pytest.approx(labels_per_pair, abs=0.1)
    assert mean["top_label_frequency"] == pytest.approx(top, abs=0.08)
    assert mean["positive_pair_density"] == pytest.approx(density, abs=0.07)
    assert mean["rarest_label_frequency"] < 0.1


def test_the_image_nuisance_is_what_the_labels_do_not_explain():
    def explained(nuisance):
        data = generate("synthetic_mir", 0, nuisance=nuisance)
        x, y = data.images, np.c_[data.labels, np.ones(len(data.labels))]
        residual = x - y @ np.linalg.lstsq(y, x, rcond=None)[0]
        return 1 - residual.var() / x.var()

    assert explained(0.0) > explained(1.0) + 0.2


def test_an_unknown_parameter_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown parameter"):
        generate("synthetic_mir", 0, nuisanse=0)
    with pytest.raises(ValueError, match="known"):
        generate("synthetic_coco", 0)
    assert DEFAULTS["synthetic_nus"]["unlabelled_concepts"] == 20
