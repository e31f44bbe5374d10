import pandas as pd
import pytest

from incremental_retrieval.claims import check_claims, evaluate, load_claims


def one_step(values):
    return pd.DataFrame([{"configuration": c, "class_group": "old", "metric": "recall@1", "reproduced": v,
                          "thesis": v + 1} for c, v in values.items()])


def test_extreme_claim_holds_and_fails():
    claim = {"type": "extreme", "cell": {"class_group": "old", "metric": "recall@1"},
             "among": ["finetune", "mmd"], "highest": "mmd"}
    assert evaluate(claim, one_step({"finetune": 30.0, "mmd": 50.0}), "reproduced")[0] is True
    holds, numbers = evaluate(claim, one_step({"finetune": 60.0, "mmd": 50.0}), "reproduced")
    assert holds is False and "finetune 60.00" in numbers


def test_least_degradation_per_task():
    rows = [("base", 0, 80.0), ("a", 1, 70.0), ("a", 2, 60.0), ("b", 1, 78.0), ("b", 2, 76.0)]
    table = pd.DataFrame([{"configuration": c, "task": t, "class_group": 0, "metric": "recall@1",
                           "reproduced": v} for c, t, v in rows])
    claim = {"type": "least_degradation", "cell": {"class_group": 0, "metric": "recall@1"},
             "among": ["a", "b"], "expect": "b"}
    holds, numbers = evaluate(claim, table, "reproduced")
    assert holds and "a 10.00; b 2.00" in numbers


def test_monotonic_and_missing_rows(tmp_path):
    table = one_step({"x": 1.0, "y": 2.0})
    claim = {"type": "monotonic", "order": "increasing",
             "sequence": [{"configuration": "x", "class_group": "old", "metric": "recall@1"},
                          {"configuration": "y", "class_group": "old", "metric": "recall@1"}]}
    assert evaluate(claim, table, "reproduced")[0] is True
    path = tmp_path / "table_5_2.csv"
    one_step({"finetune": 30.0}).to_csv(path, index=False)  # most rows missing: n/a, not a crash
    frame = check_claims([path], tmp_path / "claims.csv")
    assert set(frame.holds) == {"n/a"}


@pytest.mark.parametrize("claim", load_claims(), ids=lambda c: c["id"])
def test_every_claim_names_its_table_and_a_known_type(claim):
    assert claim["table"].startswith("table_5_")
    assert claim["type"] in {"extreme", "greater", "monotonic", "least_degradation"}


def test_least_degradation_with_a_missing_method_is_not_applicable(tmp_path):
    table = pd.DataFrame([{"configuration": c, "task": t, "class_group": 0, "metric": "recall@1",
                           "reproduced": v, "thesis": v} for c, t, v in [("base", 0, 80.0), ("mmd", 1, 70.0)]])
    path = tmp_path / "table_5_9.csv"
    table.to_csv(path, index=False)
    frame = check_claims([path], tmp_path / "claims.csv")
    degradation = frame[frame.id == "ours_degrades_least_cub"]
    assert degradation.holds.tolist() == ["n/a"] and "finetune" in degradation.numbers.iloc[0]
