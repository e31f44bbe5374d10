"""Chapter 4 through the workflow on a tiny config: every table, figure and claim from a fresh project, one
table's target runs only its own jobs, the thesis scale schedules every run."""

import re

import numpy as np
import pandas as pd
import yaml

from tiny_project import ROOT, project, snakemake, tiny_config

TABLES = ("table_4_1", "table_4_2", "table_4_3", "table_4_4", "table_4_4_discriminator", "table_4_5", "table_4_6",
          "table_4_7", "table_4_8", "table_4_datasets")
FIGURES = ("figure_4_4", "figure_4_4_discriminator", "figure_4_5", "figure_4_6", "figure_4_7", "figure_4_9",
           "figure_4_9_cuhk_pedes")


def ch4_config(tables=TABLES, figures=FIGURES) -> dict:
    config = tiny_config()
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["tables"] = {t: shipped["tables"][t] for t in tables}
    config["figures"] = {f: shipped["figures"][f] for f in figures}
    return config


def test_every_chapter_4_table_figure_and_claim_from_a_fresh_project(tmp_path):
    cwd = project(tmp_path, ch4_config())
    targets = ([f"reports/mini/tables/{t}.md" for t in TABLES] + [f"reports/mini/figures/{f}.png" for f in FIGURES]
               + ["reports/mini/claims.csv"])
    run = snakemake(cwd, *targets)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    jobs = set(re.findall(r"^(?:local)?rule (\w+):", run.stdout + run.stderr, flags=re.MULTILINE))
    assert jobs == {"xm_captions", "xm_embed", "xm_complexity", "table", "figure", "claims"}, jobs

    t41 = pd.read_csv(cwd / "reports/mini/tables/table_4_1.csv")
    ours = t41[(t41.configuration == "itmeetsal") & (t41.backbone == "resnet152") & (t41.dataset == "flickr30k")
               & (t41.direction == "i2t") & (t41.metric == "recall@1")].iloc[0]
    assert 0 <= ours.reproduced <= 100 and ours.thesis == 56.5
    published = t41[t41.configuration == "m_rnn"]
    assert published.reproduced.isna().all() and len(published) == 12
    assert not ((t41.configuration == "cmpm_cmpc") & (t41.backbone == "resnet152") & (t41.dataset == "coco1k")).any()
    t44 = pd.read_csv(cwd / "reports/mini/tables/table_4_4.csv")
    t2i = t44[t44.direction == "t2i"].pivot_table(index="configuration", columns="metric", values="reproduced")
    assert (t2i["map_cmpm_code"] - t2i["recall@1"]).abs().max() < 0.01  # one relevant image per caption
    t46 = pd.read_csv(cwd / "reports/mini/tables/table_4_6.csv")
    params = t46[t46.metric == "params_million"].set_index("backbone").reproduced
    assert params["vgg"] > params["resnet152"] > params["mobilenet"]
    assert "(147.2000)" in (cwd / "reports/mini/tables/table_4_6.md").read_text()
    stats = pd.read_csv(cwd / "reports/mini/tables/table_4_datasets.csv")
    assert stats.set_index(["dataset", "split", "quantity"]).loc[("flickr30k", "test", "images"), "reproduced"] == 40

    pr = pd.read_csv(cwd / "reports/mini/figures/figure_4_4.csv")
    assert set(pr.configuration) == {"baseline1", "baseline2", "baseline3", "full"} and pr.recall.nunique() == 11
    trace = pd.read_csv(cwd / "reports/mini/figures/figure_4_4_discriminator.csv")
    assert trace.d_accuracy.between(0, 1).all()
    errorbars = pd.read_csv(cwd / "reports/mini/figures/figure_4_7.csv")
    assert set(errorbars.seed) == {0, 1, 2}  # the figure's own seeds, although `seeds` is [0]

    claims = pd.read_csv(cwd / "reports/mini/claims.csv", keep_default_na=False)
    ch4 = claims[claims.chapter.astype(str) == "4"]
    assert len(ch4) == 53
    assert set(ch4.verdict.str.replace(" (1 seed)", "")) <= {"holds", "fails", "inconclusive", "n/a"}
    assert (ch4.thesis_as_expected.isin(["yes", "n/a"])).all()
    assert (ch4[ch4.id == "t41_ours_beats_published_f30k_i2t"].verdict == "n/a").all() or \
        "t41_ours_beats_published_f30k_i2t" not in set(ch4.id)
    run_dir = cwd / "results/mini/xm_flickr30k/seed0/itmeetsal/mobilenet"
    assert {p.name for p in run_dir.iterdir()} == {"metrics.json", "embeddings.npz", "history.csv", "model.pt"}


def test_one_table_runs_only_its_jobs(tmp_path):
    cwd = project(tmp_path, ch4_config())
    run = snakemake(cwd, "-n", "reports/mini/tables/table_4_4.md")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    out = run.stdout + run.stderr
    embeds = set(re.findall(r"results/mini/(\w+)/seed0/([\w.]+)/(\w+)/metrics.json", out))
    assert embeds == {("xm_flickr30k", c, "mobilenet") for c in ("itmeetsal_b1", "itmeetsal_b2", "itmeetsal_b3",
                                                                  "itmeetsal", "itmeetsal_b2_di_printed",
                                                                  "itmeetsal_kl_printed")}


def test_thesis_scale_schedules_every_chapter_4_run(tmp_path):
    cwd = project(tmp_path, ch4_config())
    run = snakemake(cwd, "-n", "--config", "scale=thesis")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    out = run.stdout + run.stderr
    embeds = set(re.findall(r"results/thesis/(\w+)/seed(\d)/([\w.]+)/(\w+)/metrics.json", out))
    # spec 12.3: 36 runs per seed; + 2 not-thesis rows (the printed Eqs.); + Fig. 4.7's seeds 1 and 2
    assert len(embeds) == 36 + 2 + 2
    assert len(set(re.findall(r"results/thesis/xm_flickr8k/seed0/itmeetsal/(\w+)/complexity.json", out))) == 3
    assert {"data/weights/vgg16.pth", "data/weights/mobilenet_v1.safetensors", "data/weights/resnet50.pth",
            "data/weights/resnet152.pth"} <= set(re.findall(r"data/weights/[\w.]+", out))


def test_the_thesis_path_from_placed_files_through_mobilenet_v1(tmp_path):
    """`scale: thesis` through the workflow on a CPU, shrunk by a test-only override (1 epoch, 32 px images,
    a 16-d space): Karpathy's Flickr8K JSON in its zip and the image zip placed by hand, MobileNet v1's
    weights as a timm-named state dict, the images through the real backbone."""
    import torch

    from caption_files import FLICKR, karpathy_zip, picture, write_zip
    from published_weights import fake_timm_state_dict
    from retrieval_bench.vision.models.mobilenet_v1 import MobileNetV1

    config = ch4_config(("table_4_7",), ())
    config["tables"]["table_4_7"]["rows"] = config["tables"]["table_4_7"]["rows"][::4]  # sigma 0 and 0.1
    config.update(scale="thesis", device="cpu")
    thesis = config["scales"]["thesis"]
    thesis["training"]["threads"] = 1
    thesis["crossmodal_embedding"] = {
        "epochs": 1, "batch": {"p": 2, "k": 2}, "embedding_dim": 16, "discriminator": [8, 4], "image_size": 32,
        "text": {"word_dim": 8, "units": 8, "dropout": 0.3, "max_tokens": 8}, "checkpoint_seconds": 0,
        "backbone_weights": {"mobilenet_v1": "data/weights/mobilenet_v1.pth"}}
    cwd = project(tmp_path, config)
    source = cwd / "data/thesis/flickr8k"
    source.mkdir(parents=True)
    karpathy_zip(source / "caption_datasets.zip", "flickr8k", FLICKR)
    write_zip(source / "Flickr8k_Dataset.zip",
              {f"Flicker8k_Dataset/{k}.jpg": picture(k, (40, 36)) for k in range(1, 7)})
    (cwd / "data/weights").mkdir(parents=True)
    torch.save(fake_timm_state_dict(MobileNetV1()), cwd / "data/weights/mobilenet_v1.pth")
    run = snakemake(cwd, "reports/thesis/tables/table_4_7.csv")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    jobs = set(re.findall(r"^(?:local)?rule (\w+):", run.stdout + run.stderr, flags=re.MULTILINE))
    assert jobs == {"xm_captions", "xm_embed", "table"}, jobs  # the weights were placed by hand
    table = pd.read_csv(cwd / "reports/thesis/tables/table_4_7.csv")
    assert table.reproduced.notna().all() and set(table.configuration) == {"sigma_0", "sigma_0.1"}
    info = yaml.safe_load((cwd / "data/thesis/captions/xm_flickr8k/info.json").read_text())
    assert info["statistics"]["test"]["images"] == 2 and info["thesis_counts"]
    assert (source / "Flickr8k_Dataset.zip.md5").is_file()
    with np.load(cwd / "results/thesis/xm_flickr8k/seed0/itmeetsal/mobilenet/embeddings.npz") as saved:
        assert saved["image_embeddings"].shape == (2, 16) and saved["text_embeddings"].shape == (11, 16)
