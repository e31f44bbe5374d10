"""The thesis's figures (chapters 5-7) as PNG files (matplotlib, no
display needed), each with the numbers it plots as a long-form CSV beside it.

Accuracies are in percent (the thesis's axes); a run's metrics come from its
metrics JSON (groups -> group id -> recall@1 / map, as fractions).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from incremental_retrieval import plan  # noqa: E402
from incremental_retrieval.config import query_class as cfg_query_class  # noqa: E402
from incremental_retrieval.config import rows_of, scale_block  # noqa: E402
from incremental_retrieval.extract import load_features  # noqa: E402
from incremental_retrieval.io import atomic_path, read_json  # noqa: E402
from incremental_retrieval.metrics import accuracy_matrix, average_forgetting, original_forgetting  # noqa: E402
from incremental_retrieval.metrics import precision_recall_curve, sample_gram  # noqa: E402

TOP = 6  # retrieved images shown per query (Figs. 6.12-6.16)


def build_figure(config: dict, figure: str, out: Path, csv: Path | None = None) -> None:
    """Draw `figure` to `out` (PNG) and write its plotted numbers to `csv`
    (default: beside the PNG); both appear only once both are complete."""
    spec = config["figures"][figure]
    runs = plan.figure_runs(config, figure)
    fig, data = DRAW[spec["kind"]](config, spec, runs)
    fig.suptitle(f"{figure.replace('_', ' ')} ({config['scale']} scale, protocol {spec['protocol']})", fontsize=10)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    out = Path(out)
    with contextlib.ExitStack() as stack:
        png, table = (stack.enter_context(atomic_path(p)) for p in (out, csv or out.with_suffix(".csv")))
        fig.savefig(png, format="png", dpi=110)
        data.to_csv(table, index=False, float_format="%.10g")  # 55.00000000000001 -> 55
    plt.close(fig)


def _key(run) -> dict:
    return {"row": run.row, "configuration": run.configuration, "task": run.task}


def pr_curves(config, spec, runs):
    """Figs. 5.3/5.4 (a, b): precision-recall on the old and on the new classes."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    records = []
    for run in runs:
        folder = Path(plan.features_dir(config, run))
        for ax, group in zip(axes, (0, run.task)):
            data = load_features(folder / f"group{group}.npz")
            recall, precision = precision_recall_curve(data["features"], data["labels"])
            ax.plot(recall, precision, label=run.row)
            records += [{**_key(run), "group": group, "recall": r, "precision": p} for r, p in zip(recall, precision)]
    for ax, title in zip(axes, ("old classes", "new classes")):
        ax.set(title=title, xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    return fig, pd.DataFrame(records)


def _checkpoint(config, run) -> dict:
    from incremental_retrieval.models import load_checkpoint

    return load_checkpoint(Path(plan.trained_model(config, run)))


def _retrain(config, run, what: str) -> ValueError:
    # Snakemake reruns a run that becomes a row; a model made otherwise lacks what the figure plots
    return ValueError(f"{plan.trained_model(config, run)} has no {what} (it was trained while not a row of this "
                      f"figure); retrain it: snakemake --forcerun {plan.trained_model(config, run)}")


def map_per_epoch(config, spec, runs):
    """Figs. 5.3/5.4 (c), 6.6a: old-class mAP after every epoch of the incremental task."""
    fig, ax = plt.subplots(figsize=(6, 4))
    records = []
    for run in runs:
        points = [(h["epoch"], 100 * h["old_map"]) for h in _checkpoint(config, run)["history"] if "old_map" in h]
        if not points:
            raise _retrain(config, run, "old-class mAP curve")
        ax.plot(*zip(*points), marker=".", label=run.row)
        records += [{**_key(run), "epoch": e, "old_map": v} for e, v in points]
    ax.set(xlabel="epoch of incremental training", ylabel="mAP on the old classes (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig, pd.DataFrame(records)


def epoch_time(config, spec, runs):
    """Figs. 5.3/5.4 (d): mean training time per epoch (joint: on all classes)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    seconds = [np.mean([h["seconds"] for h in _checkpoint(config, run)["history"] if "seconds" in h])
               for run in runs]
    ax.bar([run.row for run in runs], seconds, color="tab:blue")
    ax.set(ylabel="seconds per epoch")
    ax.tick_params(axis="x", rotation=30)
    return fig, pd.DataFrame([{**_key(run), "seconds_per_epoch": s} for run, s in zip(runs, seconds)])


def tsne(config, spec, runs, n_classes: int = 6):
    """Fig. 5.5: t-SNE of old-class features of the base model (circles) and
    of each row's model (triangles), e.g. without and with the MMD loss."""
    from sklearn.manifold import TSNE

    base, *rows = runs
    reference = load_features(Path(plan.features_dir(config, base)) / "group0.npz")
    classes = np.unique(reference["labels"])[:n_classes]
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 4.5), squeeze=False)
    colours = plt.cm.tab10(np.arange(n_classes))
    records = []
    for ax, run in zip(axes[0], rows):
        trained = load_features(Path(plan.features_dir(config, run)) / "group0.npz")
        keep_a, keep_b = np.isin(reference["labels"], classes), np.isin(trained["labels"], classes)
        points = np.concatenate([reference["features"][keep_a], trained["features"][keep_b]])
        embedded = TSNE(n_components=2, perplexity=min(30, len(points) // 4), random_state=0,
                        init="pca").fit_transform(points)
        n_a = int(keep_a.sum())
        for c, colour in zip(classes, colours):
            a = reference["labels"][keep_a] == c
            b = trained["labels"][keep_b] == c
            ax.scatter(*embedded[:n_a][a].T, marker="o", s=14, color=colour, alpha=0.6)
            ax.scatter(*embedded[n_a:][b].T, marker="^", s=14, color=colour, alpha=0.9)
        ax.set(title=f"{run.row}: base (o) vs trained (^)", xticks=[], yticks=[])
        for model, images, labels, xy in (("base", np.flatnonzero(keep_a), reference["labels"][keep_a],
                                           embedded[:n_a]),
                                          ("trained", np.flatnonzero(keep_b), trained["labels"][keep_b],
                                           embedded[n_a:])):
            records += [{**_key(run), "model": model, "image": int(i), "label": int(y), "x": p[0], "y": p[1]}
                        for i, y, p in zip(images, labels, xy)]
    return fig, pd.DataFrame(records)


# --- chapter 6 -------------------------------------------------------------

def _rows(runs) -> list:
    """The runs of the figure's rows (not the base models, not the reference)."""
    return [run for run in runs if run.row != plan.REFERENCE and run.configuration != "base"]


def _reference(runs):
    return next((run for run in runs if run.row == plan.REFERENCE), None)


def _row_ids(runs) -> list[str]:
    return list(dict.fromkeys(run.row for run in _rows(runs)))


def _groups(config, run) -> dict[int, dict]:
    return {int(g): values for g, values in read_json(plan.metrics_path(config, run))["groups"].items()}


def _accuracy(config, runs, row: str, metric: str) -> np.ndarray:
    """a[t, g] in percent: `metric` on class group g after task t of `row`,
    task 0 being the shared base model; NaN where no model was evaluated."""
    mine = [run for run in _rows(runs) if run.row == row]
    protocol = mine[0].protocol
    base = next(run for run in runs if run.configuration == "base" and run.task == 0 and run.protocol == protocol)
    return accuracy_matrix({run.task: _groups(config, run) for run in [base, *mine]}, metric,
                           plan.last_task(config, protocol))


def _group_names(config, protocol: str) -> list[str]:
    """'cls (1-100)', 'cls (101-125)', ...: the thesis's class-group labels."""
    bounds = np.cumsum([0, *scale_block(config)["protocols"][protocol]["groups"]])
    return [f"cls ({lo + 1}-{hi})" for lo, hi in zip(bounds[:-1], bounds[1:])]


def _configuration(runs, row: str) -> str:
    return next(run.configuration for run in runs if run.row == row)


def _reference_label(run) -> str:
    return f"reference ({run.configuration})"


def forgetting(config, spec, runs):
    """Fig. 6.7: average forgetting (Eq. 6.12 on mAP) after every task, a bar per row."""
    rows = _row_ids(runs)
    last = plan.last_task(config, spec["protocol"])
    records = []
    for row in rows:
        a = _accuracy(config, runs, row, "map")
        records += [{"row": row, "configuration": _configuration(runs, row), "task": t, "metric": "forgetting_map",
                     "value": average_forgetting(a, t)} for t in range(1, last + 1)]
    data = pd.DataFrame(records)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * last + 0.4 * len(rows)), 4))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        mine = data[data["row"] == row]
        ax.bar(mine["task"] + (i - (len(rows) - 1) / 2) * width, mine["value"], width, label=row)
    ax.set(xlabel="task t", ylabel="average forgetting on mAP (points)", xticks=range(1, last + 1))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=2)
    return fig, data


def final_groups(config, spec, runs):
    """Fig. 6.8: Recall@1 of each row's final model on every class group, and the reference's."""
    names = _group_names(config, spec["protocol"])
    shown = _rows(runs) + [r for r in [_reference(runs)] if r is not None]
    records = [{**_key(run), "group": g, "classes": names[g], "metric": "recall@1", "value": 100 * v["recall@1"]}
               for run in shown for g, v in sorted(_groups(config, run).items())]
    data = pd.DataFrame(records)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(names)), 4))
    width = 0.8 / len(shown)
    for i, run in enumerate(shown):
        mine = data[data["row"] == run.row]
        style = {"color": "0.75", "edgecolor": "black", "hatch": "//"} if run.row == plan.REFERENCE else {}
        ax.bar(mine["group"] + (i - (len(shown) - 1) / 2) * width, mine["value"], width,
               label=_reference_label(run) if run.row == plan.REFERENCE else run.row, **style)
    ax.set(xticks=range(len(names)), xticklabels=names, ylabel="Recall@1 (%)",
           xlabel=f"class group (final model after task {plan.last_task(config, spec['protocol'])})")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=2)
    return fig, data


def new_group_curve(config, spec, runs):
    """Fig. 6.9: Recall@1 of class group t by the model right after task t (group 0: the base model)."""
    names = _group_names(config, spec["protocol"])
    records = []
    for row in _row_ids(runs):
        a = _accuracy(config, runs, row, "recall@1")
        records += [{"row": row, "configuration": _configuration(runs, row), "task": t, "group": t,
                     "classes": names[t], "metric": "recall@1", "value": a[t, t]} for t in range(len(a))]
    data = pd.DataFrame(records)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)), 4))
    for row in _row_ids(runs):
        mine = data[data["row"] == row]
        ax.plot(mine["task"], mine["value"], marker="o", label=row)
    ax.set(xticks=range(len(names)), xticklabels=names, ylabel="Recall@1 on the new group (%)",
           xlabel="class group, tested right after the task that adds it")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig, data


def _old_class_gram(config, run):
    """(Gram matrix, labels) of the fixed old-class sample from a model's saved group-0 test features."""
    data = load_features(Path(plan.features_dir(config, run)) / "group0.npz")
    return sample_gram(data["features"], data["labels"])


def _gram_records(key: dict, gram, labels, value: str = "gram") -> list[dict]:
    n = len(labels)
    return [{**key, "i": i, "j": j, "label_i": int(labels[i]), "label_j": int(labels[j]), value: float(gram[i, j])}
            for i in range(n) for j in range(n)]


def _heat_map(ax, gram, vmin, vmax, title):
    image = ax.imshow(gram, cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set(title=title, xticks=[], yticks=[])
    ax.title.set_fontsize(8)
    return image


def group_curve(config, spec, runs):
    """Figs. 6.10/6.11: the original classes (group 0) after every task: (a)
    Recall@1, (b) mAP, or with `panel: forgetting` its Recall@1 forgetting
    max_{l<t} Acc_{l,0} - Acc_{t,0}; the reference's final model as a
    horizontal upper bound; `insets: gram` adds the Gram matrices of the
    final models' old-class sample."""
    rows, reference = _row_ids(runs), _reference(runs)
    second = spec.get("panel", "map")
    records = []
    for row in rows:
        key = {"row": row, "configuration": _configuration(runs, row), "group": 0}
        r1 = _accuracy(config, runs, row, "recall@1")
        records += [{**key, "task": t, "metric": "recall@1", "value": v} for t, v in enumerate(r1[:, 0])]
        if second == "map":
            ap = _accuracy(config, runs, row, "map")[:, 0]
            records += [{**key, "task": t, "metric": "map", "value": v} for t, v in enumerate(ap)]
        else:
            records += [{**key, "task": t, "metric": "forgetting_recall@1", "value": original_forgetting(r1, t)}
                        for t in range(1, len(r1))]
    if reference is not None:
        final = _groups(config, reference)[0]
        records += [{**_key(reference), "group": 0, "metric": m, "value": 100 * final[m]}
                    for m in ("recall@1", "map") if m == "recall@1" or second == "map"]
    finals = []
    if spec.get("insets") == "gram":
        last = plan.last_task(config, spec["protocol"])
        finals = [run for run in _rows(runs) if run.task == last] + ([reference] if reference else [])
        for run in finals:
            gram, labels = _old_class_gram(config, run)
            records += _gram_records({**_key(run), "group": 0, "metric": "gram"}, gram, labels, value="value")
    data = pd.DataFrame(records)

    fig = plt.figure(figsize=(11, 7.2 if finals else 4.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.2, 1]) if finals else (fig, None)
    axes = top.subplots(1, 2)
    panels = [("recall@1", "Recall@1 on group 0 (%)"),
              ("map", "mAP on group 0 (%)") if second == "map" else
              ("forgetting_recall@1", "forgetting of group 0 on Recall@1 (points)")]
    curves = data[data["row"] != plan.REFERENCE]
    for ax, (metric, label), letter in zip(axes, panels, "ab"):
        for row in rows:
            mine = curves[(curves["row"] == row) & (curves["metric"] == metric)]
            ax.plot(mine["task"], mine["value"], marker="o", markersize=4, label=row)
        bound = data[(data["row"] == plan.REFERENCE) & (data["metric"] == metric)]
        if len(bound):
            ax.axhline(bound["value"].iloc[0], color="black", linestyle="--", linewidth=1,
                       label=_reference_label(reference))
        ax.set(xlabel="task t", ylabel=label, title=f"({letter})")
        ax.set_xticks(sorted(curves.loc[curves["metric"] == metric, "task"].unique()))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    if finals:
        grams = data[data["metric"] == "gram"]
        small = bottom.subplots(1, len(finals), squeeze=False)[0]
        for ax, run in zip(small, finals):
            mine = grams[grams["row"] == run.row]
            n = int(mine["i"].max()) + 1
            image = _heat_map(ax, mine["value"].to_numpy().reshape(n, n), grams["value"].min(),
                              grams["value"].max(), _reference_label(run) if run.row == plan.REFERENCE else run.row)
        bottom.colorbar(image, ax=small.tolist(), shrink=0.8)
        bottom.suptitle("Gram matrices of the final models (old-class sample)", fontsize=9)
    return fig, data


def gram_matrices(config, spec, runs):
    """Fig. 6.6b: Gram matrices of the fixed old-class sample at the start,
    middle and end of the incremental task (the rows' monitored snapshots)
    and of the reference's final model, on one colour scale."""
    rows, reference = _rows(runs), _reference(runs)
    snapshots = {}
    for run in rows:
        snap = _checkpoint(config, run).get("gram_snapshots")
        if not snap or not snap["epochs"]:
            raise _retrain(config, run, "Gram snapshots")
        snapshots[run] = snap
    epochs = sorted(int(e) for e in snapshots[rows[0]]["epochs"])
    trained = [e for e in epochs if e > 0] or epochs  # epoch 0 is the base model, the same for every row
    columns = list(dict.fromkeys([trained[0], trained[len(trained) // 2], trained[-1]]))
    records = []
    for run in rows:
        snap = snapshots[run]
        grams = {int(e): np.asarray(g) for e, g in snap["epochs"].items()}
        missing = [e for e in columns if e not in grams]
        if missing:
            raise ValueError(f"{plan.trained_model(config, run)} has no Gram snapshot of epoch(s) {missing}")
        for e in columns:
            records += _gram_records({**_key(run), "epoch": e}, grams[e], snap["sample"]["labels"])
    if reference is not None:
        gram, labels = _old_class_gram(config, reference)
        if list(labels) != list(snapshots[rows[0]]["sample"]["labels"]):
            raise ValueError(f"{plan.features_dir(config, reference)}: its old-class sample differs from the rows'")
        records += _gram_records({**_key(reference), "epoch": None}, gram, labels)  # its final model
    data = pd.DataFrame(records)

    shown = ([reference] if reference else []) + rows
    fig, axes = plt.subplots(len(shown), len(columns), figsize=(2.6 * len(columns) + 1, 2.5 * len(shown)),
                             squeeze=False, layout="constrained")
    vmin, vmax = data["gram"].min(), data["gram"].max()
    for line, run in zip(axes, shown):
        mine = data[data["row"] == run.row]
        n = int(mine["i"].max()) + 1
        for c, (ax, e) in enumerate(zip(line, columns)):
            if run.row == plan.REFERENCE:
                if c:
                    ax.axis("off")
                    continue
                image = _heat_map(ax, mine["gram"].to_numpy().reshape(n, n), vmin, vmax, "final model")
            else:
                at = mine[mine["epoch"] == e]
                image = _heat_map(ax, at["gram"].to_numpy().reshape(n, n), vmin, vmax, f"epoch {e}")
            if c == 0:
                ax.set_ylabel(_reference_label(run) if run.row == plan.REFERENCE else run.row, fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="cosine similarity")
    return fig, data


def _class_name(name: str) -> str:
    """'052.Pied_billed_Grebe' -> 'Pied billed Grebe'."""
    head, _, rest = str(name).partition(".")
    return (rest if head.isdigit() and rest else str(name)).replace("_", " ")


def retrieval_examples(config, spec, runs):
    """Figs. 6.12-6.16: for one query of class group `group` (the first test
    image of `query_class`, default the group's first class), each row's
    top-6 test images of that group (query excluded, cosine similarity of the
    saved features), framed green (query's class) or red."""
    from PIL import Image

    from incremental_retrieval.data.splits import read_split

    group = spec.get("group", 0)
    protocol = spec["protocol"]
    split = read_split(Path(plan.split_manifest(config, protocol)))
    test = split[(split["split"] == "test") & (split["group"] == group)].reset_index(drop=True)  # features' order
    query_class = cfg_query_class(spec, config["scale"])
    if query_class is None:
        query_class = int(test["label"].min())
    hits = np.flatnonzero(test["label"].to_numpy() == query_class)
    if not len(hits):
        raise ValueError(f"class {query_class} has no test image in group {group} of {protocol}")
    query = int(hits[0])
    root = Path(plan.dataset_manifest(config, scale_block(config)["protocols"][protocol]["dataset"])).parent
    records = []
    for run in _rows(runs):
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
            records.append({**_key(run), "group": group, "rank": rank, "index": int(index), "path": item["path"],
                            "label": int(item["label"]), "class_name": item["class_name"],
                            "similarity": None if rank == 0 else float(similarity[index]),
                            "correct": None if rank == 0 else bool(item["label"] == query_class)})
    data = pd.DataFrame(records)

    rows = _row_ids(runs)
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
            ax.set_xlabel(_class_name(item.class_name), fontsize=6)
            if item.rank == 0:
                ax.set_ylabel(row, fontsize=8)
                ax.set_title("query", fontsize=7)
            else:
                ax.set_title(f"top {item.rank}", fontsize=7)
    last = plan.last_task(config, protocol)
    fig.supxlabel(f"models after task {last}, tested on {_group_names(config, protocol)[group]}; green: the "
                  f"query's class, red: another", fontsize=8)
    return fig, data


# --- chapter 7 -------------------------------------------------------------

def _sequence(config, protocol: str) -> list[dict]:
    return scale_block(config)["protocols"][protocol]["sequence"]


def _task_epochs(config, protocol: str) -> list[int]:
    """Cumulative training epochs at the end of every task (Fig. 7.3's x axis)."""
    block, proto = scale_block(config), scale_block(config)["protocols"][protocol]
    base = proto.get("epochs", {}).get("base", block["training"]["base"]["epochs"])
    step = proto.get("epochs", {}).get("incremental", block["training"]["incremental"]["epochs"])
    return [base + t * step for t in range(len(proto["sequence"]))]


def lifelong_curve(config, spec, runs):
    """Fig. 7.3: the first dataset's Recall@1 on its seen (a) and unseen (b)
    sets after every task, per row, against cumulative epochs; joint training
    (over every dataset) as the reference line."""
    epochs = _task_epochs(config, spec["protocol"])
    records = []
    for run in runs:
        groups = read_json(plan.metrics_path(config, run))["groups"]
        records += [{**_key(run), "epochs": epochs[run.task], "set": part, "value": 100 * groups[f"{part}0"]["recall@1"]}
                    for part in ("s", "u") if f"{part}0" in groups]
    data = pd.DataFrame(records)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, part, title in zip(axes, ("s", "u"), ("(a) seen", "(b) unseen")):
        mine = data[data["set"] == part]
        for row in dict.fromkeys(r.row for r in runs if r.row != plan.REFERENCE):
            line = mine[mine["row"] == row].sort_values("epochs")
            ax.plot(line["epochs"], line["value"], marker="o", label=row)
        ref = mine[mine["row"] == plan.REFERENCE]
        if len(ref):
            ax.axhline(ref["value"].iloc[0], color="k", ls="--", label=_reference_label(_reference(runs)))
        for x in epochs[:-1]:
            ax.axvline(x, color="grey", lw=0.5)
        names = " -> ".join(e["name"] for e in _sequence(config, spec["protocol"]))
        ax.set(xlabel=f"training epochs ({names})", ylabel=f"{_sequence(config, spec['protocol'])[0]['name']} "
               f"Recall@1 (%)", title=f"{title} set")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return fig, data


def _generated(config, run) -> dict:
    import torch

    return torch.load(plan.generated_images(config, run.protocol, run.seed, run.configuration, run.task),
                      map_location="cpu", weights_only=False)


def _image_grid(images, nrow: int) -> np.ndarray:
    from torchvision.utils import make_grid

    return make_grid(images, nrow=nrow, padding=2, pad_value=1.0).permute(1, 2, 0).numpy()


def generated_grid(config, spec, runs):
    """Figs. 7.4-7.6: the images generated from a model's BatchNorm statistics,
    one row per cluster; the CSV has each image's cluster and mean colour."""
    fig, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 5), squeeze=False)
    records = []
    for ax, run in zip(axes[0], runs):
        result = _generated(config, run)
        images, labels = result["images"], result["labels"]
        ax.imshow(_image_grid(images, result["settings"]["per_cluster"]))
        ax.set(title=f"{run.row}: from the model after task {run.task}", xticks=[], yticks=[])
        means = images.mean(dim=(2, 3)).numpy()
        records += [{**_key(run), "image": i, "cluster": int(y), "red": m[0], "green": m[1], "blue": m[2],
                     "final_L_BN": result["log"][-1]["L_BN"], "final_L_cluster": result["log"][-1]["L_cluster"]}
                    for i, (y, m) in enumerate(zip(labels.tolist(), means))]
    return fig, pd.DataFrame(records)


def generation_process(config, spec, runs, shown: int = 4):
    """Fig. 7.7: the same images from Gaussian noise to the last iteration
    (columns), and the two loss terms over the iterations."""
    import torch

    run = runs[0]
    result = _generated(config, run)
    snapshots = sorted(result["snapshots"].items())
    per_cluster = result["settings"]["per_cluster"]
    chosen = torch.arange(shown) * per_cluster  # one image of each of the first clusters
    columns = torch.stack([images[chosen] for _, images in snapshots], dim=1).flatten(0, 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    left.imshow(_image_grid(columns, len(snapshots)))
    left.set(title="iterations " + ", ".join(str(i) for i, _ in snapshots), xticks=[], yticks=[])
    log = pd.DataFrame(result["log"])
    for term in ("L_BN", "L_cluster"):
        right.plot(log["iteration"], log[term], label=term)
    right.set(yscale="log", xlabel="iteration", ylabel="loss (weights included)")
    right.legend()
    right.grid(alpha=0.3)
    return fig, log.assign(**_key(run))


def noise_sensitivity(config, spec, runs):
    """Fig. 7.8(a, b): retrieval Recall@1 and classification top-1 on the
    first dataset's seen test images under Gaussian noise, and their relative
    degradation; mean over seeds (the CSV has every seed)."""
    data = pd.DataFrame([{**record, "seed": run.seed, "row": run.row}
                         for run in runs for record in read_json(plan.noise_path(config, run))["records"]])
    mean = data.groupby(["measure", "noise_ratio"], as_index=False)[["value", "degradation"]].mean()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for measure, label in (("retrieval", "retrieval Recall@1"), ("classification", "classification top-1")):
        line = mean[mean["measure"] == measure]
        axes[0].plot(line["noise_ratio"], line["value"], marker="o", label=label)
        axes[1].plot(line["noise_ratio"], 100 * line["degradation"], marker="o", label=label)
    axes[0].set(xlabel="noise ratio r", ylabel="%", title="(a) recall rate / classification accuracy")
    axes[1].set(xlabel="noise ratio r", ylabel="degradation (%)", title="(b) performance degradation ratio")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig, data


def dataset_tsne(config, spec, runs, per_dataset: int = 150):
    """Fig. 7.8(c): t-SNE of a model's embeddings of the seen training images
    of every dataset of the sequence (a seeded sample of each), coloured by dataset."""
    from sklearn.manifold import TSNE

    from incremental_retrieval.data.loading import ImageSet
    from incremental_retrieval.data.splits import read_split
    from incremental_retrieval.extract import embed
    from incremental_retrieval.models import load_checkpoint, model_from_checkpoint

    run = runs[0]
    split = read_split(Path(plan.split_manifest(config, spec["protocol"])))
    train = split[(split["part"] == "seen") & (split["split"] == "train")]
    sample = train.groupby("task", group_keys=False).apply(
        lambda rows: rows.sample(min(per_dataset, len(rows)), random_state=0))
    block = scale_block(config)
    in_memory = block["training"]["pipeline"] == "memory"
    images = ImageSet(sample, plan.data_root(config, spec["protocol"]), block["image_size"], train=False,
                      in_memory=in_memory)
    model = model_from_checkpoint(load_checkpoint(plan.trained_model(config, run)))
    features, _ = embed(model, images)
    xy = TSNE(n_components=2, perplexity=30, random_state=0, init="pca").fit_transform(features)
    data = pd.DataFrame({"dataset": sample["name"].to_numpy(), "path": sample["path"].to_numpy(),
                         "x": xy[:, 0], "y": xy[:, 1]}).assign(**_key(run))
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, part in data.groupby("dataset", sort=False):
        ax.scatter(part["x"], part["y"], s=8, alpha=0.7, label=name)
    ax.set(title=f"(c) training images of every dataset ({run.row} model)", xticks=[], yticks=[])
    ax.legend()
    return fig, data


def order_evolution(config, spec, runs):
    """Fig. 7.8(d): the first dataset's seen Recall@1 after every task for two
    training orders, mean over seeds (the CSV has every seed; `order` names the
    sequence, e.g. cub_dogs_cars)."""
    records = []
    for run in runs:
        order = "_".join(e["name"] for e in _sequence(config, run.protocol))
        groups = read_json(plan.metrics_path(config, run))["groups"]
        configuration = next(r["configuration"] for r in rows_of(spec) if r["id"] == run.row)
        records.append({"row": run.row, "order": order, "configuration": configuration, "task": run.task,
                        "seed": run.seed, "value": 100 * groups["s0"]["recall@1"]})
    data = pd.DataFrame(records)
    fig, ax = plt.subplots(figsize=(6, 4))
    for (order, configuration), part in data.groupby(["order", "configuration"], sort=False):
        line = part.groupby("task")["value"].mean()
        ax.plot(line.index, line.values, marker="o", label=f"{configuration}: {order.replace('_', ' -> ')}")
    first = _sequence(config, spec["protocol"])[0]["name"]
    ax.set(xlabel="task", ylabel=f"{first} seen Recall@1 (%)", xticks=sorted(data["task"].unique()),
           title="(d) two training orders")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig, data


DRAW = {"pr_curves": pr_curves, "map_per_epoch": map_per_epoch, "epoch_time": epoch_time, "tsne": tsne,
        "gram_matrices": gram_matrices, "forgetting": forgetting, "final_groups": final_groups,
        "new_group_curve": new_group_curve, "group_curve": group_curve, "retrieval_examples": retrieval_examples,
        "lifelong_curve": lifelong_curve, "generated_grid": generated_grid, "generation_process": generation_process,
        "noise_sensitivity": noise_sensitivity, "dataset_tsne": dataset_tsne, "order_evolution": order_evolution}
