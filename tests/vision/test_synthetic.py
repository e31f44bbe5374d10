import numpy as np
import pytest

from retrieval_bench.vision import synthetic


def test_datasets_are_deterministic_and_groups_share_no_class(tmp_path):
    from retrieval_bench.vision.datasets import build_synthetic

    spec = {"seed": 5, "groups": [{"identity": ["texture", "border"], "classes": 30, "images": 2},
                                  {"identity": ["texture", "border"], "classes": 18, "images": 2}]}
    a, b = build_synthetic(spec, tmp_path / "a"), build_synthetic(spec, tmp_path / "b")
    assert [r["path"] for r in a] == [r["path"] for r in b]
    for ra, rb in zip(a, b):
        assert (tmp_path / "a" / ra["path"]).read_bytes() == (tmp_path / "b" / rb["path"]).read_bytes()
    names = {r["class_name"].split(".", 1)[1] for r in a}
    assert len(names) == 48  # 8 textures x 6 borders: the second group takes only what the first left
    with pytest.raises(ValueError, match="free combinations"):
        build_synthetic({**spec, "groups": spec["groups"] + [{"identity": ["texture", "border"], "classes": 1,
                                                              "images": 2}]}, tmp_path / "c")


def test_classes_are_distinct_combinations_of_their_identity_factors():
    classes = synthetic.class_identities(["shape", "texture"], 12, seed=0, values={"shape": ["disk", "ring"]})
    assert len({tuple(c.values()) for c in classes}) == 12
    assert {c["shape"] for c in classes} <= {"disk", "ring"}
    assert all(set(c) == {"shape", "texture"} for c in classes)


def test_every_image_of_a_class_differs():
    # pose, scale, clutter, noise and the free factor (texture) are drawn per image
    identity = {"shape": "square", "colour": "red"}
    images = [synthetic.render(identity, np.random.default_rng(i)) for i in range(20)]
    assert len({im.tobytes() for im in images}) == 20


def test_too_many_classes_and_unknown_factors_are_errors():
    with pytest.raises(ValueError, match="free combinations"):
        synthetic.class_identities(["shape"], 9, seed=0)
    with pytest.raises(ValueError, match="unknown synthetic factor"):
        synthetic.class_identities(["size"], 2, seed=0)
    with pytest.raises(ValueError, match="unknown shape value"):
        synthetic.class_identities(["shape"], 1, seed=0, values={"shape": ["hexagon"]})


def test_optional_factors_appear_only_where_named():
    identity = {"shape": "disk", "colour": "red"}
    plain = synthetic.render(identity, np.random.default_rng(0))
    assert np.array_equal(plain, synthetic.render(identity, np.random.default_rng(0), nuisance=()))
    outlined = synthetic.render({**identity, "border": "thick"}, np.random.default_rng(0))
    assert not np.array_equal(plain, outlined)
    classes = synthetic.class_identities(["border", "background"], 36, seed=0)
    assert len({tuple(c.values()) for c in classes}) == 36
