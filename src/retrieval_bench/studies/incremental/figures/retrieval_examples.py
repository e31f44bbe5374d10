"""Top-6 retrieved test images of one query per row, framed by whether they are of the query's class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from retrieval_bench.core.config import scale_block
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import (
    TOP,
    RunFigure,
    class_name,
    group_names,
    pyplot,
    row_ids,
    row_runs,
    run_columns,
)
from retrieval_bench.vision.extract import load_features


def query_class_at(spec: dict, scale: str) -> int | None:
    """The query's class at `scale` (one label, or one per scale); None: the group's first."""
    value = spec.get("query_class")
    return value.get(scale) if isinstance(value, dict) else value


def _draw(config, spec, runs):
    """Figs. 6.12-6.16: for one query of class group `group` (the first test
    image of `query_class`, default the group's first class), each row's
    top-6 test images of that group (query excluded, cosine similarity of the
    saved features), framed green (query's class) or red."""
    plt = pyplot()
    from PIL import Image

    from retrieval_bench.studies.incremental.splits import read_split

    group = spec.get("group", 0)
    protocol = spec["protocol"]
    split = read_split(Path(plan.split_manifest(config, protocol)))
    test = split[(split["split"] == "test") & (split["group"] == group)].reset_index(drop=True)  # features' order
    query_class = query_class_at(spec, config["scale"])
    if query_class is None:
        query_class = int(test["label"].min())
    hits = np.flatnonzero(test["label"].to_numpy() == query_class)
    if not len(hits):
        raise ValueError(f"class {query_class} has no test image in group {group} of {protocol}")
    query = int(hits[0])
    root = Path(plan.dataset_manifest(config, scale_block(config)["protocols"][protocol]["dataset"])).parent
    records = []
    for run in row_runs(runs):
        data = load_features(Path(plan.features_dir(config, run)) / f"group{group}.npz")
        if not np.array_equal(data["labels"], test["label"].to_numpy()):
            raise ValueError(f"{plan.features_dir(config, run)}/group{group}.npz does not list the test images of "
                             f"{plan.split_manifest(config, protocol)} in split order")
        x = data["features"] / np.maximum(np.linalg.norm(data["features"], axis=1, keepdims=True), 1e-12)
        similarity = x @ x[query]
        order = np.argsort(-similarity, kind="stable")
        found = order[order != query][:TOP]
        for rank, index in enumerate([query, *found]):
            item = test.iloc[index]
            records.append({**run_columns(run), "group": group, "rank": rank, "index": int(index), "path": item["path"],
                            "label": int(item["label"]), "class_name": item["class_name"],
                            "similarity": None if rank == 0 else float(similarity[index]),
                            "correct": None if rank == 0 else bool(item["label"] == query_class)})
    data = pd.DataFrame(records)

    rows = row_ids(runs)
    fig, axes = plt.subplots(len(rows), TOP + 1, figsize=(1.7 * (TOP + 1), 2.1 * len(rows) + 0.6), squeeze=False,
                             layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")  # a group with fewer than TOP + 1 test images leaves some empty
    for line, row in zip(axes, rows):
        for ax, item in zip(line, data[data["row"] == row].itertuples()):
            ax.axis("on")
            with Image.open(root / item.path) as image:
                image = image.convert("RGB")
                image.thumbnail((160, 160))
                ax.imshow(np.asarray(image))
            colour = "black" if item.rank == 0 else "tab:green" if item.correct else "tab:red"
            ax.set(xticks=[], yticks=[])
            for side in ax.spines.values():
                side.set(color=colour, linewidth=3 if item.rank else 1.5)
            ax.set_xlabel(class_name(item.class_name), fontsize=6)
            if item.rank == 0:
                ax.set_ylabel(row, fontsize=8)
                ax.set_title("query", fontsize=7)
            else:
                ax.set_title(f"top {item.rank}", fontsize=7)
    last = plan.last_task(config, protocol)
    fig.supxlabel(f"models after task {last}, tested on {group_names(config, protocol)[group]}; green: the "
                  f"query's class, red: another", fontsize=8)
    return fig, data


class RetrievalExamples(RunFigure):
    name = "retrieval_examples"
    label = "Retrieval examples"
    caption = "Top-6 retrieved test images of one query per row, framed by whether they are of the query's class"
    options = {
        "group": {"type": "integer", "minimum": 0,
                  "description": "the class group whose test images are queried and retrieved"},
        "query_class": {
            "description": "the query's class as the split's 0-based label, one for every scale or one per scale "
                           "(thesis Fig. 6.12: {thesis: 51}, 052.Pied_billed_Grebe); its first test image is the "
                           "query. Default (and at a scale not named): the group's first class",
            "oneOf": [{"type": "integer", "minimum": 0},
                      {"type": "object", "additionalProperties": False,
                       "properties": {"mini": {"type": "integer", "minimum": 0},
                                      "thesis": {"type": "integer", "minimum": 0}}}]},
    }

    def paths(self, config, figure):  # the split lists the test images in the features files' order
        return super().paths(config, figure) + [plan.split_manifest(config, config["figures"][figure]["protocol"])]

    def check(self, config, where, spec):
        super().check(config, where, spec)
        group = spec.get("group", 0)
        for name, scale in config["scales"].items():
            if spec["protocol"] not in scale["protocols"]:
                continue
            groups = scale["protocols"][spec["protocol"]]["groups"]
            if group >= len(groups):
                raise ValueError(f"{where}.group: {group}, but protocol {spec['protocol']} has groups "
                                 f"0..{len(groups) - 1} at scale {name}")
            first, query = sum(groups[:group]), query_class_at(spec, name)
            if query is not None and not first <= query < first + groups[group]:
                raise ValueError(f"{where}.query_class: {query} is not in group {group} at scale {name} "
                                 f"(labels {first}..{first + groups[group] - 1})")

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = RetrievalExamples()
