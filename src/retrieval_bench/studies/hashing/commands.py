"""The hashing study's commands: a vector set (drawn, read from scikit-learn, or prepared from the thesis-scale
files), a protocol's split, one job (a configuration at its code lengths), and the Hamming search speed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from retrieval_bench.core.commands import Command
from retrieval_bench.core.config import ConfigError, method_of
from retrieval_bench.core.runtime import setup


def _vectors(config: dict, protocol: str) -> dict:
    from retrieval_bench.studies.hashing.plan import vectors_block

    try:
        return vectors_block(config, protocol)
    except KeyError:
        raise ConfigError(f"protocol {protocol!r} is not a vectors protocol of scale {config['scale']}") from None


def prepare(args):
    """A vector set: a protocol's synthetic set drawn for one seed, scikit-learn's digits, or a thesis-scale
    set prepared from the files placed in --source."""
    config = setup(args)
    from retrieval_bench.studies.hashing.data import synthetic, vector_set

    if args.dataset:
        if args.dataset in synthetic.BUNDLED:
            data = getattr(synthetic, args.dataset)()
            vector_set.save(data, Path(args.out))
        else:
            from retrieval_bench.studies.hashing.data.thesis_sets import prepare as prepare_thesis

            data = prepare_thesis(args.dataset, Path(args.source), Path(args.out))
    else:
        block = _vectors(config, args.protocol)
        data = getattr(synthetic, block["dataset"])(args.seed, **block.get("generator", {}))
        vector_set.save(data, Path(args.out))
    logging.info("%s: %s", args.dataset or args.protocol, data.statistics())


def split(args):
    """Queries, the database in a seeded order, the training items and the Euclidean k-NN ground truth."""
    config = setup(args)
    from retrieval_bench.studies.hashing.data import vector_set
    from retrieval_bench.studies.hashing.data.splits import make_split, write_split

    block = _vectors(config, args.protocol)
    data = vector_set.load(Path(args.data))
    result = make_split(data, queries=block["queries"], train=block["train"], knn=block["knn"], seed=args.seed,
                        query_sampling=block["query_sampling"], train_sampling=block["train_sampling"])
    write_split(result, Path(args.out))
    logging.info("%d queries, %d database items, %d training items, %d neighbours each", len(result.queries),
                 len(result.database), len(result.train), result.neighbours.shape[1])


def train(args):
    """One configuration at every code length its tables and figures read: fit, encode, score."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.studies.hashing.plan import bits_for
    from retrieval_bench.studies.hashing.run import RunSpec, run

    method, hparams = method_of(config, args.configuration)
    bits = bits_for(config, args.protocol, args.configuration)
    spec = RunSpec(Path(args.data), Path(args.split), method, hparams, bits, args.seed,
                   Path(args.reference) if args.reference else None,
                   extra={"protocol": args.protocol, "configuration": args.configuration})
    run(spec, Path(args.out))


def views(args):
    """The deck's works 1 and 2 on the two views of a protocol's data set (two_view.py)."""
    config = setup(args, torch_threads=True)
    import numpy as np

    from retrieval_bench.core.config import scale_block
    from retrieval_bench.core.errors import UserError
    from retrieval_bench.core.io import write_json
    from retrieval_bench.studies.hashing import two_view
    from retrieval_bench.studies.hashing.data import vector_set
    from retrieval_bench.studies.hashing.data.splits import read_split

    data = vector_set.load(Path(args.data))
    if data.view_b is None or data.labels is None or data.labels.ndim != 1:
        raise UserError(f"{args.data}: the deck's works 1 and 2 need a second view and class labels; this data "
                        f"set has {'no second view' if data.view_b is None else 'no class labels'}")
    split = read_split(Path(args.split))
    a, b, labels = data.features, data.view_b, data.labels
    params = scale_block(config)["two_view"]
    measured = two_view.rows(np.asarray(a[split.queries]), np.asarray(b[split.queries]),
                             np.asarray(a[split.database]), np.asarray(b[split.database]),
                             labels[split.queries], labels[split.database], params, args.seed)
    write_json(Path(args.out), {"protocol": args.protocol, "seed": args.seed, "params": params, "rows": measured})


def speed(args):
    """Hamming search throughput on this machine (spec 6, issue item 6)."""
    setup(args)
    from retrieval_bench.studies.hashing.speed import as_markdown, measure

    result = measure(args.queries, args.database, args.bits, args.k, seed=0, device=args.device)
    logging.info("%s", json.dumps(result, indent=2))
    if args.out:
        from retrieval_bench.core.io import write_json, write_text

        write_json(Path(args.out), result)
        write_text(Path(args.out).with_suffix(".md"), as_markdown(result))


def _prepare_arguments(p):
    p.add_argument("--protocol", help="a protocol whose synthetic set is drawn (with --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", help="digits (scikit-learn's), or a thesis-scale set (sift1m, gist1m, "
                   "cifar10_gist, nuswide_bow) read from --source")
    p.add_argument("--source", default="", help="the folder its files were placed in")
    p.add_argument("--out", required=True, help="the prepared vector set's folder")


def _split_arguments(p):
    p.add_argument("--protocol", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", required=True, help="the prepared vector set's folder")
    p.add_argument("--out", required=True, help="the split (.npz)")


def _train_arguments(p):
    p.add_argument("--protocol", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--configuration", required=True)
    p.add_argument("--data", required=True, help="the prepared vector set's folder")
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True, help="the run's folder: metrics.json, codes.npz, curves.csv, "
                   "history.csv")
    p.add_argument("--reference", default="", help="the reference run's codes.npz (LDPH configurations)")


def _views_arguments(p):
    p.add_argument("--protocol", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", required=True, help="the prepared vector set's folder (with view_b.npy)")
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True, help="the metrics JSON")


def _speed_arguments(p):
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--database", type=int, default=1_000_000)
    p.add_argument("--bits", type=int, default=64)
    p.add_argument("--k", type=int, default=1000, help="neighbours returned per query (faiss top-k search)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--out", default="", help="a JSON file for the numbers (and a Markdown one beside it, which "
                   "docs/hashing.md shows: reports/<scale>/hashing_speed.json)")


COMMANDS = [
    Command("hash-prepare", "hashing: a vector set (a synthetic one, scikit-learn's digits, or the thesis's files)",
            prepare, _prepare_arguments),
    Command("hash-split", "hashing: queries, database, training items and the Euclidean k-NN ground truth",
            split, _split_arguments),
    Command("hash-train", "hashing: one configuration at its code lengths (fit, encode, score)", train,
            _train_arguments),
    Command("hash-views", "hashing: the deck's works 1 (CIE) and 2 (complementary supervision) on two views",
            views, _views_arguments),
    Command("hash-speed", "hashing: Hamming search throughput (faiss IndexBinaryFlat) on this machine", speed,
            _speed_arguments),
]
