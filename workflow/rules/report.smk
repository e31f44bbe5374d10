# Tables and figures next to the thesis's numbers, the claims check, the HTML report.

localrules: table, figure, claims, report


rule table:
    input:
        lambda w: plan.table_inputs(IR, w.table),
    output:
        csv="reports/tables/{table}.csv",
        md="reports/tables/{table}.md",
    params:
        config=CONFIG,
        fragment=lambda w: fragment(IR, "table", table=w.table),
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/table/{table}.log",
    shell:
        "python -m incremental_retrieval table --config {params.config} --table {wildcards.table}"
        " --csv {output.csv} --md {output.md} 2> {log}"


rule figure:
    input:
        lambda w: plan.figure_inputs(IR, w.figure),
    output:
        "reports/figures/{figure}.png",
    params:
        config=CONFIG,
        fragment=lambda w: fragment(IR, "figure", figure=w.figure),
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/figure/{figure}.log",
    shell:
        "python -m incremental_retrieval figure --config {params.config} --figure {wildcards.figure}"
        " --out {output} 2> {log}"


rule claims:
    input:
        [f"reports/tables/{table}.csv" for table in IR["tables"]],
    output:
        "reports/claims.csv",
    params:
        config=CONFIG,
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/claims.log",
    shell:
        "python -m incremental_retrieval claims --config {params.config} --tables {input} --out {output} 2> {log}"


rule report:
    input:
        tables=[f"reports/tables/{table}.csv" for table in IR["tables"]],
        figures=plan.all_figures(IR),
        claims="reports/claims.csv",
    output:
        "reports/index.html",
    params:
        config=CONFIG,
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/report.log",
    shell:
        "python -m incremental_retrieval report --config {params.config} --tables {input.tables}"
        " --figures {input.figures} --claims {input.claims} --out {output} 2> {log}"
