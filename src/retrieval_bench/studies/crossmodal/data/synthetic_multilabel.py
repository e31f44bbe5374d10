"""Chapter 3's mini-scale stand-ins: multi-label image-text pairs (spec chapter3.md 14.2).

Designed from the mechanisms the chapter's loss terms rely on, calibrated
once before any method was compared, never changed to make a claim hold:

- labels are dense and co-occur in scenes (a pair's scene triples the
  prevalence of its 4 concepts), so pairs share 0 to 6 labels: the graded
  similarity L_m orders;
- an image is a feature vector x = tanh(s + u) + 0.1 ε: s carries the
  labels (each present concept's direction, weighted by its visual
  salience), u an image-only nuisance (style, lighting) as strong as s,
  mixed in by the tanh so no linear map removes it: what a modality
  predictor can see;
- a text is a bag of tags: each present concept's words (some concepts
  untagged, a few false tags), the words of the pair's user (text-only
  nuisance) and background words, in a shuffled vocabulary;
- the NUS-WIDE stand-in has fewer labels per pair and 20 concepts present in
  images and tags but never in the labels (NUS-WIDE's top-21 protocol drops
  60 of 81 concepts whose content stays in the images, L1026).
"""

from __future__ import annotations

import numpy as np

from retrieval_bench.studies.crossmodal.data.paired import PairedData

_COMMON = {
    "scenes": 6, "concepts_per_scene": 4, "scene_boost": 3.0, "prevalence_cap": 0.95,
    "semantic_dim": 32, "image_dim": 128, "salience": [0.6, 1.4], "nuisance": 1.0, "noise": 0.1,
    "words_per_concept": 6, "word_probability": 0.3, "untagged": 0.12, "false_tags": 0.02,
    "users": 8, "user_words": 16, "user_word_probability": 0.25,
    "background_words": 80, "background_probability": 0.3, "background_exponent": 0.7,
}
DEFAULTS = {
    "synthetic_mir": {**_COMMON, "pairs": 3000, "labels": 24, "prevalence_exponent": 0.6, "labels_per_pair": 3.5,
                      "unlabelled_concepts": 0, "unlabelled_prevalence": 0.0},
    "synthetic_nus": {**_COMMON, "pairs": 5000, "labels": 21, "prevalence_exponent": 0.7, "labels_per_pair": 2.3,
                      "unlabelled_concepts": 20, "unlabelled_prevalence": 0.12},
}


def generate(kind: str, seed: int, **overrides) -> PairedData:
    """The stand-in `kind` drawn for `seed`; `overrides` replace DEFAULTS[kind] keys."""
    if kind not in DEFAULTS:
        raise ValueError(f"unknown synthetic paired data set {kind!r}; known: {sorted(DEFAULTS)}")
    unknown = set(overrides) - set(DEFAULTS[kind])
    if unknown:
        raise ValueError(f"{kind}: unknown parameter(s) {sorted(unknown)}; known: {sorted(DEFAULTS[kind])}")
    p = {**DEFAULTS[kind], **overrides}
    rng = np.random.default_rng([seed, sorted(DEFAULTS).index(kind)])
    labels, hidden = _labels(p, rng)
    concepts = np.concatenate([labels, hidden], axis=1)  # every concept present, labelled or not
    images = _images(concepts, p, rng)
    texts = _texts(concepts, p, rng)
    return PairedData(images, texts, labels.astype(np.uint8),
                      {"source": "synthetic", "kind": kind, "seed": seed, "parameters": p})


def _labels(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot labels (at least one per pair) and the unlabelled concepts' presence."""
    n, c = p["pairs"], p["labels"]
    weight = rng.permutation(np.arange(1, c + 1) ** -float(p["prevalence_exponent"]))  # which label is frequent
    boost = np.ones((p["scenes"], c))
    for scene in range(p["scenes"]):
        boost[scene, rng.choice(c, size=min(p["concepts_per_scene"], c), replace=False)] = p["scene_boost"]
    scale = _scale_for_mean(weight * boost, p["labels_per_pair"], p["prevalence_cap"])
    prevalence = np.minimum(scale * weight * boost, p["prevalence_cap"])
    scene = rng.integers(p["scenes"], size=n)
    labels = rng.random((n, c)) < prevalence[scene]
    while (empty := ~labels.any(axis=1)).any():  # at least one label: draw those pairs again
        labels[empty] = rng.random((int(empty.sum()), c)) < prevalence[scene[empty]]
    hidden = rng.random((n, p["unlabelled_concepts"])) < p["unlabelled_prevalence"]
    return labels, hidden


def _scale_for_mean(weights: np.ndarray, mean: float, cap: float) -> float:
    """The factor k with mean over scenes of Σ_c min(cap, k w) = mean (bisection: the sum rises with k)."""
    if mean >= cap * weights.shape[1]:
        raise ValueError(f"{mean} labels per pair cannot be reached with {weights.shape[1]} labels capped at {cap}")
    low, high = 0.0, 1.0
    while np.minimum(high * weights, cap).sum(axis=1).mean() < mean:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if np.minimum(mid * weights, cap).sum(axis=1).mean() < mean else (low, mid)
    return (low + high) / 2


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-8)


def _images(concepts: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    n, k = concepts.shape
    directions = rng.normal(size=(k, p["semantic_dim"]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    salience = rng.uniform(*p["salience"], size=k)
    z = (concepts * salience) @ directions / np.sqrt(np.maximum(concepts.sum(axis=1, keepdims=True), 1))
    semantic = _standardise(z @ rng.normal(size=(p["semantic_dim"], p["image_dim"])))
    nuisance = _standardise(rng.normal(size=(n, p["semantic_dim"])) @ rng.normal(size=(p["semantic_dim"],
                                                                                         p["image_dim"])))
    x = np.tanh(semantic + p["nuisance"] * nuisance) + p["noise"] * rng.normal(size=(n, p["image_dim"]))
    return x.astype(np.float32)


def _texts(concepts: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Bags of tags: concept words, the user's words, background words; the vocabulary shuffled."""
    n, k = concepts.shape
    tagged = concepts & (rng.random((n, k)) >= p["untagged"])  # some present concepts get no tag
    tagged |= ~concepts & (rng.random((n, k)) < p["false_tags"])  # a few absent ones get tagged
    words_per = p["words_per_concept"]
    concept_words = np.repeat(tagged, words_per, axis=1) & (rng.random((n, k * words_per)) < p["word_probability"])
    zipf = 1.0 / np.arange(1, p["users"] + 1)
    user = rng.choice(p["users"], size=n, p=zipf / zipf.sum())
    own = np.zeros((n, p["users"] * p["user_words"]), dtype=bool)
    for u in range(p["users"]):
        rows = np.flatnonzero(user == u)
        block = rng.random((len(rows), p["user_words"])) < p["user_word_probability"]
        own[np.ix_(rows, np.arange(u * p["user_words"], (u + 1) * p["user_words"]))] = block
    background_p = p["background_probability"] * np.arange(1, p["background_words"] + 1) ** -p["background_exponent"]
    background = rng.random((n, p["background_words"])) < background_p
    bow = np.concatenate([concept_words, own, background], axis=1)
    return bow[:, rng.permutation(bow.shape[1])].astype(np.float32)
