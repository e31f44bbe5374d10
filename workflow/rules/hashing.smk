# The hashing study (the slides' LDPH): a vector set (a synthetic one drawn per protocol and seed,
# scikit-learn's digits, or a thesis-scale set prepared once from its placed files), a split per protocol
# and seed, and one job per (protocol, seed, configuration) at every code length its readers ask for;
# an LDPH job reads its reference's codes.

import re

from retrieval_bench.studies.hashing import plan as hash_plan
from retrieval_bench.studies.hashing.data.synthetic import BUNDLED as HASH_BUNDLED
from retrieval_bench.studies.hashing.workflow import THESIS_DATASETS as HASH_THESIS, fragment as hash_fragment

HASH_PROTOCOLS = "|".join(name for name, p in IR["scales"][SCALE]["protocols"].items() if "vectors" in p) or "(?!)"
HASH_RUN = f"results/{SCALE}/{{protocol}}/seed{{seed}}/{{configuration}}"
HASH_SPLIT = f"data/{SCALE}/vector_splits/{{protocol}}/seed{{seed}}.npz"
HASH_CONFIGURATIONS = "|".join(re.escape(c) for c in sorted(IR["configurations"], key=len, reverse=True))

localrules: hash_prepare


rule hash_generate:  # a synthetic vector set (spec 10.1), drawn for one protocol and seed
    output:
        f"data/{SCALE}/vectors/{{protocol}}/seed{{seed}}/info.json",
    params:
        config=CONFIG,
        job=job_label("hash_generate"),
        fragment=lambda w: hash_fragment(IR, "prepare", protocol=w.protocol),
    wildcard_constraints:
        protocol=HASH_PROTOCOLS,
        seed=r"\d+",
    log:
        f"logs/{SCALE}/hash_generate/{{protocol}}/seed{{seed}}.log",
    shell:
        "python -m retrieval_bench hash-prepare --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --seed {wildcards.seed} --out $(dirname {output}) 2> {log}"


rule hash_prepare:  # scikit-learn's digits, or a thesis-scale set from data/thesis/<dataset>/ (spec 5)
    output:
        f"data/{SCALE}/vectors/{{dataset}}/info.json",
    params:
        config=CONFIG,
        job=job_label("hash_prepare"),
    wildcard_constraints:
        dataset="|".join((*HASH_BUNDLED, *HASH_THESIS)),
    log:
        f"logs/{SCALE}/hash_prepare/{{dataset}}.log",
    shell:
        "python -m retrieval_bench hash-prepare --config {params.config} --job \"{params.job}\""
        " --dataset {wildcards.dataset} --source data/thesis/{wildcards.dataset} --out $(dirname {output}) 2> {log}"


rule hash_split:  # queries, the database in a seeded order, the training items, the Euclidean k-NN
    input:
        lambda w: hash_plan.data_folder(IR, w.protocol, int(w.seed)) + "/info.json",
    output:
        HASH_SPLIT,
    params:
        config=CONFIG,
        job=job_label("hash_split"),
        fragment=lambda w: hash_fragment(IR, "split", protocol=w.protocol),
    wildcard_constraints:
        protocol=HASH_PROTOCOLS,
        seed=r"\d+",
    log:
        f"logs/{SCALE}/hash_split/{{protocol}}/seed{{seed}}.log",
    shell:
        "python -m retrieval_bench hash-split --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --seed {wildcards.seed} --data $(dirname {input}) --out {output} 2> {log}"


def hash_reference_codes(w):
    reference = hash_plan.reference_of(IR, w.configuration)
    return [f"{hash_plan.run_dir(IR, w.protocol, int(w.seed), reference)}/codes.npz"] if reference else []


rule hash_train:  # fit, encode every query and database item, score both ground truths, per code length
    input:
        data=lambda w: hash_plan.data_folder(IR, w.protocol, int(w.seed)) + "/info.json",
        split=HASH_SPLIT,
        reference=hash_reference_codes,
    output:
        metrics=f"{HASH_RUN}/metrics.json",
        codes=f"{HASH_RUN}/codes.npz",
        curves=f"{HASH_RUN}/curves.csv",
        history=f"{HASH_RUN}/history.csv",
    params:
        config=CONFIG,
        job=job_label("hash_train"),
        fragment=lambda w: hash_fragment(IR, "train", protocol=w.protocol, configuration=w.configuration),
        reference=lambda w, input: input.reference[0] if input.reference else "",
    wildcard_constraints:
        protocol=HASH_PROTOCOLS,
        seed=r"\d+",
        configuration=HASH_CONFIGURATIONS,  # not two_view/ (hash_views' folder)
    threads: IR["scales"][SCALE]["training"]["threads"]
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/hash_train/{{protocol}}/seed{{seed}}/{{configuration}}.log",
    shell:
        "python -m retrieval_bench hash-train --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --configuration {wildcards.configuration} --seed {wildcards.seed}"
        " --data $(dirname {input.data}) --split {input.split} --reference \"{params.reference}\""
        " --out $(dirname {output.metrics}) 2> {log}"


rule hash_views:  # the deck's works 1 (CIE) and 2 (complementary supervision) on a data set's two views
    input:
        data=lambda w: hash_plan.data_folder(IR, w.protocol, int(w.seed)) + "/info.json",
        split=HASH_SPLIT,
    output:
        f"results/{SCALE}/{{protocol}}/seed{{seed}}/two_view/metrics.json",
    params:
        config=CONFIG,
        job=job_label("hash_views"),
        fragment=lambda w: hash_fragment(IR, "views", protocol=w.protocol),
    wildcard_constraints:
        protocol=HASH_PROTOCOLS,
        seed=r"\d+",
    threads: IR["scales"][SCALE]["training"]["threads"]
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/hash_views/{{protocol}}/seed{{seed}}.log",
    shell:
        "python -m retrieval_bench hash-views --config {params.config} --job \"{params.job}\""
        " --protocol {wildcards.protocol} --seed {wildcards.seed} --data $(dirname {input.data})"
        " --split {input.split} --out {output} 2> {log}"
