"""Chapter 7 claims: the new claim types (pairs, balanced, cells of another
table, the figures' drops and pairs_over_rows), and every chapter 7 claim of
claims.yaml on the thesis's own numbers (Tables 7.1-7.6, the base model of L2399)."""

import pandas as pd
import pytest

from judged_claims import judged
from retrieval_bench.core import registry
from retrieval_bench.core.claims import chapter_of, check_claims, evaluate, figure_table, load_claims
from retrieval_bench.core.reference import thesis_table

TABLES = ["table_7_1", "table_7_2", "table_7_3", "table_7_4", "table_7_5", "table_7_6", "table_7_base"]
FIGURES = ["figure_7_8_noise", "figure_7_8_order"]
# how the claims read the two figures' data CSVs: their kinds' claim_data (the shipped config's kinds)
FIGURE_DATA = {"figure_7_8_noise": registry.figure_kind("noise_sensitivity").claim_data,
               "figure_7_8_order": registry.figure_kind("order_evolution").claim_data}


def cells(values: dict, **keys) -> pd.DataFrame:
    """One (dataset, set) per frame: configuration -> value (reproduced; thesis = value + 1)."""
    keys = {"dataset": "cub", "set": "H", "metric": "recall@1", **keys}
    return pd.DataFrame([{"configuration": c, **keys, "reproduced": v, "thesis": v + 1} for c, v in values.items()])


def h(configuration, dataset="cub", **more):
    return {"configuration": configuration, "dataset": dataset, "set": "H", **more}


def as_table(long: pd.DataFrame) -> pd.DataFrame:
    """A table CSV as tables.py writes it, one seed whose numbers are the thesis's."""
    return long.rename(columns={"value": "reproduced"}).assign(
        thesis=long["value"], reproduced_std=None, seeds=1, seed_0=long["value"])


# ---------------------------------------------------------------- the new claim types

def test_pairs_every_left_above_its_right_and_a_tie_fails():
    table = cells({"kd_bn_l1": 65.9, "kd_l1": 49.6, "kd_bn_kl": 68.3, "kd_kl": 56.7})
    claim = {"type": "pairs", "pairs": [[h("kd_bn_l1"), h("kd_l1")], [h("kd_bn_kl"), h("kd_kl")]]}
    holds, margin, numbers = evaluate(claim, table, "reproduced")
    assert holds and margin == pytest.approx(11.6)
    assert numbers == "kd_bn_l1 65.90 > kd_l1 49.60; kd_bn_kl 68.30 > kd_kl 56.70"
    flipped = {"type": "pairs", "pairs": [[h("kd_bn_l1"), h("kd_l1")], [h("kd_kl"), h("kd_bn_kl")]]}
    assert evaluate(flipped, table, "reproduced")[:2] == (False, -11.6)  # one pair the wrong way round
    assert evaluate(claim, cells({"kd_bn_l1": 50.0, "kd_l1": 50.0, "kd_bn_kl": 60.0, "kd_kl": 50.0}),
                    "reproduced")[:2] == (False, 0.0)  # strict: a tie is not above


def test_balanced_is_the_highest_mean_over_cells():
    table = pd.concat([cells({"a": 70.0, "b": 60.0, "c": 50.0}), cells({"a": 60.0, "b": 74.0, "c": 90.0},
                                                                       dataset="dogs")])
    claim = {"type": "balanced", "cells": [{"dataset": "cub", "set": "H"}, {"dataset": "dogs", "set": "H"}],
             "among": ["a", "b", "c"], "expect": "c"}
    holds, margin, numbers = evaluate(claim, table, "reproduced")  # means a 65, b 67, c 70
    assert holds and margin == 3.0 and numbers == "a 65.00; b 67.00; c 70.00"
    assert evaluate({**claim, "expect": "b"}, table, "reproduced")[:2] == (False, -3.0)  # highest on neither
    assert evaluate({**claim, "among": ["b", "c"], "expect": "c"}, table, "thesis")[:2] == (True, 3.0)
    b_cub = (table.configuration == "b") & (table.dataset == "cub")
    tie = table.assign(reproduced=table.reproduced.where(~b_cub, 66.0))
    assert evaluate(claim, tie, "reproduced")[:2] == (True, 0.0)  # b 70 = c 70: a tie holds, as `extreme`


def test_a_cell_of_another_table_and_the_table_missing(tmp_path):
    after_dogs, after_cars = cells({"sft": 51.4, "dkd_bn_kl": 67.0}), cells({"sft": 40.0, "dkd_bn_kl": 60.7})
    claim = {"type": "pairs", "pairs": [[h("sft", table="table_7_1"), h("sft")],
                                        [h("dkd_bn_kl", table="table_7_1"), h("dkd_bn_kl")]]}
    holds, margin, numbers = evaluate(claim, after_cars, "reproduced", tables={"table_7_1": after_dogs})
    assert holds and margin == pytest.approx(6.3)
    assert numbers == "sft (T7.1) 51.40 > sft 40.00; dkd_bn_kl (T7.1) 67.00 > dkd_bn_kl 60.70"
    with pytest.raises(KeyError, match="table_7_1 was not built"):
        evaluate(claim, after_cars, "reproduced")
    # through check_claims: the claim's own table and the other one, or n/a without the other one
    frame = judged({"table_7_1": as_table(thesis_table("table_7_1")),
                    "table_7_2": as_table(thesis_table("table_7_2"))}, tmp_path / "both")
    drift = frame.loc["cars_drift_larger_than_dogs"]
    assert drift.verdict == "holds (1 seed)" and drift.margin == pytest.approx(67.0 - 60.7)
    assert drift.thesis == "holds" and "sft (T7.1) 51.40 > sft (T7.2) 40.00" in drift.numbers
    alone = judged({"table_7_2": as_table(thesis_table("table_7_2"))}, tmp_path / "alone")
    drift = alone.loc["cars_drift_larger_than_dogs"]
    assert (drift.verdict, drift.thesis, drift.thesis_as_expected) == ("n/a", "n/a", "n/a")
    assert "table_7_1 was not built" in drift.numbers
    assert alone.loc["t72_dkd_kl_best_balanced", "verdict"] == "holds (1 seed)"  # the rest is judged


# CUB s after tasks 0-2: order 1 as T7.1 / T7.3 give it (L2399), order 2's last point made up
ORDERS = {"cub_dogs_cars": [74.8, 72.0, 62.4], "cub_cars_dogs": [74.8, 64.6, 60.0]}


def test_drops_increase_or_decrease_from_task_to_task():
    table = pd.DataFrame([{"order": o, "configuration": "dkd_bn_kl", "task": t, "reproduced": v}
                          for o, values in ORDERS.items() for t, v in enumerate(values)])
    slow_fast = {"type": "drops", "cell": {"order": "cub_dogs_cars", "configuration": "dkd_bn_kl"},
                 "tasks": [0, 1, 2], "order": "increasing"}
    holds, margin, numbers = evaluate(slow_fast, table, "reproduced")
    assert holds and margin == pytest.approx(9.6 - 2.8) and numbers == "74.80 -> 72.00 -> 62.40; drops 2.80, 9.60"
    fast_slow = {**slow_fast, "cell": {"order": "cub_cars_dogs", "configuration": "dkd_bn_kl"}}
    assert evaluate(fast_slow, table, "reproduced")[:2] == (False, pytest.approx(4.6 - 10.2))
    assert evaluate({**fast_slow, "order": "decreasing"}, table, "reproduced")[:2] == (True, pytest.approx(5.6))


def test_larger_drop_compares_forgetting_not_the_level_reached():
    # CUB ends lowest (hard data set) but lost little; Dogs ends higher and lost more
    before, after_dogs = cells({"sft": 50.0}), cells({"sft": 80.0}, dataset="dogs")
    after_cars = pd.concat([cells({"sft": 45.0}), cells({"sft": 60.0}, dataset="dogs")])
    claim = {"type": "larger_drop", "larger": [h("sft", table="table_7_base"), h("sft")],
             "smaller": [h("sft", "dogs", table="table_7_1"), h("sft", "dogs")]}
    tables = {"table_7_base": before, "table_7_1": after_dogs}
    holds, margin, numbers = evaluate(claim, after_cars, "reproduced", tables=tables)
    assert (holds, margin) == (False, -15.0)  # CUB lost 5, Dogs 20: the first task did not forget most
    assert numbers == "sft (T7.base) 50.00 -> sft 45.00 (drop 5.00); sft (T7.1) 80.00 -> sft 60.00 (drop 20.00)"
    swapped = {**claim, "larger": claim["smaller"], "smaller": claim["larger"]}
    assert evaluate(swapped, after_cars, "reproduced", tables=tables)[:2] == (True, 15.0)
    tie = pd.concat([cells({"sft": 30.0}), cells({"sft": 60.0}, dataset="dogs")])
    assert evaluate(claim, tie, "reproduced", tables=tables)[:2] == (False, 0.0)  # strict: equal drops


def test_first_task_forgetting_is_judged_as_drops_on_the_thesis_numbers(tmp_path):
    """L2399 speaks of forgetting: CUB from the base model to after Cars against Dogs from after Dogs
    (T7.1) to after Cars, not the three H levels after Cars (Cars has just been trained)."""
    frame = judged(thesis_tables(), tmp_path)
    t71, t73 = (thesis_table(t).set_index(["configuration", "dataset", "set"]).value
                for t in ("table_7_1", "table_7_3"))
    for configuration, cub_drop, dogs_drop in [("sft", 39.1, 28.5), ("dkd_bn_kl", 7.1, 5.1)]:
        assert 67.56 - t73[configuration, "cub", "H"] == pytest.approx(cub_drop, abs=0.1)
        assert t71[configuration, "dogs", "H"] - t73[configuration, "dogs", "H"] == pytest.approx(dogs_drop, abs=0.1)
        claim = "t73_first_task_forgets_most_" + ("sft" if configuration == "sft" else "dkd")
        assert frame.loc[claim, "margin"] == pytest.approx(cub_drop - dogs_drop, abs=0.1)


def test_pairs_over_rows_at_every_value_but_the_skipped():
    rows = [(0.0, 0.0, 0.0), (0.5, 0.30, 0.10), (1.0, 0.50, 0.45)]  # noise ratio, retrieval, classification
    table = pd.DataFrame([{"noise_ratio": r, "measure": m, "reproduced": v} for r, *values in rows
                          for m, v in zip(["retrieval", "classification"], values)])
    claim = {"type": "pairs_over_rows", "over": "noise_ratio", "skip": [0], "left": {"measure": "retrieval"},
             "right": {"measure": "classification"}}
    holds, margin, numbers = evaluate(claim, table, "reproduced")
    assert holds and margin == 0.05 and numbers == "retrieval 0.5 0.30 > classification 0.5 0.10; " \
        "retrieval 1.0 0.50 > classification 1.0 0.45"
    assert evaluate({**claim, "skip": []}, table, "reproduced")[:2] == (False, 0.0)  # at r = 0 both lose nothing
    with pytest.raises(KeyError):
        evaluate({**claim, "skip": [0, 0.5, 1]}, table, "reproduced")


def test_figure_csvs_are_judged_per_seed_without_thesis_numbers(tmp_path):
    noise = pd.DataFrame([{"noise_ratio": r, "measure": m, "value": 100 * (1 - d), "degradation": d, "seed": s}
                          for s, by_ratio in enumerate([[(0.0, 0.0, 0.0), (0.5, 0.3, 0.1)],
                                                         [(0.0, 0.0, 0.0), (0.5, 0.2, 0.25)]])
                          for r, *d_of in by_ratio for m, d in zip(["retrieval", "classification"], d_of)])
    order = pd.DataFrame([{"order": o, "configuration": "dkd_bn_kl", "task": t, "value": v + s, "seed": s}
                          for s in (0, 1)
                          for o, values in ORDERS.items() for t, v in enumerate(values)])
    noise.to_csv(tmp_path / "figure_7_8_noise.csv", index=False)
    order.to_csv(tmp_path / "figure_7_8_order.csv", index=False)
    frame = check_claims([tmp_path / "figure_7_8_noise.csv", tmp_path / "figure_7_8_order.csv"],
                         tmp_path / "claims.csv", figures=FIGURE_DATA).set_index("id")
    assert set(frame.index) == {"f78_retrieval_more_sensitive_to_noise", "f78_order1_slow_then_fast",
                                "f78_order2_fast_then_slow"}
    assert set(frame.chapter) == {"7"} and set(frame.thesis) == {"n/a"} and set(frame.thesis_as_expected) == {"n/a"}
    sensitive = frame.loc["f78_retrieval_more_sensitive_to_noise"]
    # seed 0: 0.3 > 0.1; seed 1: 0.2 < 0.25; the mean 0.25 > 0.175
    assert sensitive.verdict == "inconclusive" and sensitive.seeds_holding == "1/2"
    assert (sensitive.margin_seed_0, sensitive.margin_seed_1, sensitive.margin) == \
        pytest.approx((0.2, -0.05, 0.075))
    assert frame.loc["f78_order1_slow_then_fast", "verdict"] == "holds"
    assert frame.loc["f78_order1_slow_then_fast", "margin"] == pytest.approx(6.8)
    assert frame.loc["f78_order2_fast_then_slow", "margin_seed_1"] == pytest.approx(5.6)
    shaped = figure_table(FIGURE_DATA["figure_7_8_order"], order)
    assert len(shaped) == 6 and shaped.reproduced.iloc[0] == pytest.approx(75.3)


def test_chapter_7_ids_are_chapter_7():
    assert {chapter_of(t) for t in ["table_7_1", "table_7_5", "table_7_base", "figure_7_8_noise"]} == {"7"}
    assert chapter_of("table_6_mt_cub") == "6"


# ---------------------------------------------------------------- the thesis's numbers

def test_reference_csvs_are_the_thesis_tables():
    for table in ["table_7_1", "table_7_2", "table_7_3", "table_7_4", "table_7_6", "table_7_base"]:
        long = thesis_table(table)
        assert list(long.columns) == ["configuration", "dataset", "set", "metric", "value"]
        assert set(long.metric) == {"recall@1"} and not long.duplicated(["configuration", "dataset", "set"]).any()
        wide = long.pivot(index=["configuration", "dataset"], columns="set", values="value")
        # the published H is the harmonic mean of the unrounded s and u: within the rounding (T7.6 case 5: 0.082)
        assert ((2 * wide.s * wide.u / (wide.s + wide.u) - wide.H).abs() < 0.1).all(), table
    t71, t76 = (thesis_table(t).set_index(["configuration", "dataset", "set"]).value
                for t in ("table_7_1", "table_7_6"))
    shared = ["sft", "kd_kl", "kd_bn_kl", "dkd_bn_kl", "joint"]  # T7.6's baseline, cases 1-2, ours, joint
    assert t76.loc[shared].equals(t71.loc[shared])
    assert thesis_table("table_7_base").set_index("set").value.to_dict() == {"s": 74.8, "u": 61.6, "H": 67.56}
    t75 = thesis_table("table_7_5").set_index(["configuration", "metric"]).value
    assert t75.to_dict() == {("noise", "inception_score"): 0.93, ("noise", "inception_score_split_std"): 0.01,
                             ("noise", "frechet_distance"): 401, ("generated", "inception_score"): 3.09,
                             ("generated", "inception_score_split_std"): 0.39, ("generated", "frechet_distance"): 198,
                             ("origin", "inception_score"): 5.24, ("origin", "inception_score_split_std"): 0.30,
                             ("origin", "frechet_distance"): 0}


def thesis_tables() -> dict[str, pd.DataFrame]:
    return {table: as_table(thesis_table(table)) for table in TABLES}


CH7 = [c for c in load_claims() if chapter_of(c["table"]) == "7"]


def test_every_chapter_7_claim_holds_on_the_thesis_numbers(tmp_path):
    frame = judged(thesis_tables(), tmp_path)
    with_numbers = [c for c in CH7 if c["table"] not in FIGURES]
    assert set(frame.index) >= {c["id"] for c in with_numbers} and len(with_numbers) == 54  # spec's 51, 2 split
    assert len(CH7) == 57 and all(c.get("expect_on_thesis", "holds") == "holds" for c in CH7)
    for claim in with_numbers:
        row = frame.loc[claim["id"]]
        assert (row.thesis, row.thesis_as_expected, row.verdict) == ("holds", "yes", "holds (1 seed)"), \
            (claim["id"], row.thesis_numbers)
        assert claim["lines"] and claim["text"], claim["id"]
    # margins the spec's numbers give by hand
    assert frame.loc["t71_dkd_kl_best_balanced", "margin"] == pytest.approx((67.0 + 80.0 - 66.0 - 78.1) / 2)
    assert frame.loc["cars_drift_larger_than_dogs", "margin"] == pytest.approx(67.0 - 60.7)
    assert frame.loc["t73_unseen_forgetting_too", "margin"] == pytest.approx(61.6 - 58.6)
    assert frame.loc["t73_kl_best_distance_in_dkd_dogs", "margin"] == pytest.approx(74.9 - 67.4)
    assert frame.loc["t73_dkd_last_task_close_to_joint", "margin"] == pytest.approx(2.0 - 0.3)
    assert frame.loc["t75_fid_order", "margin"] == pytest.approx(198)
    assert frame.loc["t76_joint_upper_bound_cub", "margin"] == pytest.approx(68.7 - 68.3)


def test_an_encoding_the_thesis_contradicts_is_flagged(tmp_path):
    tables = thesis_tables()
    t71 = tables["table_7_1"]
    # were kd_bn_l2 better balanced than dkd_bn_kl (mean 73.75 > 73.5), the claim would fail on the thesis
    t71.loc[(t71.configuration == "kd_bn_l2") & (t71.dataset == "dogs") & (t71.set == "H"), ["thesis"]] = 80.5
    frame = judged(tables, tmp_path)
    assert frame.loc["t71_dkd_kl_best_balanced", ["thesis", "thesis_as_expected"]].tolist() == ["fails", "no"]
    assert frame.loc["t71_dkd_kl_best_balanced", "verdict"] == "holds (1 seed)"  # the reproduced column is unchanged


def test_absolute_closeness_is_judged_at_thesis_scale_only(tmp_path):
    frame = judged(thesis_tables(), tmp_path, "mini")
    close = [c["id"] for c in CH7 if c.get("judged_at") == ["thesis"]]
    assert sorted(close) == ["t71_dkd_old_close_to_joint", "t73_dkd_last_task_close_to_joint",
                             "t76_case5_new_unchanged"]
    assert set(frame.loc[close, "verdict"]) == {"n/a"} and set(frame.loc[close, "thesis"]) == {"holds"}
    assert frame.loc["t71_dkd_kl_best_balanced", "verdict"] == "holds (1 seed)"
