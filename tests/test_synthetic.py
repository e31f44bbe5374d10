import numpy as np
import pytest

from incremental_retrieval.data import synthetic


def test_images_are_deterministic():
    a = synthetic.generate_group(["shape", "colour"], 3, 4, seed=5)[1]
    b = synthetic.generate_group(["shape", "colour"], 3, 4, seed=5)[1]
    assert all(np.array_equal(x, y) for cls_a, cls_b in zip(a, b) for x, y in zip(cls_a, cls_b))
    assert a[0][0].shape == (32, 32, 3) and a[0][0].dtype == np.uint8


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
    with pytest.raises(ValueError, match="combinations"):
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
