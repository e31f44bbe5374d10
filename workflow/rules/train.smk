# Pretrained trunk, the shared base model and every incremental task.
# A training job also evaluates the model it trained (features + metrics).

PRETRAINING = IR["scales"][SCALE]["pretraining"]
KEY = "{protocol}/seed{seed}/{configuration}/task{task}"  # plan.run_key
RUN = f"results/{SCALE}/{KEY}"
METRICS = f"results/{SCALE}/metrics/{KEY}.json"  # plan.metrics_path
CURVES = f"results/{SCALE}/curves/{KEY}.csv"     # per-epoch curves; DVC plots this tree


if SCALE == "thesis":  # downloads the ImageNet weights: run it on the submit host
    localrules: pretrain


rule pretrain:
    input:
        [plan.dataset_manifest(IR, PRETRAINING["dataset"])] if "dataset" in PRETRAINING else [],
    output:
        plan.pretrained_weights(IR),
    params:
        config=CONFIG,
        job=job_label("pretrain"),
        fragment=fragment(IR, "pretrain"),
        manifest=lambda w, input: f"--manifest {input[0]}" if input else "",
    threads: TRAINING["threads"]
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        f"logs/{SCALE}/pretrain.log",
    shell:
        "python -m incremental_retrieval pretrain --config {params.config} --job \"{params.job}\" {params.manifest} --out {output} 2> {log}"


rule train:
    input:
        split=f"data/{SCALE}/splits/{{protocol}}.csv",
        init=lambda w: plan.init_path(IR, w.protocol, int(w.seed), w.configuration, int(w.task)),
        images=lambda w: plan.image_inputs(IR, w.protocol),
        # Table 6.3 case (d)'s earlier models (the command finds them through the config; a changed
        # command line would make Snakemake rerun every finished training job)
        earlier=lambda w: plan.earlier_models(IR, w.protocol, int(w.seed), w.configuration, int(w.task)),
        # chapter 7: the frozen teacher's generated images and the on-the-fly teacher's pretrained trunk
        generated=lambda w: plan.generated_input(IR, w.protocol, int(w.seed), w.configuration, int(w.task)),
        trunk=lambda w: plan.on_the_fly_input(IR, w.configuration, int(w.task)),
    output:
        model=f"{RUN}/model.pt",
        features=directory(f"{RUN}/features"),
        metrics=METRICS,
        curves=CURVES,
    params:
        config=CONFIG,
        job=job_label("train"),
        fragment=lambda w: fragment(IR, "train", protocol=w.protocol, configuration=w.configuration,
                                    seed=int(w.seed), task=int(w.task)),
    wildcard_constraints:
        seed=r"\d+",
        task=r"\d+",
        configuration=TRAINED,
    threads: lambda w: plan.job_threads(IR, w.protocol)  # torch threads + data-loading processes (PIL)
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        f"logs/{SCALE}/train/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m incremental_retrieval train --config {params.config} --job \"{params.job}\" --protocol {wildcards.protocol}"
        " --configuration {wildcards.configuration} --task {wildcards.task} --seed {wildcards.seed}"
        " --split {input.split} --init {input.init} --out {output.model}"
        " --features-dir {output.features} --metrics {output.metrics} --curves {output.curves} 2> {log}"

