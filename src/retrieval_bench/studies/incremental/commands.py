"""The incremental study's commands: data, splits, pretraining, training,
evaluation and the benchmark (every study on the incremental loop uses them)."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from retrieval_bench.core.commands import Command
from retrieval_bench.core.config import ConfigError, scale_block
from retrieval_bench.core.runtime import STARTED, setup
from retrieval_bench.studies.incremental import plan


def prepare_data(args):
    config = setup(args)
    from retrieval_bench.vision.datasets import prepare

    spec = scale_block(config)["datasets"][args.dataset]
    frame = prepare(spec["kind"], spec, Path(args.out).parent)
    logging.info("%s: %d images, %d classes -> %s", args.dataset, len(frame), frame["class_id"].nunique(), args.out)


def decode_images(args):
    """Decode a dataset's images once into its decoded-image cache (`training.pipeline: decoded`)."""
    config = setup(args)
    from retrieval_bench.vision.datasets import read_manifest
    from retrieval_bench.vision.decoded import build_decoded_cache, shorter_side

    manifest = Path(args.manifest)
    tic = time.perf_counter()
    meta = build_decoded_cache(read_manifest(manifest)["path"], Path(args.out),
                               shorter_side(scale_block(config)["image_size"]), root=manifest.parent,
                               workers=args.workers)
    logging.info("%d images decoded in %.1f s with %d processes", meta["images"], time.perf_counter() - tic,
                 args.workers)


def split(args):
    config = setup(args)
    from retrieval_bench.studies.incremental.protocol import form_of
    from retrieval_bench.studies.incremental.splits import write_split
    from retrieval_bench.vision.datasets import read_manifest

    proto = scale_block(config)["protocols"][args.protocol]
    datasets = plan.protocol_datasets(config, args.protocol)
    if len(args.manifest) != len(datasets):  # a chapter 7 sequence: one manifest per dataset, in its order
        raise ConfigError(f"protocol {args.protocol} reads {len(datasets)} datasets {datasets}; "
                          f"{len(args.manifest)} manifests given")
    form = form_of(config, args.protocol)
    frame = form.make_split({d: read_manifest(Path(m)) for d, m in zip(datasets, args.manifest)}, proto)
    write_split(frame, Path(args.out))
    logging.info("%s split:\n%s", args.protocol, form.split_summary(frame).to_string(index=False))


def pretrain(args):
    config = setup(args, torch_threads=True)
    from retrieval_bench.studies.incremental.pretraining import pretrain_synthetic
    from retrieval_bench.vision.datasets import read_manifest
    from retrieval_bench.vision.loading import ImageSet
    from retrieval_bench.vision.models.weights import fetch_imagenet_weights

    block = scale_block(config)
    pre = block["pretraining"]
    if "weights" in pre:
        fetch_imagenet_weights(block["backbone"], Path(args.out), pre.get("weights_file"),
                               key=f"scales.{config['scale']}.pretraining.weights_file")
        return
    manifest = read_manifest(Path(args.manifest))
    manifest["label"] = manifest["class_id"] - manifest["class_id"].min()
    data = ImageSet(manifest, Path(args.manifest).parent, block["image_size"], train=True, in_memory=True)
    pretrain_synthetic(block["backbone"], block["embedding_dim"], data, pre["epochs"], pre["lr"],
                       block["training"]["batch"], seed=0, out=Path(args.out),
                       channels_last=block["training"]["channels_last"])


def train(args):
    """Train one task; then evaluate the saved model in the same process
    (a second job would pay the start-up cost again)."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.core.io import write_text
    from retrieval_bench.studies.incremental.evaluation import evaluate_model
    from retrieval_bench.studies.incremental.splits import read_split
    from retrieval_bench.studies.incremental.tasks import task_spec
    from retrieval_bench.studies.incremental.train import train_task

    imported = time.perf_counter()
    frame = read_split(Path(args.split))
    spec = task_spec(config, frame, args.protocol, args.configuration, args.task, args.seed)
    ckpt_dir = Path(plan.checkpoint_dir(config, args.protocol, args.seed, args.configuration, args.task))
    result = train_task(spec, Path(args.init) if args.init else None, Path(args.out), ckpt_dir)
    if args.curves:
        import pandas as pd

        curves = pd.DataFrame(result["history"])
        terms = [c for c in curves.columns if c not in ("epoch", "seconds", "images_per_second", "old_map")]
        curves.insert(1, "loss", curves[terms].sum(axis=1, min_count=1))  # the total, beside each term
        write_text(args.curves, curves.to_csv(index=False))
    if args.metrics:
        tic = time.perf_counter()
        evaluate_model(config, frame, args.protocol, Path(args.out), args.task, Path(args.features_dir),
                       Path(args.metrics))
        result["timings"]["evaluation"] = time.perf_counter() - tic
    if args.timings:  # the benchmark's per-phase breakdown; start-up is what precedes `imported`
        result["timings"]["imports_and_config"] = imported - STARTED
        result["timings"]["in_process"] = time.perf_counter() - STARTED
        write_text(args.timings, json.dumps({k: round(v, 4) for k, v in result["timings"].items()}, indent=1))


def evaluate(args):
    config = setup(args, torch_threads=True)
    from retrieval_bench.studies.incremental.evaluation import evaluate_model
    from retrieval_bench.studies.incremental.splits import read_split

    evaluate_model(config, read_split(Path(args.split)), args.protocol, Path(args.model), args.task,
                   Path(args.features_dir), Path(args.out))


def benchmark(args):
    setup(args)
    from retrieval_bench.studies.incremental.benchmark import run_benchmark

    run_benchmark(Path(args.config), Path(args.out), main_job=args.main_job, pipeline=args.pipeline,
                  repeat=args.repeat, cores=args.cores, keep=Path(args.keep) if args.keep else None)
    print(Path(args.out).read_text())


def _prepare_data_arguments(p):
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True, help="data/<scale>/<dataset>/manifest.csv")


def _decode_arguments(p):
    p.add_argument("--manifest", required=True, help="data/<scale>/<dataset>/manifest.csv")
    p.add_argument("--out", required=True, help="the cache folder, data/<scale>/<dataset>/decoded")
    p.add_argument("--workers", type=int, default=1, help="decoding processes")


def _split_arguments(p):
    p.add_argument("--protocol", required=True)
    p.add_argument("--manifest", required=True, nargs="+", help="the dataset's manifest (a sequence: one per dataset)")
    p.add_argument("--out", required=True)


def _pretrain_arguments(p):
    p.add_argument("--manifest", help="manifest of the synthetic pretraining domain (mini)")
    p.add_argument("--out", required=True)


def _train_arguments(p):
    for name in ("protocol", "configuration", "split", "out"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--task", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", help="previous task's model, or pretrained weights for base/joint")
    p.add_argument("--features-dir", help="with --metrics: evaluate the trained model on groups 0..task")
    p.add_argument("--metrics", help="metrics.json of the trained model")
    p.add_argument("--curves", help="CSV of the per-epoch history (epoch, seconds, images/s, loss terms)")
    p.add_argument("--timings", help="JSON of the seconds spent per phase (the benchmark reads it)")


def _evaluate_arguments(p):
    p.add_argument("--protocol", required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--task", type=int, required=True, help="evaluate class groups 0..task")
    p.add_argument("--features-dir", required=True, help="receives group<g>.npz per class group")
    p.add_argument("--out", required=True, help="metrics.json")


def _benchmark_arguments(p):
    p.add_argument("--out", default="reports/mini/benchmark.md", help="Markdown; the figures also go to <out>.json")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of the training job (the median is shown)")
    p.add_argument("--main-job", action="store_true", help="also run the whole main job on fresh outputs")
    p.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count(), help="--cores of the main job (default: this machine's)")
    p.add_argument("--pipeline", action="store_true", help="also the PIL vs decoded-cache pipelines, images/s")
    p.add_argument("--keep", help="work in this directory and keep it (default: a temporary one, removed)")


COMMANDS = [
    Command("prepare-data", "download/verify/extract or synthesise a dataset; write its manifest", prepare_data,
            _prepare_data_arguments),
    Command("decode-images", "decode a dataset's images once into its decoded-image cache", decode_images,
            _decode_arguments),
    Command("split", "apply a protocol's class groups (or sequence) and train/test split", split, _split_arguments),
    Command("pretrain", "pretrained trunk weights: download (thesis) or synthetic pretraining (mini)", pretrain,
            _pretrain_arguments),
    Command("train", "train one task of one configuration (and evaluate it)", train, _train_arguments),
    Command("evaluate", "embed each class group's test images; Recall@K, mAP, top-1", evaluate, _evaluate_arguments),
    Command("benchmark", "time one training job per phase against the machine's limit; optionally the main job "
            "and the thesis-scale data pipelines (in a temporary directory)", benchmark, _benchmark_arguments),
]
