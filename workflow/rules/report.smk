# Tables and figures next to the thesis's numbers, the claims check, the HTML report.
# The report() flags put them in `snakemake --report report.html`; captions: workflow/report/.

localrules: table, figure, claims, report

TABLE_KINDS = {"one_step": "One step", "multi_step": "Multi-step", "classification": "Classification",
               "statistics": "Datasets", "forgetting": "Forgetting", "accuracy_change": "Accuracy changes",
               "gram": "Gram matrices", "lifelong": "Lifelong (seen / unseen)",
               "generation_quality": "Generated images"}
FIGURE_KINDS = {"pr_curves": "Precision-recall", "map_per_epoch": "mAP per epoch", "epoch_time": "Time per epoch",
                "tsne": "t-SNE", "gram_matrices": "Gram matrices", "forgetting": "Forgetting",
                "final_groups": "Final model per group", "new_group_curve": "New groups",
                "group_curve": "Original classes", "retrieval_examples": "Retrieval examples",
                "lifelong_curve": "First dataset per task", "generated_grid": "Generated images",
                "generation_process": "Generated images", "noise_sensitivity": "Noise sensitivity",
                "dataset_tsne": "t-SNE", "order_evolution": "Training orders"}


rule table:
    input:
        lambda w: plan.table_inputs(IR, w.table),
    output:
        csv=report(
            "reports/tables/{table}.csv",
            caption="../report/table.rst",
            category="Tables",
            subcategory=lambda w: TABLE_KINDS[IR["tables"][w.table].get("kind", "one_step")],
            labels=lambda w: {"table": w.table, "title": IR["tables"][w.table].get("title", "")},
        ),
        md="reports/tables/{table}.md",
    params:
        config=CONFIG,
        job=job_label("table"),
        fragment=lambda w: fragment(IR, "table", table=w.table),
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/table/{table}.log",
    shell:
        "python -m incremental_retrieval table --config {params.config} --job \"{params.job}\" --table {wildcards.table}"
        " --csv {output.csv} --md {output.md} 2> {log}"


rule figure:
    input:
        lambda w: plan.figure_inputs(IR, w.figure),
    output:
        png=report(
            "reports/figures/{figure}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory=lambda w: FIGURE_KINDS[IR["figures"][w.figure]["kind"]],
            labels=lambda w: {"figure": w.figure, "protocol": IR["figures"][w.figure]["protocol"]},
        ),
        csv="reports/figures/{figure}.csv",  # the numbers it plots, written beside the PNG
    params:
        config=CONFIG,
        job=job_label("figure"),
        fragment=lambda w: fragment(IR, "figure", figure=w.figure),
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/figure/{figure}.log",
    shell:
        "python -m incremental_retrieval figure --config {params.config} --job \"{params.job}\" --figure {wildcards.figure}"
        " --out {output.png} 2> {log}"


rule claims:
    input:  # the tables, and the data of the figures chapter 7's claims read (claims.FIGURE_DATA)
        [f"reports/tables/{table}.csv" for table in IR["tables"]],
        plan.claim_figures(IR),
    output:
        report("reports/claims.csv", caption="../report/claims.rst", category="Claims"),
    params:
        config=CONFIG,
        job=job_label("claims"),
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/claims.log",
    shell:
        "python -m incremental_retrieval claims --config {params.config} --job \"{params.job}\" --tables {input} --out {output} 2> {log}"


rule report:
    input:
        tables=[f"reports/tables/{table}.csv" for table in IR["tables"]],
        figures=plan.all_figures(IR),
        claims="reports/claims.csv",
    output:
        report("reports/index.html", caption="../report/index.rst", category="Report"),
    params:
        config=CONFIG,
        job=job_label("report"),
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/report.log",
    shell:
        "python -m incremental_retrieval report --config {params.config} --job \"{params.job}\" --tables {input.tables}"
        " --figures {input.figures} --claims {input.claims} --out {output} 2> {log}"
