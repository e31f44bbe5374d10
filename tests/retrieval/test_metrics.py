import numpy as np
import pytest

from retrieval_bench.retrieval import metrics
from retrieval_bench.retrieval.metrics import same_label


def circle(degrees):
    a = np.deg2rad(np.asarray(degrees, dtype=float))
    return np.stack([np.cos(a), np.sin(a)], axis=1) * np.arange(1, len(a) + 1)[:, None]  # norms differ: cosine only


# Hand-ranked example: angles 0, 10, 25, 90, 100 degrees, labels 0 0 1 1 0.
# Rankings (self left out): q0 [1,2,3,4], q1 [0,2,3,4], q2 [1,0,3,4], q3 [4,2,1,0], q4 [3,2,1,0].
FEATURES = circle([0, 10, 25, 90, 100])
LABELS = np.array([0, 0, 1, 1, 0])


def test_recall_at_k_on_hand_ranked_example():
    recall = metrics.recall_at_k(FEATURES, relevance=same_label(LABELS), ks=(1, 2, 4))
    assert recall == pytest.approx({1: 0.4, 2: 0.6, 4: 1.0})


def test_standard_map_on_hand_ranked_example():
    # APs: 3/4, 3/4, 1/3, 1/2, 5/12
    assert metrics.mean_average_precision(FEATURES, relevance=same_label(LABELS)) == pytest.approx(0.55)


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
    assert metrics.mean_average_precision(features, relevance=same_label(labels)) == pytest.approx(1.0)
    assert metrics.map_original_code(features, labels) == pytest.approx(7 / 18)
    assert metrics.recall_at_k(features, relevance=same_label(labels), ks=(1,)) == {1: 1.0}


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
    assert metrics.recall_at_k(features, relevance=same_label([0, 0, 1]), ks=(1,)) == {1: pytest.approx(2 / 3)}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="3 queries and 3 gallery items, but the relevance is for 2 and 2"):
        metrics.recall_at_k(np.zeros((3, 2)), relevance=same_label([0, 1]))
    with pytest.raises(ValueError, match="N x D"):
        metrics.mean_average_precision(np.zeros(3), relevance=same_label([0, 1, 2]))
    with pytest.raises(ValueError, match="similarity 'hamming'"):
        metrics.recall_at_k(FEATURES, relevance=same_label(LABELS), similarity="hamming")
    with pytest.raises(ValueError, match="query i is gallery item i"):
        metrics.recall_at_k(FEATURES[:2], FEATURES, relevance=same_label(LABELS[:2], LABELS), exclude_self=True)


def test_precision_recall_curve_on_hand_ranked_example():
    recall, precision = metrics.precision_recall_curve(FEATURES, relevance=same_label(LABELS), levels=3)
    # interpolated precision at recall 0, 0.5, 1 per query:
    # q0/q1 [1, 1, 1/2], q2 [1/3]*3, q3 [1/2]*3, q4 [1/2]*3
    assert recall.tolist() == [0.0, 0.5, 1.0]
    expected = np.mean([[1, 1, .5], [1, 1, .5], [1 / 3] * 3, [.5] * 3, [.5] * 3], axis=0)
    assert precision == pytest.approx(expected)


def brute_force_ranking(query, gallery):
    """The oracle: every gallery item by cosine similarity, best first, ties by index."""
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    return np.argsort(-(q @ g.T), axis=1, kind="stable")


def test_a_separate_gallery_keeps_every_item_and_matches_brute_force():
    rng = np.random.default_rng(1)
    query, gallery = rng.normal(size=(7, 5)), rng.normal(size=(30, 5))
    q_labels, g_labels = rng.integers(0, 3, 7), rng.integers(0, 3, 30)
    oracle = brute_force_ranking(query, gallery)
    ranked = metrics.rank(metrics._vectors(query, "cosine"), metrics._vectors(gallery, "cosine"))
    assert ranked.shape == (7, 30) and (ranked == oracle).all()
    relevance = same_label(q_labels, g_labels)
    relevant = g_labels[oracle] == q_labels[:, None]
    expected_aps = [np.mean(np.arange(1, r.sum() + 1) / (np.flatnonzero(r) + 1)) for r in relevant]
    assert metrics.mean_average_precision(query, gallery, relevance) == pytest.approx(np.mean(expected_aps))
    assert metrics.recall_at_k(query, gallery, relevance, ks=(1, 5)) == pytest.approx(
        {1: relevant[:, 0].mean(), 5: relevant[:, :5].any(axis=1).mean()})


def test_a_query_with_no_relevant_item_is_skipped_or_counts_zero():
    query, gallery = circle([0, 90]), circle([0, 10, 20])
    relevance = same_label([0, 1], [0, 0, 0])  # nothing in the gallery is of class 1
    assert metrics.mean_average_precision(query, gallery, relevance) == pytest.approx(1.0)
    assert metrics.mean_average_precision(query, gallery, relevance, no_relevant="zero") == pytest.approx(0.5)
    assert metrics.average_precisions(query, gallery, relevance, no_relevant="zero").tolist() == [1.0, 0.0]


def test_query_equal_to_gallery_is_the_leave_one_out_special_case():
    # the same set given as a gallery with exclude_self: the same numbers as without a gallery
    relevance = same_label(LABELS, LABELS)
    assert metrics.recall_at_k(FEATURES, FEATURES, relevance, exclude_self=True) == \
        metrics.recall_at_k(FEATURES, relevance=same_label(LABELS))
    # without exclude_self each query finds itself first
    assert metrics.recall_at_k(FEATURES, FEATURES, relevance, ks=(1,)) == {1: 1.0}


def test_inner_product_similarity_ranks_by_norm_too():
    query, gallery = np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [3.0, 1.0]])
    relevance = same_label([0], [1, 0])
    assert metrics.recall_at_k(query, gallery, relevance, ks=(1,)) == {1: 0.0}  # cosine: item 0 first
    assert metrics.recall_at_k(query, gallery, relevance, ks=(1,), similarity="inner") == {1: 1.0}
