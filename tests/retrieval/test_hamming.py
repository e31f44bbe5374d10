"""Hamming retrieval against its definitions: a brute-force ranking (Python's sort on
(distance, index)) and metrics written out loop by loop, with many ties."""

import math

import numpy as np
import pytest

from retrieval_bench.retrieval.hamming import (
    as_bits,
    code_statistics,
    collapse_warning,
    grade_matrix,
    hamming_distances,
    hamming_metrics,
    neighbour_sets,
    shared_labels,
)

# The 4-query, 6-item, 4-bit example of SSAH's utils/calc_hammingranking.py (DCMH's calc_map);
# the values are chapter3.md 7.1's, ranked with ties in database order.
FIXTURE_QUERIES = np.array([[1, -1, 1, 1], [-1, -1, -1, 1], [1, 1, -1, 1], [1, 1, 1, -1]])
FIXTURE_DATABASE = np.array([[1, -1, 1, -1], [-1, -1, 1, -1], [-1, -1, 1, -1], [1, 1, -1, -1],
                             [-1, 1, -1, -1], [1, 1, -1, 1]])
FIXTURE_QUERY_LABELS = np.array([[0, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 1], [0, 1, 0, 1]])
FIXTURE_DATABASE_LABELS = np.array([[1, 0, 0, 1], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [1, 0, 0, 0],
                                    [0, 0, 1, 0]])


def fixture_metrics(**kwargs):
    return hamming_metrics(FIXTURE_QUERIES, FIXTURE_DATABASE,
                           shared_labels(FIXTURE_QUERY_LABELS, FIXTURE_DATABASE_LABELS), **kwargs)


def test_the_dcmh_example_with_ties_in_database_order():
    result = fixture_metrics()
    np.testing.assert_allclose(result.average_precision, [0.5833333, 0.95, 0.4777778, 0.8055556], atol=1e-7)
    assert result.map == pytest.approx(0.7041667, abs=1e-7)


def test_pessimistic_ties_put_relevant_items_last():
    assert fixture_metrics(ties="pessimistic").map == pytest.approx(0.4934028, abs=1e-7)


def test_random_ties_are_seeded_and_lie_between_the_extremes():
    low, high = fixture_metrics(ties="pessimistic").map, max_map_inside_ties()
    maps = [fixture_metrics(ties="random", seed=s).map for s in range(20)]
    assert maps == [fixture_metrics(ties="random", seed=s).map for s in range(20)]
    assert all(low - 1e-12 <= m <= high + 1e-12 for m in maps)
    assert len(set(maps)) > 1


def max_map_inside_ties():
    """Relevant items first inside ties: the optimistic order, by brute force."""
    dist = brute_distances(FIXTURE_QUERIES, FIXTURE_DATABASE)
    rel = FIXTURE_QUERY_LABELS @ FIXTURE_DATABASE_LABELS.T > 0
    return float(np.mean([brute_ap([rel[i][j] for j in sorted(range(6), key=lambda j: (dist[i][j], not rel[i][j], j))])
                          for i in range(4)]))


# ---------------------------------------------------------------- the brute-force oracle

def brute_distances(q, d):
    return [[sum(int(a != b) for a, b in zip(qi, dj)) for dj in d] for qi in q]


def brute_ap(relevant_in_order):
    hits, total = 0, 0.0
    for rank, rel in enumerate(relevant_in_order, 1):
        if rel:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def brute_ndcg(grades_in_order, all_grades, k):
    dcg = sum((2 ** g - 1) / math.log2(r + 2) for r, g in enumerate(grades_in_order[:k]))
    idcg = sum((2 ** g - 1) / math.log2(r + 2) for r, g in enumerate(sorted(all_grades, reverse=True)[:k]))
    return dcg / idcg if idcg else 0.0


@pytest.mark.parametrize("bits", [3, 8, 13, 32])
def test_every_metric_matches_the_brute_force_ranking(bits):
    rng = np.random.default_rng(bits)
    q = rng.choice([-1, 1], size=(9, bits))
    d = rng.choice([-1, 1], size=(40, bits))
    ql, dl = rng.integers(0, 2, (9, 5)), rng.integers(0, 2, (40, 5))
    ql[0] = 0  # a query with no relevant item: AP 0 (DCMH)
    result = hamming_metrics(q, d, shared_labels(ql, dl), ns=(1, 5, 40), ndcg_ks=(1, 10), lookup=True,
                             chunk_items=80)  # chunks of 2 queries
    dist = brute_distances(q, d)
    grade = ql @ dl.T
    aps, p5, r5, ndcg10 = [], [], [], []
    for i in range(9):
        order = sorted(range(40), key=lambda j: (dist[i][j], j))
        rel = [grade[i][j] > 0 for j in order]
        aps.append(brute_ap(rel))
        p5.append(sum(rel[:5]) / 5)
        r5.append(sum(rel[:5]) / sum(rel) if sum(rel) else 0.0)
        ndcg10.append(brute_ndcg([grade[i][j] for j in order], list(grade[i]), 10))
    np.testing.assert_allclose(result.average_precision, aps)
    assert result.average_precision[0] == 0.0
    np.testing.assert_allclose(result.precision_at[5], p5)
    np.testing.assert_allclose(result.recall_at[5], r5)
    np.testing.assert_allclose(result.ndcg_at[10], ndcg10)
    np.testing.assert_allclose(result.recall_at[40], [float((grade[i] > 0).any()) for i in range(9)])
    table = result.lookup()
    for r in range(bits + 1):
        pairs = [(i, j) for i in range(9) for j in range(40) if dist[i][j] <= r]
        good = sum(grade[i][j] > 0 for i, j in pairs)
        assert table["retrieved"][r] == len(pairs)
        assert table["precision"][r] == pytest.approx(good / len(pairs) if pairs else 0.0)
        assert table["recall"][r] == pytest.approx(good / (grade > 0).sum())


def test_skip_leaves_out_queries_without_relevant_items():
    labels = FIXTURE_QUERY_LABELS.copy()
    labels[0] = [0, 0, 0, 1]  # shares a label with database item 0 only
    no_match = np.zeros((1, 4), dtype=int)
    queries = np.vstack([FIXTURE_QUERIES, FIXTURE_QUERIES[:1]])
    truth = shared_labels(np.vstack([labels, no_match]), FIXTURE_DATABASE_LABELS)
    zero = hamming_metrics(queries, FIXTURE_DATABASE, truth)
    skip = hamming_metrics(queries, FIXTURE_DATABASE, truth, no_relevant="skip")
    assert zero.average_precision[-1] == 0.0 and np.isnan(skip.average_precision[-1])
    assert skip.map == pytest.approx(zero.map * 5 / 4)


def test_codes_as_signs_bits_or_bools_give_the_same_distances():
    rng = np.random.default_rng(0)
    signs = rng.choice([-1, 1], size=(6, 21))
    expected = np.array(brute_distances(signs, signs[::-1]))
    bits = (signs > 0).astype(np.uint8)
    for form in (signs, bits, bits.astype(bool)):
        np.testing.assert_array_equal(hamming_distances(form, form[::-1]), expected)


def test_the_ground_truth_can_be_lists_or_a_matrix():
    rng = np.random.default_rng(1)
    q, d = rng.choice([-1, 1], size=(5, 8)), rng.choice([-1, 1], size=(30, 8))
    lists = [rng.choice(30, size=4, replace=False) for _ in range(5)]
    matrix = np.zeros((5, 30), dtype=bool)
    for i, ids in enumerate(lists):
        matrix[i, ids] = True
    a = hamming_metrics(q, d, neighbour_sets(lists, 30), ns=(10,))
    b = hamming_metrics(q, d, grade_matrix(matrix), ns=(10,))
    assert a.summary() == b.summary()


def test_class_labels_are_relevant_when_equal():
    grades = shared_labels(np.array([0, 1]), np.array([1, 1, 0]))(np.arange(2))
    np.testing.assert_array_equal(grades, [[0, 0, 1], [1, 1, 0]])


def test_a_radius_past_the_code_length_retrieves_everything():
    table = fixture_metrics(lookup=True).lookup(radii=[0, 4, 50])
    assert list(table["radius"]) == [0, 4, 4]
    assert table["retrieved"][-1] == 4 * 6 and table["recall"][-1] == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: as_bits(np.array([[0.5, -1.0]])), "binarise first"),
    (lambda: hamming_distances(np.ones((2, 8)), np.ones((2, 16))), "8 bits"),
    (lambda: hamming_metrics(np.ones((3, 4)), np.ones((6, 4)), shared_labels(np.zeros(2), np.zeros(6))),
     "relevance is for 2 queries"),
    (lambda: fixture_metrics(ns=(7,)), "choose 1..6"),
    (lambda: fixture_metrics(ties="sorted"), "ties"),
    (lambda: fixture_metrics().lookup(), "lookup=True"),
    (lambda: shared_labels(np.zeros((2, 3)), np.zeros((2, 4))), "same labels"),
    (lambda: neighbour_sets([[0, 9]], 5), "outside 0..4"),
])
def test_bad_input_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_collapse_guard_sees_few_codes_and_constant_bits():
    rng = np.random.default_rng(2)
    healthy = code_statistics(rng.choice([-1, 1], size=(500, 16)))
    assert healthy["distinct_codes"] > 400 and healthy["constant_bits"] == 0
    assert collapse_warning(healthy, "text") is None
    collapsed = np.tile(rng.choice([-1, 1], size=(3, 16)), (200, 1))
    collapsed[:, 0] = 1
    stats = code_statistics(collapsed)
    assert stats["distinct_codes"] == 3 and stats["constant_bits"] >= 1 and stats["bit_imbalance"] > 0
    assert "text: 3 distinct codes for 600 items" in collapse_warning(stats, "text")


# ---------------------------------------------------------------- the expected AP under random tie order


def _mean_ap_over_every_tie_order(query_codes, database_codes, relevant):
    """AP averaged over every permutation of the database (ties broken by the permuted index)."""
    import itertools

    from retrieval_bench.retrieval.hamming import hamming_distances

    dist = hamming_distances(query_codes, database_codes)
    n = dist.shape[1]
    total = np.zeros(len(dist))
    perms = list(itertools.permutations(range(n)))
    for perm in perms:
        for i in range(len(dist)):
            order = sorted(range(n), key=lambda j: (dist[i, j], perm[j]))
            hit = relevant[i, order]
            found = np.cumsum(hit)
            total[i] += (hit * found / np.arange(1, n + 1)).sum() / max(hit.sum(), 1)
    return total / len(perms)


def test_expected_ap_under_random_ties_is_exact_against_every_tie_order():
    from retrieval_bench.retrieval.hamming import grade_matrix, hamming_metrics

    rng = np.random.default_rng(5)
    q, d = rng.integers(0, 2, (6, 3)), rng.integers(0, 2, (7, 3))  # 3 bits, 7 items: many ties
    relevant = rng.random((6, 7)) < 0.4
    relevant[0] = False  # a query with nothing relevant scores 0
    result = hamming_metrics(q, d, grade_matrix(relevant), lookup=True)
    expected = _mean_ap_over_every_tie_order(q, d, relevant)
    assert np.allclose(result.expected_average_precision(), expected)
    assert result.summary()["map_tie_mean"] == pytest.approx(expected.mean())


def test_expected_ap_is_the_stable_ap_without_ties():
    from retrieval_bench.retrieval.hamming import grade_matrix, hamming_metrics

    rng = np.random.default_rng(1)
    d = np.array([[int(b) for b in f"{i:04b}"] for i in range(16)])  # 16 distinct codes
    q = d[[0]]
    dist_unique = np.abs(d.sum(axis=1))  # distances to code 0000 are the popcounts: tied; use one code per level
    keep = [0, 1, 3, 7, 15]  # 0000, 0001, 0011, 0111, 1111: distances 0..4, no ties
    relevant = rng.random((1, 5)) < 0.5
    relevant[0, 0] = True
    result = hamming_metrics(q, d[keep], grade_matrix(relevant), lookup=True)
    assert dist_unique[keep].tolist() == [0, 1, 2, 3, 4]
    assert result.expected_average_precision()[0] == pytest.approx(result.average_precision[0])
