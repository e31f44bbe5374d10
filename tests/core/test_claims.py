import pandas as pd
import pytest

from retrieval_bench.core.claims import check_claims, evaluate, judge, load_claims, seeds_needed, verdict_counts


def one_step(values):
    return pd.DataFrame([{"configuration": c, "class_group": "old", "metric": "recall@1", "reproduced": v,
                          "thesis": v + 1} for c, v in values.items()])


def test_extreme_claim_holds_and_fails():
    claim = {"type": "extreme", "cell": {"class_group": "old", "metric": "recall@1"},
             "among": ["finetune", "mmd"], "highest": "mmd"}
    assert evaluate(claim, one_step({"finetune": 30.0, "mmd": 50.0}), "reproduced")[:2] == (True, 20.0)
    holds, margin, numbers = evaluate(claim, one_step({"finetune": 60.0, "mmd": 50.0}), "reproduced")
    assert holds is False and margin == -10.0 and "finetune 60.00" in numbers
    assert evaluate(claim, one_step({"finetune": 50.0, "mmd": 50.0}), "reproduced")[:2] == (True, 0.0)  # a tie


def test_least_degradation_per_task():
    rows = [("base", 0, 80.0), ("a", 1, 70.0), ("a", 2, 60.0), ("b", 1, 78.0), ("b", 2, 76.0)]
    table = pd.DataFrame([{"configuration": c, "task": t, "class_group": 0, "metric": "recall@1",
                           "reproduced": v} for c, t, v in rows])
    claim = {"type": "least_degradation", "cell": {"class_group": 0, "metric": "recall@1"},
             "among": ["a", "b"], "expect": "b"}
    holds, margin, numbers = evaluate(claim, table, "reproduced")
    assert holds and margin == 8.0 and "a 10.00; b 2.00" in numbers


def test_monotonic_and_missing_rows(tmp_path):
    table = one_step({"x": 1.0, "y": 2.0})
    claim = {"type": "monotonic", "order": "increasing",
             "sequence": [{"configuration": "x", "class_group": "old", "metric": "recall@1"},
                          {"configuration": "y", "class_group": "old", "metric": "recall@1"}]}
    assert evaluate(claim, table, "reproduced")[:2] == (True, 1.0)
    claim["order"] = "decreasing"
    assert evaluate(claim, table, "reproduced")[:2] == (False, -1.0)
    path = tmp_path / "table_5_2.csv"
    one_step({"finetune": 30.0}).to_csv(path, index=False)  # most rows missing: n/a, not a crash
    frame = check_claims([path], tmp_path / "claims.csv")
    assert set(frame.verdict) == {"n/a"}


@pytest.mark.parametrize("claim", load_claims(), ids=lambda c: c["id"])
def test_every_claim_names_its_table_and_a_known_type(claim):
    import yaml

    from tiny_project import ROOT

    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert claim["table"] in {**shipped["tables"], **shipped["figures"]}
    assert claim["type"] in {"extreme", "greater", "monotonic", "least_degradation", "closer", "similar", "approx",
                             "difference", "pairs", "balanced", "pairs_over_rows", "drops",
                             "larger_drop", "ratio", "extreme_over_rows"}
    assert claim.get("expect_on_thesis", "holds") in {"holds", "fails"}


def test_a_ratio_claim_is_a_relative_gain_within_its_tolerance():
    table = pd.DataFrame([{"configuration": c, "reproduced": v} for c, v in [("ours", 83.3), ("ssah", 79.0)]])
    claim = {"type": "ratio", "x": {"configuration": "ours"}, "y": {"configuration": "ssah"}, "value": 5.4,
             "tolerance": 0.05}
    holds, margin, numbers = evaluate(claim, table, "reproduced")
    assert holds and margin == pytest.approx(0.05 - abs(100 * (83.3 / 79.0 - 1) - 5.4), abs=1e-6)
    assert "+5.44 %" in numbers
    assert not evaluate({**claim, "value": 6.0}, table, "reproduced")[0]


def test_least_degradation_with_a_missing_method_is_not_applicable(tmp_path):
    table = pd.DataFrame([{"configuration": c, "task": t, "class_group": 0, "metric": "recall@1",
                           "reproduced": v, "thesis": v} for c, t, v in [("base", 0, 80.0), ("mmd", 1, 70.0)]])
    path = tmp_path / "table_5_9.csv"
    table.to_csv(path, index=False)
    frame = check_claims([path], tmp_path / "claims.csv")
    degradation = frame[frame.id == "ours_degrades_least_cub"]
    assert degradation.verdict.tolist() == ["n/a"] and "finetune" in degradation.numbers.iloc[0]


def seeds_table(seeds: dict[str, list[float]]) -> pd.DataFrame:
    """Table 5.2's old-class Recall@1 with one value per seed per method."""
    rows = []
    for configuration, values in seeds.items():
        row = {"configuration": configuration, "class_group": "old", "metric": "recall@1",
               "reproduced": sum(values) / len(values), "thesis": 50.0}
        row.update({f"seed_{s}": v for s, v in enumerate(values)})
        rows.append(row)
    return pd.DataFrame(rows)


def test_claims_are_judged_on_every_seed_with_their_margins(tmp_path):
    table = seeds_table({"finetune": [30.0, 45.0, 20.0], "lwf": [50.0, 40.0, 52.0], "alasso": [31.0, 46.0, 35.0],
                         "ewc": [45.0, 47.0, 48.0], "l2": [55.0, 56.0, 57.0], "mmd": [60.0, 58.0, 59.0],
                         "joint": [70.0, 71.0, 72.0]})
    path = tmp_path / "table_5_2.csv"
    table.to_csv(path, index=False)
    frame = check_claims([path], tmp_path / "claims.csv").set_index("id")
    # finetune is lowest on seeds 0 and 2 but not on seed 1 (lwf 40 < 45): inconclusive, whatever the mean says
    forgets = frame.loc["finetune_forgets_most_cub"]
    assert forgets.verdict == "inconclusive" and forgets.seeds_holding == "2/3"
    assert [forgets[f"margin_seed_{s}"] for s in range(3)] == [1.0, -5.0, 15.0]
    assert frame.loc["ours_keeps_most_cub"].verdict == "holds"  # mmd highest on every seed
    assert frame.loc["ours_keeps_most_cub"].margin_seed_1 == 2.0  # mmd 58 - l2 56
    assert frame.loc["joint_upper_bound_cub"].verdict == "holds"
    saved = pd.read_csv(tmp_path / "claims.csv")
    assert {"verdict", "seeds_holding", "margin", "margin_seed_0", "margin_seed_2"} <= set(saved.columns)
    assert verdict_counts(saved).loc["5"].to_dict() == {"holds": 2, "inconclusive": 1}


def test_all_seeds_failing_is_a_failure_and_one_seed_says_so(tmp_path):
    low = {"finetune": [60.0, 61.0, 62.0], "lwf": [50.0, 40.0, 45.0], "alasso": [31.0, 46.0, 33.0],
           "ewc": [45.0, 47.0, 46.0], "l2": [55.0, 56.0, 57.0], "mmd": [58.0, 57.0, 59.0], "joint": [70.0, 71.0, 72.0]}
    path = tmp_path / "table_5_2.csv"
    seeds_table(low).to_csv(path, index=False)
    frame = check_claims([path], tmp_path / "claims.csv").set_index("id")
    forgets = frame.loc["finetune_forgets_most_cub"]  # margins -29, -21, -29: bound_high -16.2
    assert forgets.verdict == "fails" and forgets.n_seeds == 3 and forgets.bound_high < 0
    seeds_table({c: v[:1] for c, v in low.items()}).to_csv(path, index=False)
    frame = check_claims([path], tmp_path / "claims.csv").set_index("id")
    assert frame.loc["finetune_forgets_most_cub"].verdict == "fails (1 seed)"
    assert frame.loc["joint_upper_bound_cub"].verdict == "holds (1 seed)"


def test_a_clear_hold_a_clear_fail_and_the_bounds():
    held = judge([2.0, 3.0, 4.0])  # mean 3, sd 1, t(0.95, 2) = 2.920: bounds 3 -+ 1.686
    assert held.word == "holds" and held.n_seeds == 3
    assert held.bound_low == pytest.approx(1.314, abs=1e-3) and held.bound_high == pytest.approx(4.686, abs=1e-3)
    failed = judge([-2.0, -3.0, -4.0])
    assert failed.word == "fails" and failed.bound_high == pytest.approx(-1.314, abs=1e-3)
    assert judge([-0.31, -0.31, -0.31]).word == "fails"  # no spread: the bound is the mean


def test_every_seed_holding_is_not_enough_when_the_spread_is_wide():
    # the rule before held these (every seed positive); the bound does not exclude 0
    verdict = judge([0.1, 5.0, 9.0])
    assert verdict.word == "inconclusive" and verdict.bound_low < 0 < verdict.bound_high
    assert judge([0.1, 5.0, 9.0, 4.0, 6.0, 5.0, 3.0, 7.0, 4.5, 5.5]).word == "holds"  # more seeds decide it


def test_a_tie_holds_a_non_strict_claim_and_fails_a_strict_one():
    assert judge([0.0, 0.0, 0.0], strict=False).word == "holds"   # e.g. similar: exactly at the tolerance
    assert judge([0.0, 0.0, 0.0], strict=True).word == "fails"    # e.g. greater: equal is not greater
    assert judge([-1.0, 1.0, 0.0]).word == "inconclusive"
    assert judge([0.0], strict=False).word == "holds (1 seed)"


def test_one_seed_gives_the_sign_and_no_bounds():
    one = judge([1.5])
    assert one.word == "holds (1 seed)" and one.bound_low is None and one.bound_high is None
    assert judge([-1.5]).word == "fails (1 seed)"
    with pytest.raises(ValueError, match="at least one seed"):
        judge([])


def test_seeds_needed_follows_the_mean_and_the_spread():
    assert seeds_needed(3.0, 1.0) == "3"  # 2 seeds: t(0.95, 1) / sqrt 2 = 4.46 > 3; 3 seeds: 1.69 < 3
    assert seeds_needed(1.0, 1.0) == "5"  # 4 seeds: 1.18 > 1; 5 seeds: 0.95 < 1
    assert int(seeds_needed(0.5, 1.0)) > int(seeds_needed(1.0, 1.0))  # half the mean, about 4x the seeds
    assert seeds_needed(0.0, 1.0) == "never (mean margin 0)" and seeds_needed(2.0, 0.0) == "2"
    assert seeds_needed(0.001, 1.0) == "more than 1000"
    mean, sd = 1.0, 1.0
    n = int(seeds_needed(mean, sd))
    assert judge([mean + sd * z for z in spread(n)]).word == "holds"          # at n seeds the bound clears 0
    assert judge([mean + sd * z for z in spread(n - 1)]).word == "inconclusive"  # and one fewer does not


def spread(n: int) -> list[float]:
    """n values of mean 0 and sample standard deviation exactly 1."""
    import statistics

    raw = [i - (n - 1) / 2 for i in range(n)]
    sd = statistics.stdev(raw)
    return [v / sd for v in raw]


def over_table() -> pd.DataFrame:
    """A table keyed by data set and code length; `ref` has no 128-bit cell (a length it does not define)."""
    rows = [("ldph", "a", 32, 60.0), ("ref", "a", 32, 50.0), ("ldph", "a", 64, 70.0), ("ref", "a", 64, 72.0),
            ("ldph", "b", 32, 40.0), ("ref", "b", 32, 30.0), ("ldph", "b", 128, 90.0)]
    return pd.DataFrame([{"configuration": c, "dataset": d, "bits": b, "metric": "map", "reproduced": v}
                         for c, d, b, v in rows])


def test_pairs_over_several_columns_skip_missing_cells_and_count_the_cells_that_hold():
    claim = {"id": "x", "type": "pairs_over_rows", "over": ["dataset", "bits"], "cell": {"metric": "map"},
             "pairs": [[{"configuration": "ldph"}, {"configuration": "ref"}]]}
    holds, margin, numbers = evaluate(claim, over_table(), "reproduced")
    assert (holds, margin) == (False, -2.0)
    assert numbers.startswith("holds in 2 of 3 cells") and "a 64" in numbers


def test_extreme_over_rows_wants_a_highest_row_at_every_combination():
    claim = {"id": "x", "type": "extreme_over_rows", "over": ["dataset", "bits"], "among": ["ldph", "ref"],
             "highest_in": ["ldph"]}
    holds, margin, numbers = evaluate(claim, over_table(), "reproduced")
    assert (holds, margin) == (False, -2.0) and "best at a 64: ref 72.00" in numbers
    table = over_table()
    table.loc[(table.configuration == "ref") & (table.bits == 64), "reproduced"] = 65.0
    assert evaluate(claim, table, "reproduced")[:2] == (True, 5.0)


def test_a_row_the_claim_names_that_the_table_lacks_makes_it_not_applicable():
    claim = {"id": "x", "type": "pairs_over_rows", "over": ["dataset", "bits"], "cell": {"metric": "map"},
             "pairs": [[{"configuration": "ldph"}, {"configuration": "ref"}],
                       [{"configuration": "ldph_typo"}, {"configuration": "ref"}]]}
    import pytest

    with pytest.raises(KeyError, match="ldph_typo"):
        evaluate(claim, over_table(), "reproduced")
