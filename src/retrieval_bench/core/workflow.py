"""Small helpers the Snakefile and the rules files use (kept here so they are tested)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from retrieval_bench.core.config import with_validation_stamp
from retrieval_bench.core.io import atomic_path


def effective_config_file(config: dict) -> str:
    """Write the validated config (with --config overrides applied) where the
    jobs read it; one file per scale, so a dry run at the other scale does not
    touch it, and only rewritten when it changed."""
    path = Path(f".snakemake/retrieval_bench/config-{config['scale']}.yaml")
    # keep the order: the protocols' run sharing (ProtocolForm.shared_protocol) depends on it;
    # the stamp spares every job a second validation
    text = yaml.safe_dump(with_validation_stamp(config), sort_keys=False)
    if not path.exists() or path.read_text() != text:
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return str(path)


def job_label(rule: str):
    """`rule (name=value, ...)` of a job, for the `--job` line that opens its log
    and the FAILED line that ends it (a params function of the wildcards)."""
    def label(wildcards) -> str:
        values = ", ".join(f"{name}={value}" for name, value in wildcards.items())
        return f"{rule} ({values})" if values else rule

    return label


def as_params(part) -> str:
    """A config fragment as stable JSON, given to a rule as `params` so that
    Snakemake reruns exactly the jobs whose settings changed (and not every
    job when any setting changes)."""
    return json.dumps(part, sort_keys=True)


def table_fragment(config: dict, table: str) -> str:
    return as_params({"table": config["tables"][table], "seeds": config["seeds"]})


def figure_fragment(config: dict, figure: str) -> str:
    return as_params({"figure": config["figures"][figure], "seed": config["seeds"][0]})


def run_outputs(config: dict) -> list[str]:
    """What the built tables and figures read (their kinds' inputs): the
    `runs` target (after `dvc pull`, `snakemake --touch --forceall runs` marks
    them up to date)."""
    from retrieval_bench.core.config import built
    from retrieval_bench.core.figures import figure_kind_of
    from retrieval_bench.core.tables import table_kind_of

    paths = {path for table in built(config, "tables") for path in table_kind_of(config, table).inputs(config, table)}
    paths |= {path for figure in built(config, "figures")
              for path in figure_kind_of(config, figure).inputs(config, figure)}
    return sorted(paths)
