"""The verdict-stability measurement: halves of the seeds judged apart, by the bound rule and by unanimity."""

import pandas as pd
import pytest

from retrieval_bench.core.stability import halves, stability, summary, with_seeds, write_stability


def table_5_2(seeds: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for configuration, values in seeds.items():
        row = {"configuration": configuration, "class_group": "old", "metric": "recall@1",
               "reproduced": sum(values) / len(values), "thesis": 50.0, "seeds": len(values)}
        row.update({f"seed_{s}": v for s, v in enumerate(values)})
        rows.append(row)
    return pd.DataFrame(rows)


# Table 5.2's old-class Recall@1 on 6 seeds: joint far above everyone on every seed (a clear hold);
# mmd above l2 by about 1 point on seeds 0-2 (with spread) and below it on seeds 3-5
SIX_SEEDS = {"finetune": [30.0, 31.0, 29.0, 30.0, 32.0, 31.0], "lwf": [40.0] * 6, "alasso": [35.0] * 6,
             "ewc": [45.0] * 6, "l2": [50.0] * 6, "mmd": [50.2, 51.5, 50.9, 49.8, 48.0, 49.0],
             "joint": [70.0, 71.0, 72.0, 70.5, 71.5, 72.5]}


def test_halves_are_disjoint_and_of_one_size():
    assert halves(["seed_0", "seed_1", "seed_2", "seed_3"]) == (["seed_0", "seed_1"], ["seed_2", "seed_3"])
    assert halves([f"seed_{s}" for s in range(5)]) == (["seed_0", "seed_1"], ["seed_3", "seed_4"])


def test_with_seeds_recomputes_the_mean_of_the_kept_seeds():
    kept = with_seeds(table_5_2(SIX_SEEDS), ["seed_0", "seed_1"])
    assert [c for c in kept.columns if c.startswith("seed_")] == ["seed_0", "seed_1"]
    assert kept.set_index("configuration").loc["joint", "reproduced"] == 70.5 and set(kept.seeds) == {2}


def test_each_half_and_all_seeds_are_judged_by_both_rules():
    frame = stability({"table_5_2": table_5_2(SIX_SEEDS)}, "mini").set_index("id")
    joint = frame.loc["joint_upper_bound_cub"]
    assert (joint.bound_first, joint.bound_second, joint.bound_all) == ("holds", "holds", "holds")
    assert (joint.unanimity_first, joint.unanimity_second) == ("holds", "holds")
    assert joint.seeds_first == joint.seeds_second == "3" and joint.seeds_all == "6"
    assert joint.first_half == "0, 1, 2" and joint.second_half == "3, 4, 5"
    ours = frame.loc["ours_keeps_most_cub"]  # mmd - l2: +0.2, +1.5, +0.9 then -0.2, -2.0, -1.0
    assert (ours.unanimity_first, ours.unanimity_second) == ("holds", "fails")  # the old rule contradicts itself
    assert ours.bound_first == "inconclusive" and ours.bound_all == "inconclusive"
    counts = summary(frame.reset_index()).iloc[0]
    assert counts["chapter"] == "5" and counts["halves (seeds)"] == "0, 1, 2 / 3, 4, 5"
    assert counts["holds on one half, fails on the other: bound / unanimity"].endswith("/ 1")


def test_tables_of_one_seed_are_refused_with_the_fix(tmp_path):
    path = tmp_path / "table_5_2.csv"
    table_5_2({c: v[:1] for c, v in SIX_SEEDS.items()}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"fewer than 2 seeds cannot be split in halves: table_5_2.*seeds=\["):
        write_stability([path], tmp_path / "stability.md", "mini", {}, "a test machine")


def test_the_measurement_is_written_as_markdown_and_csv(tmp_path):
    path = tmp_path / "table_5_2.csv"
    table_5_2(SIX_SEEDS).to_csv(path, index=False)
    statistics = tmp_path / "table_5_1.csv"  # dataset statistics: no seeds, kept as they are
    pd.DataFrame([{"protocol": "cub_onestep", "class_group": "old", "split": "test", "images": 10}]).to_csv(
        statistics, index=False)
    write_stability([path, statistics], tmp_path / "stability.md", "mini", {}, "a test machine")
    text = (tmp_path / "stability.md").read_text()
    assert text.startswith("Measured on a test machine.") and "(`joint_upper_bound_cub`)" in text
    assert set(pd.read_csv(tmp_path / "stability.csv").id) >= {"joint_upper_bound_cub", "ours_keeps_most_cub"}


def test_each_chapter_set_is_written_to_its_own_file_by_default(tmp_path, monkeypatch):
    # chapters are measured on different numbers of seeds (5 on 10, 6 and 7 on 5): one file each
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "table_5_2.csv"
    table_5_2(SIX_SEEDS).to_csv(path, index=False)
    write_stability([path], None, "mini", {}, "a test machine")
    assert (tmp_path / "reports" / "mini" / "verdict_stability_5.md").is_file()
    assert (tmp_path / "reports" / "mini" / "verdict_stability_5.csv").is_file()
