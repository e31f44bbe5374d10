# retrieval_bench: rebuilds the tables and figures of Wei Chen's thesis, one study per kind of retrieval.
#   snakemake --cores 2                                       every study `studies:` lists, at the configured scale
#   snakemake --cores 2 --config studies=[incremental]        chapters 5 and 6 alone
#   snakemake --cores 2 reports/mini/tables/table_5_2.md      one table and only what it needs
# Rules are thin: each calls `python -m retrieval_bench <command>`; a study's rules file is included
# when the study is listed (with the studies it builds on).

from retrieval_bench.core import config as bench_config
from retrieval_bench.core import registry
from retrieval_bench.core.workflow import effective_config_file, job_label, run_outputs

configfile: "config.yaml"

try:
    IR = bench_config.validate(config)
except bench_config.ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}")

SCALE = IR["scale"]
CONFIG = effective_config_file(IR)   # the validated config every command reads
REPORTS = f"reports/{SCALE}"         # per scale: a thesis-scale run does not overwrite the mini report

for study in registry.with_foundations(IR["studies"]):
    include: f"workflow/rules/{study.rules}"
include: "workflow/rules/common.smk"
report: "workflow/report/workflow.rst"


rule all:
    input:
        [f"{REPORTS}/tables/{table}.{ext}" for table in TABLES for ext in ("csv", "md")],
        [f"{REPORTS}/figures/{figure}.png" for figure in FIGURES],
        f"{REPORTS}/claims.csv",
        f"{REPORTS}/index.html",
    default_target: True


rule runs:  # every training/evaluation output the listed studies' tables and figures read; see dvc.yaml
    input:
        run_outputs(IR),
