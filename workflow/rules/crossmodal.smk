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


# Chapter 4: a captioned image set per protocol (a synthetic stand-in, or a thesis data set prepared from
# its placed files), one embedding run per (protocol, seed, configuration, backbone) that trains, embeds
# and scores, and Table 4.6's complexity of a trained run.

import re
from pathlib import Path

from retrieval_bench.studies.crossmodal.workflow import weights_files as xm_weights_files

XC_PROTOCOLS = "|".join(name for name, p in IR["scales"][SCALE]["protocols"].items() if "captions" in p) or "(?!)"
XC_RUN = f"results/{SCALE}/{{protocol}}/seed{{seed}}/{{configuration}}/{{backbone}}"
XC_WEIGHTS = xm_weights_files(IR)
XC_WORKERS = IR["scales"][SCALE].get("crossmodal_embedding", {}).get("workers", 0)

localrules: xm_captions, xm_backbone


rule xm_captions:  # a captioned image set: stand-in drawn (spec 13.2) or thesis files read (spec 5)
    output:
        f"data/{SCALE}/captions/{{protocol}}/info.json",
    params:
        config=CONFIG,
        job=job_label("xm_captions"),
        fragment=lambda w: xm_fragment(IR, "captions", protocol=w.protocol),
    wildcard_constraints:
        protocol=XC_PROTOCOLS,
    log:
        f"logs/{SCALE}/xm_captions/{{protocol}}.log",
    shell:
        "python -m retrieval_bench xm-captions --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --out $(dirname {output}) 2> {log}"


rule xm_backbone:  # a thesis backbone's ImageNet weights (spec 12.1), kept where placed or downloaded
    output:
        "{weights}",
    params:
        config=CONFIG,
        job=job_label("xm_backbone"),
        model=lambda w: Path(w.weights).stem,
    wildcard_constraints:
        weights="|".join(re.escape(p) for p in XC_WEIGHTS) or "(?!)",
    log:
        f"logs/{SCALE}/xm_backbone/{{weights}}.log",
    shell:
        "python -m retrieval_bench xm-backbone --config {params.config} --job \"{params.job}\""
        " --model {params.model} --out {output} 2> {log}"


rule xm_embed:  # train, embed every test image and caption, score both directions
    input:
        data=lambda w: xm_plan.captions_folder(IR, w.protocol) + "/info.json",
        weights=lambda w: xm_plan.backbone_weights(IR, w.backbone),
    output:
        metrics=f"{XC_RUN}/metrics.json",
        embeddings=f"{XC_RUN}/embeddings.npz",
        history=f"{XC_RUN}/history.csv",
        model=f"{XC_RUN}/model.pt",
    params:
        config=CONFIG,
        job=job_label("xm_embed"),
        fragment=lambda w: xm_fragment(IR, "embed", protocol=w.protocol, configuration=w.configuration),
        model=lambda w: xm_plan.backbone_model(IR, w.backbone),
        checkpoints=f"checkpoints/{SCALE}/{{protocol}}/seed{{seed}}/{{configuration}}/{{backbone}}",
    wildcard_constraints:
        protocol=XC_PROTOCOLS,
        seed=r"\d+",
    threads: IR["scales"][SCALE]["training"]["threads"] + XC_WORKERS  # + the threads decoding image files
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/xm_embed/{{protocol}}/seed{{seed}}/{{configuration}}/{{backbone}}.log",
    shell:
        "python -m retrieval_bench xm-embed --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --configuration {wildcards.configuration} --backbone {wildcards.backbone}"
        " --seed {wildcards.seed} --data $(dirname {input.data}) --out $(dirname {output.metrics})"
        " --checkpoints {params.checkpoints} 2> {log}"


rule xm_complexity:  # Table 4.6: FLOPs, parameters and inference time of a trained run, on this machine
    input:
        run=f"{XC_RUN}/model.pt",
        data=lambda w: xm_plan.captions_folder(IR, w.protocol) + "/info.json",
    output:
        f"{XC_RUN}/complexity.json",
    params:
        config=CONFIG,
        job=job_label("xm_complexity"),
        fragment=lambda w: xm_fragment(IR, "complexity", protocol=w.protocol),
    wildcard_constraints:
        protocol=XC_PROTOCOLS,
        seed=r"\d+",
    threads: IR["scales"][SCALE]["training"]["threads"]
    log:
        f"logs/{SCALE}/xm_complexity/{{protocol}}/seed{{seed}}/{{configuration}}/{{backbone}}.log",
    shell:
        "python -m retrieval_bench xm-complexity --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --seed {wildcards.seed} --run $(dirname {input.run})"
        " --data $(dirname {input.data}) --out {output} 2> {log}"
