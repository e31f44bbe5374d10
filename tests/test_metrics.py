import numpy as np
import pytest

from incremental_retrieval import metrics


def circle(degrees):
    a = np.deg2rad(np.asarray(degrees, dtype=float))
    return np.stack([np.cos(a), np.sin(a)], axis=1) * np.arange(1, len(a) + 1)[:, None]  # norms differ: cosine only


# Hand-ranked example: angles 0, 10, 25, 90, 100 degrees, labels 0 0 1 1 0.
# Rankings (self left out): q0 [1,2,3,4], q1 [0,2,3,4], q2 [1,0,3,4], q3 [4,2,1,0], q4 [3,2,1,0].
FEATURES = circle([0, 10, 25, 90, 100])
LABELS = np.array([0, 0, 1, 1, 0])


def test_recall_at_k_on_hand_ranked_example():
    assert metrics.recall_at_k(FEATURES, LABELS, ks=(1, 2, 4)) == pytest.approx({1: 0.4, 2: 0.6, 4: 1.0})


def test_standard_map_on_hand_ranked_example():
    # APs: 3/4, 3/4, 1/3, 1/2, 5/12
    assert metrics.mean_average_precision(FEATURES, LABELS) == pytest.approx(0.55)


def original_code_map_reference(features, labels):
    """The original code's loop (evaluations/recall_at_k.py), transcribed: the
    query kept in its ranking at similarity sim_ii - 1 and counted relevant."""
    x = features / np.linalg.norm(features, axis=1, keepdims=True)
    sim = x @ x.T - np.eye(len(x))
    rank = np.argsort(1 - sim, axis=1, kind="stable")
    aps = []
    for i in range(len(x)):
        hits = np.where(labels[rank[i]] == labels[i])[0]
        aps.append(sum(np.sum(labels[rank[i, :h]] == labels[i]) / (h + 1) for h in hits) / len(hits))
    return np.mean(aps)


def test_original_code_map_keeps_the_query_in_its_ranking():
    # Two classes in the positive quadrant: every query ranks both others of
    # the gallery above itself (similarity ~0): hits at ranks 0 and 3,
    # (0/1 + 1/4) / 2 = 0.125 for every query.
    features, labels = circle([0, 5, 40, 45]), np.array([0, 0, 1, 1])
    assert metrics.map_original_code(features, labels) == pytest.approx(0.125)


def test_perfect_ranking_scores_one_but_variant_does_not():
    # Three classes 120 degrees apart, 3 images each: the two same-class
    # images, then the query itself (similarity 0 > -0.5 of the others):
    # (0/1 + 1/2 + 2/3) / 3 = 7/18.
    features = circle([0, 2, 4, 120, 122, 124, 240, 242, 244])
    labels = np.repeat([0, 1, 2], 3)
    assert metrics.mean_average_precision(features, labels) == pytest.approx(1.0)
    assert metrics.map_original_code(features, labels) == pytest.approx(7 / 18)
    assert metrics.recall_at_k(features, labels, ks=(1,)) == {1: 1.0}


def test_original_code_map_matches_the_original_loop_on_random_data():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, 8)), rng.integers(0, 6, size=60)
    expected = original_code_map_reference(features, labels)
    assert metrics.map_original_code(features, labels) == pytest.approx(expected, abs=1e-6)
    assert metrics.map_original_code(features, labels, chunk=7) == pytest.approx(expected, abs=1e-6)


def test_query_is_left_out_even_among_identical_vectors():
    features = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    neighbours = metrics.ranked_neighbours(features)
    for row, ids in enumerate(neighbours):
        assert row not in ids and len(ids) == 2
    # the two identical images of class 0 find each other; class 1's only image cannot
    assert metrics.recall_at_k(features, [0, 0, 1], ks=(1,)) == {1: pytest.approx(2 / 3)}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="labels"):
        metrics.recall_at_k(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="N x D"):
        metrics.mean_average_precision(np.zeros(3), [0, 1, 2])


def test_forgetting_and_harmonic_mean():
    accuracy = np.array([[0.8, np.nan, np.nan], [0.6, 0.9, np.nan], [0.5, 0.7, 0.95]])
    assert metrics.forgetting(accuracy) == pytest.approx([0.3, 0.2])
    assert metrics.harmonic_mean(0.5, 1.0) == pytest.approx(2 / 3)
    assert metrics.harmonic_mean(0.0, 0.0) == 0.0


def test_precision_recall_curve_on_hand_ranked_example():
    recall, precision = metrics.precision_recall_curve(FEATURES, LABELS, levels=3)
    # interpolated precision at recall 0, 0.5, 1 per query:
    # q0/q1 [1, 1, 1/2], q2 [1/3]*3, q3 [1/2]*3, q4 [1/2]*3
    assert recall.tolist() == [0.0, 0.5, 1.0]
    expected = np.mean([[1, 1, .5], [1, 1, .5], [1 / 3] * 3, [.5] * 3, [.5] * 3], axis=0)
    assert precision == pytest.approx(expected)


def test_top1_accuracy():
    assert metrics.top1_accuracy([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0]], [0, 1, 1]) == pytest.approx(2 / 3)

