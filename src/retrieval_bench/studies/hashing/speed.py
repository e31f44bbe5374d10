"""Hamming search throughput (issue item 6): `queries` random codes against `database` random codes at `bits`,
top-`k` by faiss's exhaustive binary index (IndexBinaryFlat; GpuIndexBinaryFlat on a GPU), beside this
machine's popcount rate (XOR + popcount of cached 64-bit words with NumPy's bitwise_count, one thread, times
faiss's threads): the distances per second a search could reach if it did nothing else (no top-k heaps)."""

from __future__ import annotations

import time

import numpy as np

from retrieval_bench.core.docs import machine_name


def popcount_rate(words: int = 1 << 17, repeats: int = 200) -> float:
    """64-bit XOR + popcounts per second, best of `repeats` (one thread, NumPy) on 1 MiB of words, which
    stay in cache as a binary database of 8 MB mostly does: the compute rate, not the memory rate."""
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2**63, words, dtype=np.uint64), rng.integers(0, 2**63, words, dtype=np.uint64)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.bitwise_count(np.bitwise_xor(a, b)).sum(dtype=np.int64)
        best = min(best, time.perf_counter() - start)
    return words / best


def measure(queries: int, database: int, bits: int, k: int, seed: int = 0, device: str = "cpu") -> dict:
    import faiss

    if bits % 8:
        raise ValueError(f"bits {bits}: a multiple of 8")
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 256, (queries, bits // 8), dtype=np.uint8)
    db = rng.integers(0, 256, (database, bits // 8), dtype=np.uint8)
    index = faiss.IndexBinaryFlat(bits)
    if device == "cuda":
        index = faiss.index_binary_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    index.add(db)
    start = time.perf_counter()
    index.search(q, k)
    seconds = time.perf_counter() - start
    words = bits // 64 or 1
    result = {"queries": queries, "database": database, "bits": bits, "k": k, "device": device,
              "threads": faiss.omp_get_max_threads(), "seconds": seconds, "queries_per_second": queries / seconds,
              "distances_per_second": queries * database / seconds,
              "machine": machine_name()}
    rate = popcount_rate()
    result["popcount_words_per_second_one_thread"] = rate
    bound = rate * result["threads"] / words
    result["popcount_bound_distances_per_second"] = bound
    result["fraction_of_popcount_bound"] = result["distances_per_second"] / bound
    return result


def as_markdown(r: dict) -> str:
    return "\n".join([
        f"Hamming search, {r['queries']:,} queries against {r['database']:,} codes of {r['bits']} bits, top "
        f"{r['k']} (faiss IndexBinaryFlat, {r['device']}, {r['threads']} threads; {r['machine']}):", "",
        "| measure | value |", "|---|---|",
        f"| search time | {r['seconds']:.1f} s |",
        f"| queries per second | {r['queries_per_second']:,.0f} |",
        f"| Hamming distances per second | {r['distances_per_second']:.3g} |",
        f"| popcount rate (NumPy XOR + popcount of cached 64-bit words, one thread, x {r['threads']}) | "
        f"{r['popcount_bound_distances_per_second']:.3g} distances/s |",
        f"| search rate / popcount rate | {r['fraction_of_popcount_bound']:.2f} |", ""])
