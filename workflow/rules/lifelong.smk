# The lifelong study (chapter 7), on the incremental study's rules: images generated from a model's
# BatchNorm statistics (shared by every run that distils from that model), Table 7.5's judge and
# scores, Fig. 7.8's noise sensitivity.

from retrieval_bench.studies.lifelong import plan as lifelong_plan
from retrieval_bench.studies.lifelong.workflow import fragment as lifelong_fragment

rule generate:  # chapter 7: images inverted from a model's BatchNorm statistics, shared by every run it teaches
    input:
        model=f"{RUN}/model.pt",
    output:
        images=f"{RUN}/generated.pt",
        grid=f"{RUN}/generated.png",
    params:
        config=CONFIG,
        job=job_label("generate"),
        fragment=lifelong_fragment(IR, "generate"),
    wildcard_constraints:
        seed=r"\d+",
        task=r"\d+",
    threads: TRAINING["threads"]
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/generate/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m retrieval_bench generate-images --config {params.config} --job \"{params.job}\""
        " --model {input.model} --seed {wildcards.seed} --out {output.images} --png {output.grid} 2> {log}"


rule train_judge:  # mini scale: the offline judge network of Table 7.5 (spec 10.4), trained on real images only
    input:
        split=f"data/{SCALE}/splits/{{protocol}}.csv",
    output:
        f"results/{SCALE}/{{protocol}}/seed{{seed}}/judge.pt",
    params:
        config=CONFIG,
        job=job_label("train_judge"),
        fragment=lifelong_fragment(IR, "judge"),
    wildcard_constraints:
        seed=r"\d+",
    threads: TRAINING["threads"]
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/train_judge/{{protocol}}/seed{{seed}}.log",
    shell:
        "python -m retrieval_bench train-judge --config {params.config} --job \"{params.job}\""
        " --split {input.split} --seed {wildcards.seed} --out {output} 2> {log}"


rule generation_quality:  # Table 7.5: noise, generated and real images scored by the judge
    input:
        split=f"data/{SCALE}/splits/{{protocol}}.csv",
        model=f"{RUN}/model.pt",
        judge=lambda w: lifelong_plan.judge_model(IR, w.protocol, int(w.seed)),
    output:
        scores=f"{RUN}/quality.json",
        images=f"{RUN}/quality_images.pt",
    params:
        config=CONFIG,
        job=job_label("generation_quality"),
        fragment=lifelong_fragment(IR, "quality"),
        judge=lambda w, input: f"--judge {input.judge}" if input.judge else "",
    wildcard_constraints:
        seed=r"\d+",
        task=r"\d+",
    threads: TRAINING["threads"]
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/generation_quality/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m retrieval_bench generation-quality --config {params.config} --job \"{params.job}\""
        " --split {input.split} --model {input.model} {params.judge} --seed {wildcards.seed}"
        " --out {output.scores} --images {output.images} 2> {log}"


rule noise_sensitivity:  # Fig. 7.8(a, b): retrieval vs classification on the first dataset under Gaussian noise
    input:
        split=f"data/{SCALE}/splits/{{protocol}}.csv",
        model=f"{RUN}/model.pt",
    output:
        f"{RUN}/noise.json",
    params:
        config=CONFIG,
        job=job_label("noise_sensitivity"),
    wildcard_constraints:
        seed=r"\d+",
        task=r"\d+",
    threads: TRAINING["threads"]
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/noise_sensitivity/{{protocol}}/seed{{seed}}/{{configuration}}/task{{task}}.log",
    shell:
        "python -m retrieval_bench noise-sensitivity --config {params.config} --job \"{params.job}\""
        " --split {input.split} --model {input.model} --seed {wildcards.seed} --out {output} 2> {log}"
