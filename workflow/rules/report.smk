# Tables next to the thesis's numbers, and the HTML report.

localrules: table, report


rule table:
    input:
        lambda w: plan.table_metrics(IR, w.table),
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
        "python -m incremental_retrieval table --config {params.config} --table {wildcards.table} --csv {output.csv} --md {output.md} 2> {log}"


rule report:
    input:
        [f"reports/tables/{table}.csv" for table in IR["tables"]],
    output:
        "reports/index.html",
    params:
        config=CONFIG,
    conda:
        "../../envs/incremental_retrieval.yaml"
    log:
        "logs/report.log",
    shell:
        "python -m incremental_retrieval report --config {params.config} --tables {input} --out {output} 2> {log}"
