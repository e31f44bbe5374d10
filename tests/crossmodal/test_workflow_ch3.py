"""Chapter 3 through the workflow on a tiny config: one table's target runs only its own jobs, the table
sits beside the thesis's numbers, the claims are judged, the study can be left out."""

import re

import pandas as pd
import yaml

from tiny_project import ROOT, project, snakemake, tiny_config


def ch3_config(tables=("table_3_3",), figures=()) -> dict:
    config = tiny_config()
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["tables"] = {t: shipped["tables"][t] for t in tables}
    config["figures"] = {f: shipped["figures"][f] for f in figures}
    return config


def test_table_3_3_its_pr_figure_and_its_claims_from_a_fresh_project(tmp_path):
    cwd = project(tmp_path, ch3_config(figures=("figure_3_6",)))
    run = snakemake(cwd, "reports/mini/tables/table_3_3.csv", "reports/mini/figures/figure_3_6.png",
                    "reports/mini/claims.csv")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    jobs = set(re.findall(r"^(?:local)?rule (\w+):", run.stdout + run.stderr, flags=re.MULTILINE))
    assert jobs == {"xm_generate", "xm_split", "xm_train", "table", "figure", "claims"}, jobs
    curves = pd.read_csv(cwd / "reports/mini/figures/figure_3_6.csv")
    assert set(curves.row) == {"baseline1", "baseline2", "baseline3", "full"}
    assert set(curves.radius) == set(range(33))  # 0..min(50, K) at 32 bits
    table = pd.read_csv(cwd / "reports/mini/tables/table_3_3.csv")
    full = table[(table.configuration == "full") & (table.direction == "i2t")].iloc[0]
    assert 0 < full.reproduced <= 100 and full.thesis == 83.4
    assert set(table.configuration) == {"baseline1", "baseline2", "baseline3", "full", "eq32_as_printed"}
    claims = pd.read_csv(cwd / "reports/mini/claims.csv", keep_default_na=False)
    ch3 = claims[claims.chapter.astype(str) == "3"]
    assert set(ch3.table) == {"table_3_3"}
    # t33_baseline1_beats_dcmh reads Table 3.2, which this project does not build: n/a, not an error
    assert ch3.set_index("id").loc["t33_baseline1_beats_dcmh", "verdict"] == "n/a"
    assert (ch3.thesis_as_expected.isin(["yes", "n/a"])).all()
    run_dir = cwd / "results/mini/mir_hash/seed0/duh/bits32"
    assert {p.name for p in run_dir.iterdir()} == {"metrics.json", "codes.npz", "pr.csv", "history.csv",
                                                    "model.pt"}


def test_thesis_scale_schedules_every_chapter_3_run(tmp_path):
    cwd = project(tmp_path, ch3_config(("table_3_1", "table_3_2", "table_3_3"),
                                       ("figure_3_4", "figure_3_5", "figure_3_6")))
    run = snakemake(cwd, "-n", "--config", "scale=thesis")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    out = run.stdout + run.stderr
    trains = set(re.findall(r"results/thesis/(\w+)/seed0/([\w.]+)/bits(\d+)/metrics.json", out))
    # T3.2: 2 sets x 2 methods x 3 lengths; T3.3 + 4; T3.1 + 4; Fig. 3.4 + 10 (Figs. 3.5-3.6 reuse runs)
    assert len(trains) == 2 * 2 * 3 + 4 + 4 + 10
    assert not any(configuration == "ssah" for _, configuration, _ in trains)
    assert "rule xm_prepare:" in out or "localrule xm_prepare:" in out


def test_the_study_can_be_left_out(tmp_path):
    cwd = project(tmp_path, ch3_config(("table_3_3",)) | {"tables": {**tiny_config()["tables"],
                                                                    **ch3_config()["tables"]}})
    run = snakemake(cwd, "-n", "--config", "studies=[incremental]")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    out = run.stdout + run.stderr
    assert "xm_train" not in out and "table_3_3" not in out


def test_the_thesis_path_from_placed_files_through_cnn_f(tmp_path):
    """`scale: thesis` through the workflow on a CPU, shrunk by a test-only override (1 epoch, 8 px images,
    30 pairs): DCMH's MATLAB file and CNN-F's MatConvNet file placed by hand, the images through CNN-F."""
    import numpy as np

    from matconvnet_files import write_net
    from paired_files import write_dcmh_v73

    config = ch3_config()
    config.update(scale="thesis", device="cpu")
    thesis = config["scales"]["thesis"]
    thesis["crossmodal_training"].update(epochs=1, batch=8, checkpoint_seconds=0)
    thesis["protocols"]["mir_hash"]["paired"].update(queries=4, train=12)
    thesis["training"]["threads"] = 1
    cwd = project(tmp_path, config)
    rng = np.random.default_rng(0)
    labels = (rng.random((30, 24)) < 0.2).astype(np.uint8)
    labels[:, 0] = 1
    (cwd / "data/thesis/mirflickr25k").mkdir(parents=True)
    write_dcmh_v73(cwd / "data/thesis/mirflickr25k/FLICKR-25K.mat",
                   rng.integers(0, 256, size=(30, 8, 8, 3), dtype=np.uint8),  # CNN-F's stand-in takes 8 px
                   (rng.random((30, 64)) < 0.2).astype(np.float64), labels, matlab_images_last=True)
    (cwd / "data/weights").mkdir(parents=True)
    write_net(cwd / "data/weights/imagenet-vgg-f.mat")
    run = snakemake(cwd, "reports/thesis/tables/table_3_3.csv")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    jobs = set(re.findall(r"^(?:local)?rule (\w+):", run.stdout + run.stderr, flags=re.MULTILINE))
    assert {"xm_prepare", "xm_split", "xm_train", "table"} == jobs, jobs  # the weights were placed by hand
    table = pd.read_csv(cwd / "reports/thesis/tables/table_3_3.csv")
    assert table.reproduced.notna().all() and (table.seeds == 1).all()
    info = yaml.safe_load((cwd / "data/thesis/paired/mirflickr25k/info.json").read_text())
    assert info["statistics"]["pairs"] == 30 and info["thesis_counts"]["pairs"] == 20015
    assert (cwd / "data/thesis/mirflickr25k/FLICKR-25K.mat.md5").is_file()
