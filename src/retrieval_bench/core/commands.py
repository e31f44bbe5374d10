"""The command-line menu's entries: a `Command` is a name, a help line, its
arguments and what it runs; each study lists its own in its commands.py, and
these are the core's (the table, figure, claims, report and docs engines)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from retrieval_bench.core.runtime import setup


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable                         # run(args): the work; args.config, args.job and args.argv are set
    arguments: Callable = lambda p: None  # arguments(parser): its own arguments


def _table(args):
    config = setup(args)
    from retrieval_bench.core.tables import build_table

    build_table(config, args.table, Path(args.csv), Path(args.md))


def _table_arguments(p):
    p.add_argument("--table", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)


def _figure(args):
    config = setup(args)
    from retrieval_bench.core.figures import build_figure

    build_figure(config, args.figure, Path(args.out))


def _figure_arguments(p):
    p.add_argument("--figure", required=True)
    p.add_argument("--out", required=True)


def _claims(args):
    config = setup(args)
    from retrieval_bench.core.claims import check_claims, figure_data

    frame = check_claims([Path(p) for p in args.tables], Path(args.out), config["scale"], figure_data(config))
    logging.info("claims over seeds %s (one-sided 95%% bound on the mean margin): %s", config["seeds"],
                 ", ".join(f"{n} {v}" for v, n in frame["verdict"].value_counts().items()))


def _claims_arguments(p):
    p.add_argument("--tables", nargs="+", required=True, help="table CSVs and the figure data CSVs claims read")
    p.add_argument("--out", required=True)


def _verdict_stability(args):
    config = setup(args)
    from retrieval_bench.core.claims import figure_data
    from retrieval_bench.core.docs import machine_name
    from retrieval_bench.core.stability import summary, write_stability

    frame = write_stability([Path(p) for p in args.tables], Path(args.out) if args.out else None, config["scale"],
                            figure_data(config),
                            args.machine or machine_name())
    logging.info("verdict stability:\n%s", summary(frame).to_string(index=False))


def _verdict_stability_arguments(p):
    p.add_argument("--tables", nargs="+", required=True,
                   help="table and figure data CSVs built with 2 or more seeds (their halves are compared)")
    p.add_argument("--out", help="the Markdown file, a CSV beside it (default: "
                   "reports/<scale>/verdict_stability_<chapters>.md, the chapters the tables' claims belong to)")
    p.add_argument("--machine", help="the machine the tables were measured on (default: this one's CPU)")


def _report(args):
    config = setup(args)
    from retrieval_bench.core.report import build_report

    build_report(config, [Path(p) for p in args.tables], [Path(p) for p in args.figures],
                 Path(args.claims) if args.claims else None, Path(args.out))


def _report_arguments(p):
    p.add_argument("--tables", nargs="+", required=True)
    p.add_argument("--figures", nargs="*", default=[])
    p.add_argument("--claims")
    p.add_argument("--out", required=True)


def _docs(args):
    config = setup(args)
    from retrieval_bench.core.docs import write_results

    pages = [Path(p) for p in args.pages] if args.pages else None
    for path in write_results(config, Path(args.reports), Path(args.docs), args.machine, pages):
        logging.info("wrote %s", path)


def _docs_arguments(p):
    p.add_argument("--reports", default="reports/mini", help="the reports folder of one scale")
    p.add_argument("--docs", default="docs", help="the docs folder whose result blocks are rewritten")
    p.add_argument("--machine", help="the machine the results were measured on (default: this one's CPU)")
    p.add_argument("--pages", nargs="+", help="only these pages of --docs (a reports folder that holds some "
                   "chapters: the other pages keep their blocks)")


COMMANDS = [
    Command("table", "one thesis table, reproduced next to the thesis numbers", _table, _table_arguments),
    Command("figure", "one thesis figure as a PNG file, with its numbers as CSV", _figure, _figure_arguments),
    Command("claims", "check the thesis's claims on the tables", _claims, _claims_arguments),
    Command("verdict-stability", "judge the claims on two disjoint halves of the seeds and on all of them, by "
            "the bound rule and by unanimity", _verdict_stability, _verdict_stability_arguments),
    Command("report", "the HTML report", _report, _report_arguments),
    Command("docs", "rewrite the result blocks of docs/*.md from a reports folder (commit, seeds, machine named)",
            _docs, _docs_arguments),
]
