"""The hashing study through the workflow on a tiny config: one table's target runs only its own jobs (the
reference's run first, then its LDPH), every run keeps its codes with the ground truth, the claims are
judged, and the thesis scale schedules the four data sets' jobs."""

import re

import numpy as np
import pandas as pd
import yaml

from tiny_project import ROOT, project, snakemake, tiny_config


def hashing_config(tables=("table_ldph_ablation",), figures=()) -> dict:
    config = tiny_config()
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["tables"] = {t: shipped["tables"][t] for t in tables}
    config["figures"] = {f: shipped["figures"][f] for f in figures}
    return config


def shrink(config, rows):
    """Only the digits protocol's rows, LDPH with two short outer iterations (the test-only override)."""
    config["tables"]["table_ldph_ablation"].update(rows=rows, protocol="cifar10_hash")
    mini = config["scales"]["mini"]
    mini["protocols"].pop("sift1m_hash")
    for cid in rows:
        if cid.startswith("ldph"):
            mini["overrides"][cid] = {"pairs_per_sample": 2, "pre_epochs": 2, "outer": 2, "epochs": 1}
    return config


def test_one_hashing_table_its_figure_and_claims_from_a_fresh_project(tmp_path):
    config = shrink(hashing_config(figures=("figure_ldph_pr_cifar10",)),
                    ["lsh", "ldph_lsh", "ldph_lsh_mu0", "itq", "ldph_itq", "ldph_itq_mu0"])
    config["figures"]["figure_ldph_pr_cifar10"]["rows"] = ["lsh", "ldph_lsh"]
    cwd = project(tmp_path, config)
    run = snakemake(cwd, "reports/mini/tables/table_ldph_ablation.csv",
                    "reports/mini/figures/figure_ldph_pr_cifar10.png",
                    "reports/mini/claims.csv")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    jobs = set(re.findall(r"^(?:local)?rule (\w+):", run.stdout + run.stderr, flags=re.MULTILINE))
    assert jobs == {"hash_prepare", "hash_split", "hash_train", "table", "figure", "claims"}, jobs
    table = pd.read_csv(cwd / "reports/mini/tables/table_ldph_ablation.csv")
    assert set(table.configuration) == {"lsh", "ldph_lsh", "ldph_lsh_mu0", "itq", "ldph_itq", "ldph_itq_mu0"}
    assert set(table["gt"]) == {"knn", "label"} and set(table["bits"]) == {32}
    assert table.thesis.isna().all() and table.reproduced.between(0, 100).all()
    curve = pd.read_csv(cwd / "reports/mini/figures/figure_ldph_pr_cifar10.csv")
    assert set(curve.radius) == set(range(33))
    claims = pd.read_csv(cwd / "reports/mini/claims.csv", keep_default_na=False).set_index("id")
    # LSH's and ITQ's pairs at 32 bits on digits, both ground truths
    assert claims.loc["ldph_distance_term_helps", "verdict"] in ("holds (1 seed)", "fails (1 seed)")
    assert "of 4 cells" in claims.loc["ldph_distance_term_helps", "numbers"]
    assert "ldph_improves_reference_map" not in claims.index  # its table is not built here: not judged

    run_dir = cwd / "results/mini/cifar10_hash/seed0/ldph_lsh"
    assert {p.name for p in run_dir.iterdir()} == {"metrics.json", "codes.npz", "curves.csv", "history.csv"}
    # any number can be recomputed from the codes: mAP of the k-NN ground truth
    from retrieval_bench.core.io import read_json
    from retrieval_bench.retrieval.hamming import hamming_metrics, neighbour_sets

    with np.load(run_dir / "codes.npz") as z:
        query, database = (np.unpackbits(z[k], axis=1)[:, :32] for k in ("query_b32", "database_b32"))
        neighbours = z["neighbours"]
    again = hamming_metrics(query, database, neighbour_sets(neighbours, len(database))).map
    assert again == read_json(run_dir / "metrics.json")["bits"]["32"]["knn"]["map"]
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history.iteration) == [1, 2]


def test_thesis_scale_schedules_the_four_data_sets(tmp_path):
    cwd = project(tmp_path, hashing_config(("table_ldph_map",)))
    run = snakemake(cwd, "-n", "--config", "scale=thesis")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    out = run.stdout + run.stderr
    trains = set(re.findall(r"results/thesis/(\w+)/seed0/(\w+)/metrics.json", out))
    assert {p for p, _ in trains} == {"sift1m_hash", "gist1m_hash", "cifar10_hash", "nuswide_hash"}
    assert len(trains) == 4 * 8
    for dataset in ("sift1m", "gist1m", "cifar10_gist", "nuswide_bow"):
        assert f"data/thesis/vectors/{dataset}/info.json" in out


def test_the_study_can_be_left_out(tmp_path):
    cwd = project(tmp_path, hashing_config() | {"tables": {**tiny_config()["tables"], **hashing_config()["tables"]}})
    run = snakemake(cwd, "-n", "--config", "studies=[incremental]")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    out = run.stdout + run.stderr
    assert "hash_train" not in out and "table_ldph" not in out
