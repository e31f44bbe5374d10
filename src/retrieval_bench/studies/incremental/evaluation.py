"""A trained model's evaluation: embed each retrieval set's test images (the
class groups so far, or what the protocol's form names), then Recall@K, mAP
and the classifier's top-1 accuracy, written to one metrics.json."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from retrieval_bench.core import runtime
from retrieval_bench.core.config import scale_block
from retrieval_bench.core.io import write_json
from retrieval_bench.retrieval.metrics import map_original_code, mean_average_precision, recall_at_k, same_label
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.measures import top1_accuracy
from retrieval_bench.studies.incremental.protocol import form_of
from retrieval_bench.vision.extract import load_features

log = logging.getLogger(__name__)


def group_metrics(features, labels, ks=(1, 2, 4)) -> dict[str, float]:
    """All retrieval metrics of one retrieval set (query = gallery, leave-one-out), as fractions."""
    relevance = same_label(labels)
    out = {f"recall@{k}": v for k, v in recall_at_k(features, relevance=relevance, ks=ks).items()}
    out["map"] = mean_average_precision(features, relevance=relevance)
    out["map_original_code"] = map_original_code(features, labels)
    out["queries"] = int(len(labels))
    return out


def evaluate_groups(feature_files: list[Path], out: Path, extra: dict | None = None) -> dict:
    """Retrieval metrics per retrieval set (query = gallery = the set's test
    images) and the classifier's top-1 accuracy over all the classes seen;
    `extra` (what the trained model recorded, e.g. accuracy changes) is
    written beside them."""
    groups, seen = {}, []
    for path in feature_files:
        data = load_features(path)
        group = path.stem.removeprefix("group")
        groups[group] = group_metrics(data["features"], data["labels"])
        if "logits" in data:
            groups[group]["top1"] = top1_accuracy(data["logits"], data["labels"])
            seen.append(data)
        log.info("group %s: %s", group, {k: round(v, 4) for k, v in groups[group].items()})
    result = {"groups": groups}
    if seen:
        result["seen"] = {"top1": top1_accuracy(np.concatenate([d["logits"] for d in seen]),
                                                np.concatenate([d["labels"] for d in seen]))}
    result.update(extra or {})
    write_json(out, result)
    return result


def image_source(config: dict, protocol: str) -> dict:
    """ImageSet's `in_memory` and `decoded` arguments for a protocol's images
    under `training.pipeline` (`plan.decoded_cache` says which cache, if any)."""
    pipeline = scale_block(config)["training"]["pipeline"]
    cache = plan.decoded_cache(config, protocol)
    decoded = Path(cache) if cache else None
    datasets = ", ".join(plan.protocol_datasets(config, protocol))
    logging.info("images of %s: pipeline %s%s", datasets, pipeline, f", cache {decoded}" if decoded else "")
    return {"in_memory": pipeline == "memory", "decoded": decoded}


def evaluate_model(config: dict, split, protocol: str, model_path: Path, task: int, features_dir: Path,
                   out: Path) -> None:
    """Embed the test images of every retrieval set of a model after `task`
    (one features file per set), then Recall@K, mAP and the classifier's
    top-1 accuracy; an auxiliary model the run saved is scored on the sets of
    `task` alone."""
    from retrieval_bench.vision.extract import embed, save_features
    from retrieval_bench.vision.loading import ImageSet
    from retrieval_bench.vision.models import load_checkpoint, model_from_checkpoint

    block = scale_block(config)
    device = runtime.device(config)
    checkpoint = load_checkpoint(model_path)
    model = model_from_checkpoint(checkpoint)
    if block["training"]["channels_last"]:
        model.channels_last()
    root = Path(plan.data_root(config, protocol))
    source = image_source(config, protocol)
    form = form_of(config, protocol)
    files, images = [], {}
    for name, rows in form.evaluation_sets(split, task).items():
        if len(rows) < 2:  # a dataset without unseen classes
            continue
        images[name] = ImageSet(rows, root, block["image_size"], train=False, **source)
        tic = time.perf_counter()
        features, logits = embed(model, images[name], block["training"]["eval_batch"], device,
                                 block["training"]["workers"])
        logging.info("%s: embedded %d test images, %.1f images/s", name, len(features),
                     len(features) / (time.perf_counter() - tic))
        files.append(features_dir / f"{name}.npz")
        save_features(files[-1], features, images[name].labels.numpy(), logits)
    extra = {}
    auxiliary = checkpoint.get("auxiliary") or {}
    if auxiliary:  # models a method trained beside the student (Table 7.4's on-the-fly teacher): the last task
        extra["auxiliary"] = {}
        for name, state in auxiliary.items():
            helper = model_from_checkpoint({**checkpoint, "model": state})  # same architecture as the student
            groups = {}
            for set_name in form.task_sets(task):
                if set_name in images:
                    features, _ = embed(helper, images[set_name], block["training"]["eval_batch"], device,
                                        block["training"]["workers"])
                    groups[set_name] = group_metrics(features, images[set_name].labels.numpy())
            extra["auxiliary"][name] = {"groups": groups}
    changes = (checkpoint.get("state") or {}).get("accuracy_changes")
    if changes:  # feature estimation's Eq. 6.6 record (test accuracies, fractions), beside the metrics
        this_task = [entry for entry in changes if entry["task"] == task]
        extra.update({**({"accuracy_change": this_task[-1]} if this_task else {}), "accuracy_changes": changes})
    evaluate_groups(files, out, extra)
