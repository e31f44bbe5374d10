# Tables and figures next to the thesis's numbers, the claims check and the HTML report, for
# every study `studies:` lists; each table or figure kind (core.registry) says what it reads.
# The report() flags put them in `snakemake --report report.html`; captions: workflow/report/.

from retrieval_bench.core import registry
from retrieval_bench.core.claims import figure_data
from retrieval_bench.core.config import built
from retrieval_bench.core.figures import figure_kind_of
from retrieval_bench.core.tables import table_kind_of
from retrieval_bench.core.workflow import figure_fragment, table_fragment
import re

TABLES = built(IR, "tables")    # the tables and figures of the listed studies
FIGURES = built(IR, "figures")
CLAIM_FIGURES = [f for f in FIGURES if f in figure_data(IR)]  # figure data the claims read

localrules: table, figure, claims, report


def names(wanted):
    return "|".join(re.escape(n) for n in sorted(wanted, key=len, reverse=True)) or "(?!)"


rule table:
    input:
        lambda w: table_kind_of(IR, w.table).inputs(IR, w.table),
    output:
        csv=report(
            f"{REPORTS}/tables/{{table}}.csv",
            caption="../report/table.rst",
            category="Tables",
            subcategory=lambda w: table_kind_of(IR, w.table).label,
            labels=lambda w: {"table": w.table, "title": IR["tables"][w.table].get("title", "")},
        ),
        md=f"{REPORTS}/tables/{{table}}.md",
    params:
        config=CONFIG,
        job=job_label("table"),
        fragment=lambda w: table_fragment(IR, w.table),
        caption=lambda w: table_kind_of(IR, w.table).caption,
    wildcard_constraints:
        table=names(TABLES),
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/table/{{table}}.log",
    shell:
        "python -m retrieval_bench table --config {params.config} --job \"{params.job}\" --table {wildcards.table}"
        " --csv {output.csv} --md {output.md} 2> {log}"


rule figure:
    input:
        lambda w: figure_kind_of(IR, w.figure).inputs(IR, w.figure),
    output:
        png=report(
            f"{REPORTS}/figures/{{figure}}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory=lambda w: figure_kind_of(IR, w.figure).label,
            labels=lambda w: {"figure": w.figure, "protocol": IR["figures"][w.figure]["protocol"]},
        ),
        csv=f"{REPORTS}/figures/{{figure}}.csv",  # the numbers it plots, written beside the PNG
    params:
        config=CONFIG,
        job=job_label("figure"),
        fragment=lambda w: figure_fragment(IR, w.figure),
        caption=lambda w: figure_kind_of(IR, w.figure).caption,
    wildcard_constraints:
        figure=names(FIGURES),
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/figure/{{figure}}.log",
    shell:
        "python -m retrieval_bench figure --config {params.config} --job \"{params.job}\" --figure {wildcards.figure}"
        " --out {output.png} 2> {log}"


rule claims:
    input:  # the tables, and the data of the figures some claims read (a figure kind's claim_data)
        [f"{REPORTS}/tables/{table}.csv" for table in TABLES],
        [f"{REPORTS}/figures/{figure}.csv" for figure in CLAIM_FIGURES],
    output:
        report(f"{REPORTS}/claims.csv", caption="../report/claims.rst", category="Claims"),
    params:
        config=CONFIG,
        job=job_label("claims"),
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/claims.log",
    shell:
        "python -m retrieval_bench claims --config {params.config} --job \"{params.job}\" --tables {input} --out {output} 2> {log}"


rule report:
    input:
        tables=[f"{REPORTS}/tables/{table}.csv" for table in TABLES],
        figures=[f"{REPORTS}/figures/{figure}.png" for figure in FIGURES],
        claims=f"{REPORTS}/claims.csv",
    output:
        report(f"{REPORTS}/index.html", caption="../report/index.rst", category="Report"),
    params:
        config=CONFIG,
        job=job_label("report"),
    conda:
        "../../envs/retrieval_bench.yaml"
    log:
        f"logs/{SCALE}/report.log",
    shell:
        "python -m retrieval_bench report --config {params.config} --job \"{params.job}\" --tables {input.tables}"
        " --figures {input.figures} --claims {input.claims} --out {output} 2> {log}"
