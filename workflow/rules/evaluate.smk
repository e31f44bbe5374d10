# Features of every class group seen so far, then Recall@K and mAP.

RUN = f"results/{SCALE}/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}"


rule extract:
    input:
        split=f"data/{SCALE}/splits/{{protocol}}.csv",
        model=lambda w: plan.model_path(IR, w.protocol, int(w.seed), w.configuration, int(w.task)),
    output:
        directory(f"{RUN}/features"),
    wildcard_constraints:
        seed=r"\d+",
        task=r"\d+",
    threads: TRAINING["threads"]
    params:
        config=CONFIG,
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        f"logs/{SCALE}/extract/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m incremental_retrieval extract --config {params.config} --protocol {wildcards.protocol} --split {input.split}"
        " --model {input.model} --task {wildcards.task} --out-dir {output} 2> {log}"


rule evaluate:
    input:
        f"{RUN}/features",
    output:
        f"{RUN}/metrics.json",
    wildcard_constraints:
        seed=r"\d+",
        task=r"\d+",
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        f"logs/{SCALE}/evaluate/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m incremental_retrieval evaluate --features {input} --out {output} 2> {log}"
