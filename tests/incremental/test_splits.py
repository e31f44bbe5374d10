import pandas as pd
import pytest

from retrieval_bench.studies.incremental.splits import make_split, statistics


def manifest(counts, official=None):
    rows = []
    for c, n in enumerate(counts, 1):
        for i in range(n):
            split = "" if official is None else ("train" if i < official else "test")
            rows.append({"path": f"images/{c:03d}/{i:03d}.jpg", "class_id": c, "class_name": f"c{c}", "split": split})
    return pd.DataFrame(rows)


def test_per_class_fraction_takes_floor_of_sixty_percent_per_class():
    frame = make_split(manifest([10, 7, 13, 5]), {"kind": "per_class_fraction", "train_fraction": 0.6, "seed": 0},
                       [2, 2])
    train = frame[frame.split == "train"].groupby("class_id").size().to_dict()
    assert train == {1: 6, 2: 4, 3: 7, 4: 3}
    stats = statistics(frame).set_index(["group", "split"])["images"].to_dict()
    assert stats == {(0, "train"): 10, (0, "test"): 7, (1, "train"): 10, (1, "test"): 8}


def test_split_is_seeded_and_deterministic():
    spec = {"kind": "per_class_fraction", "train_fraction": 0.6, "seed": 3}
    a = make_split(manifest([20, 20]), spec, [1, 1])
    b = make_split(manifest([20, 20]).sample(frac=1, random_state=1), spec, [1, 1])
    def key(frame):
        return sorted(frame[frame.split == "train"].path)

    assert key(a) == key(b)
    assert key(a) != key(make_split(manifest([20, 20]), {**spec, "seed": 4}, [1, 1]))


def test_groups_follow_official_class_order_and_extra_classes_are_dropped():
    frame = make_split(manifest([4] * 6, official=2), {"kind": "official"}, [3, 2])
    assert sorted(frame[frame.group == 0].class_id.unique()) == [1, 2, 3]
    assert sorted(frame[frame.group == 1].class_id.unique()) == [4, 5]
    assert 6 not in set(frame.class_id)
    assert sorted(frame.label.unique()) == [0, 1, 2, 3, 4]
    assert (frame.groupby("split").size() == 10).all()


def test_official_split_required_when_asked():
    with pytest.raises(ValueError, match="official split"):
        make_split(manifest([4, 4]), {"kind": "official"}, [1, 1])


def test_too_few_classes_is_an_error():
    with pytest.raises(ValueError, match="need 5 classes"):
        make_split(manifest([4, 4]), {"kind": "official"}, [3, 2])
