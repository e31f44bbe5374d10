# incremental_retrieval: rebuilds the thesis's incremental retrieval tables.
#   snakemake --cores 2                              everything at the configured scale
#   snakemake --cores 2 reports/tables/table_5_2.md  one table and only what it needs
# Rules are thin: each calls `python -m incremental_retrieval <command>`.

from incremental_retrieval import config as ir_config
from incremental_retrieval import plan
from incremental_retrieval.workflow import configuration_pattern, effective_config_file, fragment, job_label

configfile: "config.yaml"

try:
    IR = ir_config.validate(config)
except ir_config.ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}")

SCALE = IR["scale"]
CONFIG = effective_config_file(IR)   # the validated config every command reads
TRAINING = IR["scales"][SCALE]["training"]
TRAINED = configuration_pattern(IR, trained=True)     # rows whose training job also evaluates them
UNTRAINED = configuration_pattern(IR, trained=False)  # rows evaluated with the base model

include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/generation.smk"
include: "workflow/rules/report.smk"
report: "workflow/report/workflow.rst"


rule all:
    input:
        plan.all_tables(IR),
        plan.all_figures(IR),
        "reports/claims.csv",
        "reports/index.html",
    default_target: True


rule runs:  # every training/evaluation output the tables and figures read; see dvc.yaml
    input:
        plan.all_run_outputs(IR),
