# Datasets (synthesised at mini scale; downloaded, verified and extracted at
# thesis scale) and the protocols' class splits.

if SCALE == "thesis":  # downloads: compute nodes often have no outbound network
    localrules: prepare_data


rule prepare_data:
    output:
        f"data/{SCALE}/{{dataset}}/manifest.csv",
    params:
        config=CONFIG,
        job=job_label("prepare_data"),
        fragment=lambda w: fragment(IR, "dataset", dataset=w.dataset),
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        f"logs/{SCALE}/prepare_data/{{dataset}}.log",
    shell:
        "python -m incremental_retrieval prepare-data --config {params.config} --job \"{params.job}\" --dataset {wildcards.dataset} --out {output} 2> {log}"


rule decode_images:  # training.pipeline: decoded
    input:
        f"data/{SCALE}/{{dataset}}/manifest.csv",
    output:
        directory(f"data/{SCALE}/{{dataset}}/decoded"),
    params:
        config=CONFIG,
        job=job_label("decode_images"),
        fragment=lambda w: fragment(IR, "decode", dataset=w.dataset),
    wildcard_constraints:
        dataset=r"[^/]+",
    threads: max(1, TRAINING["workers"])  # decoding processes
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        f"logs/{SCALE}/decode_images/{{dataset}}.log",
    shell:
        "python -m incremental_retrieval decode-images --config {params.config} --job \"{params.job}\" --manifest {input}"
        " --out {output} --workers {threads} 2> {log}"


rule split:
    input:
        lambda w: plan.protocol_manifests(IR, w.protocol),  # a chapter 7 sequence reads several
    output:
        f"data/{SCALE}/splits/{{protocol}}.csv",
    params:
        config=CONFIG,
        job=job_label("split"),
        fragment=lambda w: fragment(IR, "split", protocol=w.protocol),
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        f"logs/{SCALE}/split/{{protocol}}.log",
    shell:
        "python -m incremental_retrieval split --config {params.config} --job \"{params.job}\" --protocol {wildcards.protocol} --manifest {input} --out {output} 2> {log}"
