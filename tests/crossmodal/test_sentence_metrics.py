"""Chapter 4's metrics (spec chapter4.md 6.2): R@K, standard mAP, the CMPM code's mAP, PR, COCO's folds."""

import numpy as np
import pandas as pd
import pytest

from retrieval_bench.retrieval.metrics import map_cmpm_code, ranking_summary, same_label
from retrieval_bench.studies.crossmodal import sentence_evaluate
from retrieval_bench.studies.crossmodal.data.synthetic_captions import STAND_INS, generate


def cmpm_loop(relevant: np.ndarray) -> float:
    """A literal re-statement of the CMPM code's loop: per hit, the relevant items in rank[:max(1, p)]."""
    aps = []
    for row in relevant:
        positions = np.flatnonzero(row)
        if not len(positions):
            continue
        total = sum(row[:max(1, p)].sum() / (p + 1) for p in positions)
        aps.append(total / len(positions))
    return float(np.mean(aps))


def test_map_cmpm_code_equals_the_literal_loop_on_random_rankings():
    rng = np.random.default_rng(0)
    relevant = rng.random((50, 30)) < 0.15
    assert map_cmpm_code(relevant) == pytest.approx(cmpm_loop(relevant), abs=1e-12)


def test_map_cmpm_code_of_a_perfect_five_caption_ranking_and_of_one_relevant_item():
    assert map_cmpm_code(np.array([[True] * 5 + [False] * 5])) == pytest.approx(
        (1 + 1 / 2 + 2 / 3 + 3 / 4 + 4 / 5) / 5)
    relevant = np.zeros((4, 6), dtype=bool)
    relevant[[0, 1, 2, 3], [0, 3, 0, 5]] = True
    assert map_cmpm_code(relevant) == pytest.approx(0.5)  # = R@1 with one relevant item


def test_text_to_image_cmpm_map_is_recall_at_1_with_one_relevant_image():
    rng = np.random.default_rng(1)
    images, captions = rng.normal(size=(20, 8)), rng.normal(size=(100, 8))
    owner = np.repeat(np.arange(20), 5)
    t2i = ranking_summary(captions, images, same_label(owner, np.arange(20)))
    assert t2i["map_cmpm_code"] == pytest.approx(t2i["recall@1"])
    i2t = ranking_summary(images, captions, same_label(np.arange(20), owner))
    assert i2t["map_cmpm_code"] < i2t["map"]


def test_recall_and_standard_map_on_a_hand_example():
    query = np.array([[1.0, 0.0], [0.0, 1.0]])
    gallery = np.array([[1.0, 0.1], [0.9, 0.5], [0.1, 1.0]])
    # query 0 ranks 0, 1, 2; relevant: gallery 1 (rank 2). query 1 ranks 2, 1, 0; relevant: gallery 2 (rank 1)
    out = ranking_summary(query, gallery, same_label(np.array([7, 8]), np.array([5, 7, 8])), ks=(1, 2))
    assert out["recall@1"] == 0.5 and out["recall@2"] == 1.0
    assert out["map"] == pytest.approx((1 / 2 + 1) / 2)
    assert out["queries"] == 2 and len(out["pr"]) == 11
    perfect = ranking_summary(query, query, same_label(np.arange(2), np.arange(2)))
    assert perfect["map"] == 1.0 and perfect["pr"] == [1.0] * 11


def test_coco_1k_is_the_mean_over_its_folds():
    data, _ = generate("synthetic_coco")
    test = data.role("test").reset_index(drop=True)
    image_rows = test["image"].drop_duplicates().to_numpy()
    rng = np.random.default_rng(2)
    image_emb, text_emb = rng.normal(size=(len(image_rows), 6)), rng.normal(size=(len(test), 6))
    groups = sentence_evaluate.score("coco", test, image_rows, image_emb, text_emb)
    assert set(groups) == {"coco1k", "coco5k"}
    folds = groups["coco1k"]["folds"]
    assert len(folds) == 5 and all(f["i2t"]["queries"] == 200 for f in folds)
    assert groups["coco1k"]["t2i"]["recall@1"] == pytest.approx(np.mean([f["t2i"]["recall@1"] for f in folds]))
    assert groups["coco5k"]["i2t"]["queries"] == 1000


def test_the_stand_ins_have_the_spec_sizes_and_are_fixed():
    for name, (_, train, test, views, per_image, _, _) in STAND_INS.items():
        data, scenes = generate(name)
        stats = data.statistics()
        assert stats["train"]["instances"] == train and stats["test"]["instances"] == test
        assert stats["train"]["images"] == train * views and stats["test"]["captions"] == test * views * per_image
        assert len(scenes) == len(data.images)
    again, _ = generate("synthetic_pedes")
    data, _ = generate("synthetic_pedes")
    pd.testing.assert_frame_equal(again.captions, data.captions)
    assert np.array_equal(again.images, data.images)
    with pytest.raises(ValueError, match="unknown captioned stand-in"):
        generate("synthetic_flickr")
