"""The deck's works 1 and 2 as feature-level rows: the pieces against hand-made cases."""

import numpy as np

from retrieval_bench.studies.hashing import two_view


def test_sparsify_keeps_the_largest_entries_by_magnitude():
    x = np.array([[0.1, -3.0, 2.0, 0.5], [1.0, 1.5, -0.2, 0.0]])
    assert np.array_equal(two_view.sparsify(x, 2), [[0.0, -3.0, 2.0, 0.0], [1.0, 1.5, 0.0, 0.0]])


def test_reciprocal_neighbours_keep_only_mutual_pairs():
    # items 0 and 1 are each other's nearest; item 2's nearest is 1, but 1 prefers 0
    x = np.array([[1.0, 0.0], [0.99, 0.14], [0.8, 0.6], [0.0, 1.0]])
    graph = two_view.reciprocal_neighbours(x, k=1)
    assert [list(n) for n in graph] == [[1], [0], [], []]


def test_cie_fills_only_zero_entries_from_the_neighbours():
    b = two_view.l2_normalise(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    graph = [np.array([1]), np.array([0])]
    filled = two_view.fill_from_neighbours(b, graph, beta=0.5)
    # item 0 keeps its entry 0 and gains 0.5 of item 1's entry 1 (then is renormalised)
    assert np.allclose(filled[0], np.array([1.0, 0.5, 0.0]) / np.linalg.norm([1.0, 0.5]))
    assert np.allclose(filled[1], np.array([0.5, 1.0, 0.0]) / np.linalg.norm([0.5, 1.0]))


def test_csm_head_starts_at_the_identity_and_a_zero_step_run_changes_nothing():
    rng = np.random.default_rng(0)
    a, b = two_view.l2_normalise(rng.normal(size=(40, 6))), two_view.l2_normalise(rng.normal(size=(40, 5)))
    g = two_view.csm(a, b, k=3, margin=0.5, weight=1.0, epochs=1, lr=0.0, batch=8, seed=0)
    assert np.allclose(g(b), b, atol=1e-6)


def test_storage_counts_values_and_indices_of_a_sparse_row():
    x = np.array([[0.0, 1.0, 0.0, 2.0], [3.0, 0.0, 0.0, 0.0]])
    assert two_view.stored_bytes(x, sparse=True) == 1.5 * 8
    assert two_view.stored_bytes(x, sparse=False) == 4 * 4
