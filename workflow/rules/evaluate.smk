# Rows that train nothing (feature extraction) are evaluated with the base
# model by a job of their own; trained rows are evaluated by their training job.


rule evaluate:
    input:
        split=f"data/{SCALE}/splits/{{protocol}}.csv",
        model=lambda w: plan.model_path(IR, w.protocol, int(w.seed), w.configuration, int(w.task)),
        images=lambda w: plan.image_inputs(IR, w.protocol),
    output:
        features=directory(f"{RUN}/features"),
        metrics=METRICS,
    params:
        config=CONFIG,
        job=job_label("evaluate"),
    wildcard_constraints:
        seed=r"\d+",
        task=r"\d+",
        configuration=UNTRAINED,
    threads: lambda w: plan.job_threads(IR, w.protocol)  # torch threads + data-loading processes (PIL)
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        f"logs/{SCALE}/evaluate/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m incremental_retrieval evaluate --config {params.config} --job \"{params.job}\" --protocol {wildcards.protocol}"
        " --split {input.split} --model {input.model} --task {wildcards.task}"
        " --features-dir {output.features} --out {output.metrics} 2> {log}"
