# The incremental study (chapters 5, 6) and the loop the lifelong study builds on: datasets
# (synthesised at mini scale; downloaded, verified and extracted at thesis scale), the protocols'
# splits, the pretrained trunk, the shared base model and every task; a training job also evaluates
# the model it trained (features + metrics).

from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.workflow import configuration_pattern, fragment

TRAINING = IR["scales"][SCALE]["training"]
PRETRAINING = IR["scales"][SCALE]["pretraining"]
TRAINED = configuration_pattern(IR, trained=True)     # rows whose training job also evaluates them
UNTRAINED = configuration_pattern(IR, trained=False)  # rows evaluated with the base model
KEY = "{protocol}/seed{seed}/{configuration}/task{task}"  # plan.run_key
RUN = f"results/{SCALE}/{KEY}"
METRICS = f"results/{SCALE}/metrics/{KEY}.json"  # plan.metrics_path
CURVES = f"results/{SCALE}/curves/{KEY}.csv"     # per-epoch curves; DVC plots this tree

if SCALE == "thesis":  # downloads: compute nodes often have no outbound network
    localrules: prepare_data, pretrain


rule prepare_data:
    output:
        f"data/{SCALE}/{{dataset}}/manifest.csv",
    params:
        config=CONFIG,
        job=job_label("prepare_data"),
        fragment=lambda w: fragment(IR, "dataset", dataset=w.dataset),
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/prepare_data/{{dataset}}.log",
    shell:
        "python -m retrieval_bench prepare-data --config {params.config} --job \"{params.job}\" --dataset {wildcards.dataset} --out {output} 2> {log}"


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
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/decode_images/{{dataset}}.log",
    shell:
        "python -m retrieval_bench decode-images --config {params.config} --job \"{params.job}\" --manifest {input}"
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
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/split/{{protocol}}.log",
    shell:
        "python -m retrieval_bench split --config {params.config} --job \"{params.job}\" --protocol {wildcards.protocol} --manifest {input} --out {output} 2> {log}"


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
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/pretrain.log",
    shell:
        "python -m retrieval_bench pretrain --config {params.config} --job \"{params.job}\" {params.manifest} --out {output} 2> {log}"


rule train:
    input:
        split=f"data/{SCALE}/splits/{{protocol}}.csv",
        init=lambda w: plan.init_path(IR, w.protocol, int(w.seed), w.configuration, int(w.task)),
        images=lambda w: plan.image_inputs(IR, w.protocol),
        # the files the method declares (Method.inputs: earlier models, the teacher's generated images,
        # the pretrained trunk); the command finds them through the config, so its line stays the same
        method=lambda w: plan.method_input_files(IR, w.protocol, int(w.seed), w.configuration, int(w.task)),
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
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/train/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m retrieval_bench train --config {params.config} --job \"{params.job}\" --protocol {wildcards.protocol}"
        " --configuration {wildcards.configuration} --task {wildcards.task} --seed {wildcards.seed}"
        " --split {input.split} --init {input.init} --out {output.model}"
        " --features-dir {output.features} --metrics {output.metrics} --curves {output.curves} 2> {log}"


rule evaluate:  # rows that train nothing (feature extraction) are evaluated with the base model
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
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/evaluate/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m retrieval_bench evaluate --config {params.config} --job \"{params.job}\" --protocol {wildcards.protocol}"
        " --split {input.split} --model {input.model} --task {wildcards.task}"
        " --features-dir {output.features} --out {output.metrics} 2> {log}"
