"""`python -m retrieval_bench docs`: result blocks written from a reports folder, the prose left alone."""

from pathlib import Path

import pandas as pd
import pytest

from retrieval_bench.core import config as cfg
from retrieval_bench.core.docs import write_results

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reports(tmp_path):
    folder = tmp_path / "reports" / "mini"
    (folder / "tables").mkdir(parents=True)
    (folder / "tables" / "table_5_2.md").write_text(
        "# Table 5.2: Recall@K\n\nScale: **mini**.\n\n| configuration | old recall@1 |\n|---|---|\n"
        "| base | 53.10 ± 2.80 (79.41) |\n")
    pd.DataFrame([{"id": "a_claim", "chapter": "5", "table": "table_5_2", "claim": "x | y", "verdict": "holds",
                   "seeds_holding": "3/3", "margin": 1.0, "bound_low": 0.16, "bound_high": 1.84,
                   "seeds_needed": "3", "margin_seed_0": 0.5, "margin_seed_1": 1.5,
                   "margin_seed_2": 1.0},
                  {"id": "other", "chapter": "6", "table": "table_6_1", "claim": "z", "verdict": "fails",
                   "seeds_holding": "0/3", "margin": -1, "margin_seed_0": -1, "margin_seed_1": -1,
                   "margin_seed_2": -1}]).to_csv(folder / "claims.csv", index=False)
    (folder / "benchmark.md").write_text("# Benchmark\n\n12.5 images/s\n")
    return folder


def test_blocks_are_rewritten_from_the_reports_and_the_prose_is_kept(tmp_path, reports):
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "chapter5.md"
    page.write_text("Prose before.\n\n<!-- results: table table_5_2 -->\nstale 99.9\n<!-- /results -->\n\nBetween.\n\n"
                    "<!-- results: claims 5 -->\n<!-- /results -->\n\n<!-- results: verdicts -->\n<!-- /results -->\n"
                    "<!-- results: file benchmark.md -->\n<!-- /results -->\nAfter.\n")
    (docs / "untouched.md").write_text("No blocks here.\n")
    config = cfg.load(ROOT / "config.yaml")
    assert write_results(config, reports, docs, machine="a test machine") == [page]
    text = page.read_text()
    assert text.startswith("Prose before.") and "\nBetween.\n" in text and text.endswith("After.\n")
    assert "stale 99.9" not in text and "| base | 53.10 ± 2.80 (79.41) |" in text
    assert "seeds 0, 1, 2, on a test machine" in text and "from commit `" in text  # where the numbers came from
    assert "| x / y (`a_claim`) | table_5_2 | holds | 3/3 | 0.16 to 1.84 | 3 | 0.5 | 1.5 | 1.0 |" in text  # ch. 5 only
    assert "`other`" not in text.split("<!-- results: verdicts -->")[0]
    assert "12.5 images/s" in text
    assert write_results(config, reports, docs, machine="a test machine") == []  # the same twice: nothing changes


def test_a_missing_table_or_an_unknown_block_is_named(tmp_path, reports):
    docs = tmp_path / "docs"
    docs.mkdir()
    config = cfg.load(ROOT / "config.yaml")
    (docs / "p.md").write_text("<!-- results: table table_9_9 -->\n<!-- /results -->\n")
    with pytest.raises(FileNotFoundError, match="table_9_9.md is not built; build it first: snakemake"):
        write_results(config, reports, docs)
    (docs / "p.md").write_text("<!-- results: tabel table_5_2 -->\n<!-- /results -->\n")
    with pytest.raises(ValueError, match="unknown results block 'tabel table_5_2'"):
        write_results(config, reports, docs)


def test_the_configuration_reference_is_written_from_the_schema(tmp_path, reports):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "configuration.md").write_text("<!-- results: configuration -->\n<!-- /results -->\n")
    write_results(cfg.load(ROOT / "config.yaml"), reports, docs)
    text = (docs / "configuration.md").read_text()
    assert "| `studies` |" in text and "`<scale>.training.pipeline`" in text and "`<table>.average`" in text
    assert "Written by" not in text  # the schema is not a measurement


def test_the_shipped_docs_have_no_stale_blocks():
    """Every block of docs/ names something the docs command can write."""
    from retrieval_bench.core.docs import BLOCK

    for page in (ROOT / "docs").glob("*.md"):
        for match in BLOCK.finditer(page.read_text()):
            kind = match.group("what").split()[0]
            assert kind in ("table", "claims", "verdicts", "file", "configuration"), (page, kind)


def test_each_block_names_the_seeds_it_rests_on(tmp_path, reports):
    """A report may hold chapters built on different seeds: a table's stamp lists its own seed columns,
    a chapter's claims the margins they have."""
    (reports / "tables" / "table_5_2.csv").write_text("configuration,reproduced,seed_0\nbase,53.1,53.1\n")
    claims = pd.read_csv(reports / "claims.csv")
    claims.loc[claims.chapter == 5, ["margin_seed_1", "margin_seed_2"]] = None  # chapter 5 on seed 0 alone
    claims.to_csv(reports / "claims.csv", index=False)
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "page.md"
    page.write_text("<!-- results: table table_5_2 -->\n<!-- /results -->\n<!-- results: claims 5 -->\n"
                    "<!-- /results -->\n<!-- results: claims 6 -->\n<!-- /results -->\n")
    write_results(cfg.load(ROOT / "config.yaml"), reports, docs, machine="m")
    stamps = [line for line in page.read_text().splitlines() if line.startswith("*Written by")]
    assert [stamp.split("seeds ")[1].split(", on")[0] for stamp in stamps] == ["0", "0", "0, 1, 2"]


def test_an_optional_table_is_left_as_it_is_until_an_ablation_builds_it(tmp_path, reports):
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "page.md"
    page.write_text("<!-- results: table table_7_1_teacher_batch optional -->\nnot yet\n<!-- /results -->\n")
    config = cfg.load(ROOT / "config.yaml")
    assert write_results(config, reports, docs, machine="m") == []
    (reports / "tables" / "table_7_1_teacher_batch.md").write_text("# Table 7.1, batch\n\n| a |\n|---|\n| 1 |\n")
    assert write_results(config, reports, docs, machine="m") == [page]
    assert "not yet" not in page.read_text() and "| 1 |" in page.read_text()


def test_an_optional_file_keeps_its_last_measurement_until_measured_again(tmp_path, reports):
    # chapter 5's 10-seed stability is not rebuilt by every session: a reports folder without it
    # leaves the committed measurement in place, and a file's stamp does not borrow claims.csv's seeds
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "claims.md"
    page.write_text("<!-- results: file verdict_stability_5.md optional -->\nmeasured on seeds 0-9\n"
                    "<!-- /results -->\n")
    config = cfg.load(ROOT / "config.yaml")
    assert write_results(config, reports, docs, machine="m") == []
    (reports / "verdict_stability_5.md").write_text("Measured on m.\n\n| halves (seeds) |\n|---|\n| 0, 1 / 2, 3 |\n")
    assert write_results(config, reports, docs, machine="m") == [page]
    text = page.read_text()
    assert "measured on seeds 0-9" not in text and "| 0, 1 / 2, 3 |" in text
    assert "scale mini, on m." in text and "seeds 0, 1, 2" not in text


def test_pages_limits_the_rewrite_to_the_pages_named(tmp_path, reports):
    # a reports folder built for chapter 5 alone must not fail on (or touch) another chapter's page
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "chapter5.md").write_text("<!-- results: table table_5_2 -->\n<!-- /results -->\n")
    (docs / "chapter7.md").write_text("<!-- results: table table_7_1 -->\nkept\n<!-- /results -->\n")
    config = cfg.load(ROOT / "config.yaml")
    assert write_results(config, reports, docs, machine="m", pages=[docs / "chapter5.md"]) == [docs / "chapter5.md"]
    assert "kept" in (docs / "chapter7.md").read_text()
    with pytest.raises(FileNotFoundError, match=r"--pages .*chapter8.md: not a page of"):
        write_results(config, reports, docs, machine="m", pages=[docs / "chapter8.md"])
