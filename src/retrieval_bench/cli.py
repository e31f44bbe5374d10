"""`python -m retrieval_bench <command>`: the steps the Snakemake rules call.

The menu is gathered here: the core's commands (tables, figures, claims,
report, docs) and each study's (core.registry.commands).  Every command takes
explicit input and output paths plus the config file, so each step can be
run and tested by hand.
"""

from __future__ import annotations

import argparse
import logging
import sys

from retrieval_bench.core import commands as core_commands
from retrieval_bench.core import (
    registry,
    runtime,  # noqa: F401  (first: it times the start-up)
)
from retrieval_bench.core.errors import UserError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m retrieval_bench", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="<command>")
    for command in [*registry.commands(), *core_commands.COMMANDS]:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        p.add_argument("--config", default="config.yaml")
        p.add_argument("--job", help="the Snakemake rule and wildcards, named in the log")
        command.arguments(p)
        p.set_defaults(func=command.run)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    try:
        args.func(args)
    except UserError as e:  # one clear line, no traceback
        _failed(args, str(e))
        raise SystemExit(f"error: {e}") from None
    except Exception as e:  # the traceback follows; this line says which job and what went wrong
        _failed(args, f"{type(e).__name__}: {e}")
        raise


def _failed(args, what: str) -> None:
    """The job's log (stderr) and standard output, which on SLURM lands in the
    plugin's per-attempt log that outlives the retry."""
    line = f"FAILED {args.job or args.command}: {what}"
    logging.error(line)
    print(line, flush=True)
