"""The cross-modal study's commands: a paired data set (drawn or read from the
thesis's files), its split, and one training run (train, encode, score)."""

from __future__ import annotations

import logging
from pathlib import Path

from retrieval_bench.core.commands import Command
from retrieval_bench.core.config import ConfigError, method_of
from retrieval_bench.core.runtime import setup


def _paired(config: dict, protocol: str) -> dict:
    from retrieval_bench.studies.crossmodal.plan import paired_block

    try:
        return paired_block(config, protocol)
    except KeyError:
        raise ConfigError(f"protocol {protocol!r} is not a paired protocol of scale {config['scale']}") from None


def prepare(args):
    """A paired data set: a protocol's synthetic stand-in drawn for one seed, or a thesis data set read
    from the files placed in --source."""
    config = setup(args)
    from retrieval_bench.studies.crossmodal.data import paired

    if args.dataset:
        from retrieval_bench.studies.crossmodal.data.thesis_sets import prepare as prepare_thesis

        data = prepare_thesis(args.dataset, Path(args.source), Path(args.out))
    else:
        from retrieval_bench.studies.crossmodal.data.synthetic_multilabel import generate

        block = _paired(config, args.protocol)
        data = generate(block["dataset"], args.seed, **block.get("generator", {}))
        paired.save(data, Path(args.out))
    logging.info("%s: %s", args.dataset or args.protocol, data.statistics())


def split(args):
    """DCMH's split: queries, database, training pairs (a seeded permutation)."""
    config = setup(args)
    from retrieval_bench.core.io import read_json
    from retrieval_bench.studies.crossmodal.data.splits import hashing_split, write_split

    block = _paired(config, args.protocol)
    pairs = read_json(Path(args.data) / "info.json")["statistics"]["pairs"]
    write_split(hashing_split(pairs, block["queries"], block["train"], args.seed), Path(args.out))


def train(args):
    """One run: train the configuration's method at one code length, encode every query and database
    item, score both directions; the codes, metrics, lookup PR and history beside the model."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.studies.crossmodal.config import schedule_for
    from retrieval_bench.studies.crossmodal.plan import image_weights
    from retrieval_bench.studies.crossmodal.run import RunSpec, run

    method, hparams = method_of(config, args.configuration)
    schedule = schedule_for(config, method)
    ties = schedule.pop("ties")
    schedule.pop("cnn_f_weights")
    weights = image_weights(config, args.protocol)
    spec = RunSpec(Path(args.data), Path(args.split), method, hparams, args.bits, args.seed, schedule, ties,
                   Path(weights[0]) if weights else None,
                   extra={"protocol": args.protocol, "configuration": args.configuration})
    from retrieval_bench.core.runtime import device

    run(spec, Path(args.out), Path(args.checkpoints), device(config))


def weights(args):
    """CNN-F's MatConvNet file: kept where it is (its md5 recorded the first time), downloaded from
    MatConvNet's site where the network allows, else one message saying where to put it."""
    setup(args)
    import urllib.error
    import urllib.request

    from retrieval_bench.core.io import atomic_path
    from retrieval_bench.studies.crossmodal.data.thesis_sets import checked_md5
    from retrieval_bench.vision.archives import ArchiveError
    from retrieval_bench.vision.models.cnn_f import WEIGHTS_URL

    out = Path(args.out)
    if not out.is_file():
        try:
            with atomic_path(out) as tmp, urllib.request.urlopen(WEIGHTS_URL, timeout=60) as response:
                tmp.write_bytes(response.read())
        except (urllib.error.URLError, OSError) as e:
            raise ArchiveError(f"could not download CNN-F's weights from {WEIGHTS_URL} ({e}); place "
                               f"{out.name} by hand at {out} (md5: none published; the md5 of the first copy "
                               f"used is recorded in {out}.md5)") from None
    logging.info("%s: md5 %s", out, checked_md5(out))


def _weights_arguments(p):
    p.add_argument("--out", required=True, help="where CNN-F's MatConvNet file goes (crossmodal_training."
                   "cnn_f_weights)")


def _common(p):
    p.add_argument("--protocol", required=True)
    p.add_argument("--seed", type=int, default=0)


def _prepare_arguments(p):
    p.add_argument("--protocol", help="a protocol whose synthetic stand-in is drawn (with --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", help="a thesis data set (mirflickr25k, nuswide21), read from --source")
    p.add_argument("--source", default="", help="the folder its files were placed in")
    p.add_argument("--out", required=True, help="the prepared data set's folder")


def _split_arguments(p):
    _common(p)
    p.add_argument("--data", required=True, help="the prepared data set's folder")
    p.add_argument("--out", required=True, help="the split CSV")


def _train_arguments(p):
    _common(p)
    p.add_argument("--configuration", required=True)
    p.add_argument("--bits", type=int, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True, help="the run's folder: metrics.json, codes.npz, pr.csv, history.csv, "
                   "model.pt")
    p.add_argument("--checkpoints", required=True, help="where the resume point lives (outside the outputs)")


COMMANDS = [
    Command("xm-prepare", "chapter 3: a paired image-text data set (a synthetic stand-in, or the thesis's files)",
            prepare, _prepare_arguments),
    Command("xm-split", "chapter 3: DCMH's query / database / training split of a paired data set", split,
            _split_arguments),
    Command("xm-weights", "chapter 3: CNN-F's MatConvNet weights, placed or downloaded, md5 recorded", weights,
            _weights_arguments),
    Command("xm-train", "chapter 3: one cross-modal hashing run (train, encode, score)", train, _train_arguments),
]
