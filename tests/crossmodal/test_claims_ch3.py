"""Chapter 3's claims on the thesis's own numbers: each holds there (spec chapter3.md 10.1), so the
encoding says what the thesis says; on a reproduction without SSAH those on its rows are n/a."""

import pandas as pd
import pytest

from judged_claims import judged
from retrieval_bench.core.claims import load_claims
from retrieval_bench.core.reference import thesis_table

TABLES = ("table_3_1", "table_3_2", "table_3_3")


def thesis_as_reproduced(drop=()) -> dict[str, pd.DataFrame]:
    """Each table as if reproduced with the thesis's values (one seed), less the rows in `drop`."""
    out = {}
    for name in TABLES:
        frame = thesis_table(name).rename(columns={"value": "thesis"})
        frame = frame.assign(reproduced=frame.thesis, seed_0=frame.thesis)
        frame.loc[frame.configuration.isin(drop), ["reproduced", "seed_0"]] = float("nan")
        out[name] = frame
    return out


CHAPTER_3 = [c["id"] for c in load_claims() if c["table"] in TABLES]


def test_the_26_claims_hold_on_the_thesis_numbers(tmp_path):
    frame = judged(thesis_as_reproduced(), tmp_path)
    assert len(CHAPTER_3) == 26
    assert (frame.loc[CHAPTER_3, "thesis"] == "holds").all()
    assert (frame.loc[CHAPTER_3, "thesis_as_expected"] == "yes").all()


@pytest.mark.parametrize("claim", ["t32_ours_beats_ssah", "t32_ssah_beats_dcmh", "t32_nus_harder_ssah"])
def test_claims_on_the_published_only_ssah_rows_are_not_applicable(tmp_path, claim):
    frame = judged(thesis_as_reproduced(drop=("ssah",)), tmp_path, scale="mini")
    assert frame.loc[claim, "verdict"] == "n/a"
    assert frame.loc["t32_ours_beats_dcmh", "verdict"] == "holds (1 seed)"
