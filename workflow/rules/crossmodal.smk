# The cross-modal study (chapter 3): a paired data set (a synthetic stand-in drawn per protocol and
# seed, or a thesis data set prepared once from its placed files), DCMH's split per protocol and seed,
# and one training run per (protocol, seed, configuration, bits) that trains, encodes and scores.

from retrieval_bench.studies.crossmodal import plan as xm_plan
from retrieval_bench.studies.crossmodal.workflow import THESIS_DATASETS, fragment as xm_fragment

XM_PROTOCOLS = "|".join(name for name, p in IR["scales"][SCALE]["protocols"].items() if "paired" in p) or "(?!)"
XM_RUN = f"results/{SCALE}/{{protocol}}/seed{{seed}}/{{configuration}}/bits{{bits}}"

localrules: xm_prepare, xm_weights
XM_WEIGHTS = IR["scales"][SCALE].get("crossmodal_training", {}).get("cnn_f_weights")


rule xm_weights:  # CNN-F's MatConvNet file, for protocols whose images go through CNN-F (spec 4.1)
    output:
        XM_WEIGHTS or "data/weights/imagenet-vgg-f.mat",
    params:
        config=CONFIG,
        job=job_label("xm_weights"),
    log:
        f"logs/{SCALE}/xm_weights.log",
    shell:
        "python -m retrieval_bench xm-weights --config {params.config} --job \"{params.job}\" --out {output} 2> {log}"


rule xm_generate:  # a synthetic stand-in (spec 14.2), drawn for one protocol and seed
    output:
        f"data/{SCALE}/paired/{{protocol}}/seed{{seed}}/info.json",
    params:
        config=CONFIG,
        job=job_label("xm_generate"),
        fragment=lambda w: xm_fragment(IR, "prepare", protocol=w.protocol),
    wildcard_constraints:
        protocol=XM_PROTOCOLS,
        seed=r"\d+",
    log:
        f"logs/{SCALE}/xm_generate/{{protocol}}/seed{{seed}}.log",
    shell:
        "python -m retrieval_bench xm-prepare --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --seed {wildcards.seed} --out $(dirname {output}) 2> {log}"


rule xm_prepare:  # a thesis data set from the files placed in data/thesis/<dataset>/ (spec 6.4)
    output:
        f"data/{SCALE}/paired/{{dataset}}/info.json",
    params:
        config=CONFIG,
        job=job_label("xm_prepare"),
    wildcard_constraints:
        dataset="|".join(THESIS_DATASETS),
    log:
        f"logs/{SCALE}/xm_prepare/{{dataset}}.log",
    shell:
        "python -m retrieval_bench xm-prepare --config {params.config} --job \"{params.job}\""
        " --dataset {wildcards.dataset} --source data/thesis/{wildcards.dataset} --out $(dirname {output}) 2> {log}"


rule xm_split:  # DCMH's protocol: a seeded permutation, queries first, the database's first pairs train
    input:
        lambda w: xm_plan.data_folder(IR, w.protocol, int(w.seed)) + "/info.json",
    output:
        f"data/{SCALE}/paired_splits/{{protocol}}/seed{{seed}}.csv",
    params:
        config=CONFIG,
        job=job_label("xm_split"),
        fragment=lambda w: xm_fragment(IR, "split", protocol=w.protocol),
    wildcard_constraints:
        protocol=XM_PROTOCOLS,
        seed=r"\d+",
    log:
        f"logs/{SCALE}/xm_split/{{protocol}}/seed{{seed}}.log",
    shell:
        "python -m retrieval_bench xm-split --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --seed {wildcards.seed} --data $(dirname {input}) --out {output} 2> {log}"


rule xm_train:  # train, encode every query and database item, score both directions
    input:
        data=lambda w: xm_plan.data_folder(IR, w.protocol, int(w.seed)) + "/info.json",
        split=f"data/{SCALE}/paired_splits/{{protocol}}/seed{{seed}}.csv",
        weights=lambda w: xm_plan.image_weights(IR, w.protocol),
    output:
        metrics=f"{XM_RUN}/metrics.json",
        codes=f"{XM_RUN}/codes.npz",
        pr=f"{XM_RUN}/pr.csv",
        history=f"{XM_RUN}/history.csv",
        model=f"{XM_RUN}/model.pt",
    params:
        config=CONFIG,
        job=job_label("xm_train"),
        fragment=lambda w: xm_fragment(IR, "train", protocol=w.protocol, configuration=w.configuration),
        checkpoints=f"checkpoints/{SCALE}/{{protocol}}/seed{{seed}}/{{configuration}}/bits{{bits}}",
    wildcard_constraints:
        protocol=XM_PROTOCOLS,
        seed=r"\d+",
        bits=r"\d+",
    threads: IR["scales"][SCALE]["training"]["threads"]
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/xm_train/{{protocol}}/seed{{seed}}/{{configuration}}/bits{{bits}}.log",
    shell:
        "python -m retrieval_bench xm-train --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --configuration {wildcards.configuration} --bits {wildcards.bits}"
        " --seed {wildcards.seed} --data $(dirname {input.data}) --split {input.split}"
        " --out $(dirname {output.metrics}) --checkpoints {params.checkpoints} 2> {log}"
