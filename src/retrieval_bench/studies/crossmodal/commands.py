"""The cross-modal study's commands.  Chapter 3: a paired data set (drawn or
read from the thesis's files), its split, and one training run (train,
encode, score).  Chapter 4: a captioned data set, one embedding run, the
complexity of a trained model (Table 4.6) and a backbone's weights."""

from __future__ import annotations

import logging
from pathlib import Path

from retrieval_bench.core.commands import Command
from retrieval_bench.core.config import ConfigError, method_of
from retrieval_bench.core.io import write_text
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


def captions(args):
    """A captioned data set: a protocol's synthetic stand-in, or a thesis data set read from the files
    placed in data/thesis/<dataset>/."""
    config = setup(args)
    from retrieval_bench.studies.crossmodal.data import captions as captioned
    from retrieval_bench.studies.crossmodal.plan import CAPTION_STAND_INS, captions_block

    try:
        block = captions_block(config, args.protocol)
    except KeyError:
        raise ConfigError(f"protocol {args.protocol!r} is not a captioned protocol of scale "
                          f"{config['scale']}") from None
    out = Path(args.out)
    if block["dataset"] in CAPTION_STAND_INS:
        from retrieval_bench.studies.crossmodal.data.synthetic_captions import generate

        data, scenes = generate(block["dataset"], **block.get("sizes", {}))
        captioned.save(data, out)
        write_text(out / "scenes.txt", "".join(f"{s}\n" for s in scenes))
    else:
        from retrieval_bench.studies.crossmodal.data.caption_sets import prepare as prepare_thesis

        data = prepare_thesis(block["dataset"], Path(args.source or f"data/thesis/{block['dataset']}"), out,
                              block.get("options"))
    logging.info("%s: %s", args.protocol, data.statistics())


def embed(args):
    """One chapter 4 run: train the configuration's method with the row's backbone, embed the test set,
    score both directions; the embeddings, metrics and history beside the model."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.core.runtime import device
    from retrieval_bench.studies.crossmodal.config import embedding_schedule
    from retrieval_bench.studies.crossmodal.plan import backbone_model, backbone_weights, captions_block
    from retrieval_bench.studies.crossmodal.sentence_run import RunSpec, run

    method, hparams = method_of(config, args.configuration)
    weights = backbone_weights(config, args.backbone)
    spec = RunSpec(Path(args.data), captions_block(config, args.protocol)["name"], method, hparams,
                   backbone_model(config, args.backbone), args.seed, embedding_schedule(config, args.protocol),
                   Path(weights[0]) if weights else None,
                   extra={"protocol": args.protocol, "configuration": args.configuration, "backbone": args.backbone})
    run(spec, Path(args.out), Path(args.checkpoints), device(config))


def complexity(args):
    """Table 4.6 for one trained model: image and text FLOPs, parameters (with the actual vocabulary and
    with the thesis's 12,000 rows) and inference milliseconds per pair on this machine."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.core.io import write_json
    from retrieval_bench.core.runtime import device
    from retrieval_bench.studies.crossmodal.complexity import measure

    write_json(Path(args.out), measure(config, Path(args.run), Path(args.data), args.protocol, device(config)))


def backbone(args):
    """A thesis backbone's ImageNet weights: kept where they are, else downloaded from the publisher's
    URL where the network allows, else one message saying where to put the file."""
    setup(args)
    from retrieval_bench.vision.models.image_trunks import place_backbone_weights

    place_backbone_weights(args.model, Path(args.out))


def _captions_arguments(p):
    p.add_argument("--protocol", required=True)
    p.add_argument("--source", default="", help="a thesis data set's placed files (default data/thesis/<dataset>)")
    p.add_argument("--out", required=True, help="the prepared data set's folder")


def _embed_arguments(p):
    _common(p)
    p.add_argument("--configuration", required=True)
    p.add_argument("--backbone", required=True, help="the thesis's backbone name (vgg, mobilenet, resnet50, "
                   "resnet152); the scale's crossmodal_embedding.backbones maps it to a model")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="the run's folder: metrics.json, embeddings.npz, history.csv, "
                   "model.pt")
    p.add_argument("--checkpoints", required=True, help="where the resume point lives (outside the outputs)")


def _complexity_arguments(p):
    _common(p)
    p.add_argument("--run", required=True, help="a trained run's folder (its model.pt)")
    p.add_argument("--data", required=True, help="its prepared data set (the vocabulary, an image)")
    p.add_argument("--out", required=True, help="the complexity JSON")


def _backbone_arguments(p):
    p.add_argument("--model", required=True, help="vgg16, mobilenet_v1, mobilenet_v2, resnet50 or resnet152")
    p.add_argument("--out", required=True, help="where the weights file goes")


COMMANDS = [
    Command("xm-prepare", "chapter 3: a paired image-text data set (a synthetic stand-in, or the thesis's files)",
            prepare, _prepare_arguments),
    Command("xm-split", "chapter 3: DCMH's query / database / training split of a paired data set", split,
            _split_arguments),
    Command("xm-weights", "chapter 3: CNN-F's MatConvNet weights, placed or downloaded, md5 recorded", weights,
            _weights_arguments),
    Command("xm-train", "chapter 3: one cross-modal hashing run (train, encode, score)", train, _train_arguments),
    Command("xm-captions", "chapter 4: a captioned image set (a synthetic stand-in, or the thesis's files)",
            captions, _captions_arguments),
    Command("xm-embed", "chapter 4: one image-sentence embedding run (train, embed, score)", embed,
            _embed_arguments),
    Command("xm-complexity", "chapter 4: FLOPs, parameters and inference time of a trained model (Table 4.6)",
            complexity, _complexity_arguments),
    Command("xm-backbone", "chapter 4: a thesis backbone's ImageNet weights, placed or downloaded", backbone,
            _backbone_arguments),
]
