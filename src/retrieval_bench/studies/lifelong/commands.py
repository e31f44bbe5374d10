"""The lifelong study's commands: images generated from a model's BatchNorm
statistics, Table 7.5's judge and scores, Fig. 7.8's noise sensitivity."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from retrieval_bench.core import runtime
from retrieval_bench.core.commands import Command
from retrieval_bench.core.config import ConfigError, scale_block
from retrieval_bench.core.runtime import setup


def generate_images(args):
    """Chapter 7: images inverted from a trained model's BatchNorm statistics
    (Eqs. 7.4-7.5) at the active scale's image size; a torch file and a PNG grid."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.studies.lifelong.generation import (
        generate_batches,
        generation_options,
        save_generated,
        save_grid_png,
    )
    from retrieval_bench.vision.models import load_checkpoint, model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(args.model))
    settings = generation_options(scale_block(config).get("generation"))
    settings.update({key: value for key, value in (("iterations", args.iterations), ("n_clusters", args.clusters),
                                                   ("per_cluster", args.per_cluster), ("batches", args.batches))
                     if value is not None})
    tic = time.perf_counter()
    result = generate_batches(model, image_size=scale_block(config)["image_size"], seed=args.seed,
                              device=runtime.device(config), **settings)
    last = result["log"][-1] if result["log"] else {}
    logging.info("generated %d images in %.1f s; last L_g %s", len(result["images"]), time.perf_counter() - tic,
                 f"{last['total']:.4g}" if last else "-")
    save_generated(args.out, result)
    save_grid_png(args.png, result["images"], nrow=result["settings"]["per_cluster"])


def _block(config: dict, key: str) -> dict:
    block = scale_block(config).get(key)
    if not block:
        raise ConfigError(f"scales.{config['scale']}.{key} is not set; chapter 7's image measurements need it")
    return block


def train_judge(args):
    """Table 7.5 offline: the judge network of spec 10.4, trained on the first
    dataset's real images (seen-train + half of each unseen class)."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.core.io import save_torch
    from retrieval_bench.studies.incremental.splits import read_split
    from retrieval_bench.studies.lifelong.judge import JUDGE_BACKBONE, JUDGE_EMBEDDING_DIM, first_dataset, judge_rows
    from retrieval_bench.studies.lifelong.judge import train_judge as train
    from retrieval_bench.vision.loading import ImageSet

    quality = _block(config, "generation_quality")
    if quality["judge"] != "network":
        raise ConfigError(f"scales.{config['scale']}.generation_quality.judge is {quality['judge']}: "
                          f"nothing to train (the judge is Inception-v3)")
    frame = read_split(Path(args.split))
    rows = judge_rows(frame)
    n_classes = int(first_dataset(frame)["label"].max()) + 1
    data = ImageSet(rows, Path(f"data/{config['scale']}"), scale_block(config)["image_size"], train=False,
                    in_memory=True)
    logging.info("judge: %d images of %d classes", len(data), n_classes)
    history = []
    model = train(data, n_classes, JUDGE_BACKBONE, args.seed, quality["judge_epochs"], quality["judge_lr"],
                  device=runtime.device(config), history=history)
    save_torch({"model": model.cpu().state_dict(), "backbone": JUDGE_BACKBONE, "embedding_dim": JUDGE_EMBEDDING_DIM,
                "n_classes": n_classes, "judge": "network", "seed": args.seed, "images": len(data),
                "history": history}, args.out)


def generation_quality(args):
    """Table 7.5: Inception score and Fréchet distance (on the judge network) of
    the generator's noise, its generated images and the real origin images."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.core.io import save_torch, write_json
    from retrieval_bench.studies.incremental.splits import read_split
    from retrieval_bench.studies.lifelong.judge import generation_quality as measure
    from retrieval_bench.studies.lifelong.judge import load_inception_judge
    from retrieval_bench.vision.models import load_checkpoint, model_from_checkpoint

    quality = _block(config, "generation_quality")
    if quality["judge"] == "inception":
        judge = load_inception_judge()
    elif args.judge:
        judge = model_from_checkpoint(load_checkpoint(args.judge))
    else:
        raise ConfigError("generation_quality.judge is network: give --judge (the train-judge output)")
    generator = model_from_checkpoint(load_checkpoint(args.model))
    result = measure(read_split(Path(args.split)), Path(f"data/{config['scale']}"), scale_block(config)["image_size"],
                     generator, judge, _block(config, "generation"), quality, args.seed, runtime.device(config))
    images = result.pop("images")
    logging.info("origin set: %d images of %d classes (thesis: 4076 of 70)", result["origin_images"],
                 result["origin_classes"])
    save_torch(images, args.images)
    write_json(args.out, result)


def noise_sensitivity(args):
    """Fig. 7.8(a, b): Recall@1 and old-class top-1 of a model under Gaussian noise."""
    config = setup(args, torch_threads=True)
    from retrieval_bench.core.io import write_json
    from retrieval_bench.studies.incremental.splits import read_split
    from retrieval_bench.studies.lifelong.judge import NOISE_STD
    from retrieval_bench.studies.lifelong.judge import noise_sensitivity as measure
    from retrieval_bench.vision.models import load_checkpoint, model_from_checkpoint

    block = scale_block(config)
    records = measure(read_split(Path(args.split)), Path(f"data/{config['scale']}"), block["image_size"],
                      model_from_checkpoint(load_checkpoint(args.model)), args.ratios, args.seed,
                      runtime.device(config), block["training"]["eval_batch"])
    write_json(args.out, {"records": records, "noise_std": NOISE_STD, "seed": args.seed})


def _generate_arguments(p):
    p.add_argument("--model", required=True, help="a trained model.pt")
    p.add_argument("--out", required=True, help="generated.pt: images in [0, 1], cluster labels, loss log")
    p.add_argument("--png", required=True, help="the images as a PNG grid, one row per cluster")
    p.add_argument("--iterations", type=int, help="optimisation steps (default: the scale's generation block)")
    p.add_argument("--clusters", type=int, help="K, clusters in the batch (default: the scale's, 8)")
    p.add_argument("--per-cluster", type=int, help="P, images per cluster (default: the scale's, 4)")
    p.add_argument("--batches", type=int, help="independent K x P batches (default: the scale's generation.batches)")
    p.add_argument("--seed", type=int, default=0)


def _judge_arguments(p):
    p.add_argument("--split", required=True, help="the sequence's split CSV")
    p.add_argument("--out", required=True, help="judge.pt (a model.pt-style checkpoint)")
    p.add_argument("--seed", type=int, default=0, help="the judge's own initialisation and batch order")


def _quality_arguments(p):
    p.add_argument("--split", required=True, help="the sequence's split CSV")
    p.add_argument("--model", required=True, help="the generator: the first task's base model.pt")
    p.add_argument("--judge", help="judge.pt of train-judge (generation_quality.judge: network)")
    p.add_argument("--out", required=True, help="quality.json: one row per image set, the bootstrap floor")
    p.add_argument("--images", required=True, help="generated.pt: the generated and noise images (uint8)")
    p.add_argument("--seed", type=int, default=0)


def _noise_arguments(p):
    p.add_argument("--split", required=True, help="the sequence's split CSV")
    p.add_argument("--model", required=True, help="a model.pt with a classifier (the LwF model of Fig. 7.8)")
    p.add_argument("--out", required=True, help="noise.json")
    p.add_argument("--ratios", type=float, nargs="+", default=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0], help="noise ratios r")
    p.add_argument("--seed", type=int, default=0, help="the noise")


COMMANDS = [
    Command("generate-images", "chapter 7: images from a trained model's BatchNorm statistics (Eqs. 7.4-7.5)",
            generate_images, _generate_arguments),
    Command("train-judge", "Table 7.5 offline: train the judge network on the first dataset's real images",
            train_judge, _judge_arguments),
    Command("generation-quality", "Table 7.5: Inception score and Fréchet distance of noise, generated and real images",
            generation_quality, _quality_arguments),
    Command("noise-sensitivity", "Fig. 7.8(a, b): Recall@1 and old-class top-1 under Gaussian noise",
            noise_sensitivity, _noise_arguments),
]
