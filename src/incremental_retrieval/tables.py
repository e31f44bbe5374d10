"""Reproduced tables next to the thesis's numbers (long-form CSV + Markdown).

Every table is long form: key columns (which depend on the table's kind),
then `reproduced` (mean over seeds, percent), `thesis` (the published value,
empty where the thesis has none), `reproduced_std`, `seeds` (how many) and
`seed_<s>` (each seed's value).

Chapter 6 adds kinds derived from the runs rather than read from one
metrics file each: `forgetting` (Eq. 6.12 from the accuracy matrix of a
multi-step chain), `accuracy_change` (Eq. 6.6, as the correlation method
recorded it) and `gram` (Gram-matrix measures of the final models' old-class
features).
"""

from __future__ import annotations

from itertools import takewhile
from pathlib import Path

import numpy as np
import pandas as pd

from incremental_retrieval import metrics as measures
from incremental_retrieval import plan
from incremental_retrieval.config import rows_of, scale_block
from incremental_retrieval.io import read_json, write_text
from incremental_retrieval.reference import thesis_table

RETRIEVAL = ["recall@1", "recall@2", "recall@4", "map"]
FORGETTING_OF = ["map", "recall@1"]  # Acc of Eq. 6.12 (the thesis: mAP) and R@1 (Fig. 6.10b)
ACCURACY_CHANGE = ["acc_old_before", "acc_old_after", "acc_new_before", "acc_new_after", "alpha_drop", "alpha_gain"]
KEYS = {
    "one_step": ["configuration", "class_group", "metric"],
    "multi_step": ["configuration", "task", "class_group", "metric"],
    "classification": ["configuration", "task", "metric"],
    "forgetting": ["configuration", "task", "metric"],
    "accuracy_change": ["configuration", "task", "quantity"],
    "gram": ["configuration", "metric"],
    "lifelong": ["configuration", "dataset", "set", "metric"],
    "generation_quality": ["configuration", "metric"],
}
UNITS = {"forgetting": "in percentage points", "accuracy_change": "mAPs in percent, α_drop and α_gain as ratios",
         "gram": "Gram-matrix measures x 100", "generation_quality": "Inception score and Fréchet distance analogues"}
WORDS = {"mt": "multi-task", "10task": "10 tasks", "cub": "(CUB)", "dogs": "(Dogs)"}


def display_name(table: str) -> str:
    """table_5_2 -> Table 5.2; table_6_forgetting_cub -> Table 6 forgetting (CUB)"""
    parts = table.removeprefix("table_").split("_")
    numbers = list(takewhile(str.isdigit, parts))
    words = [WORDS.get(p, p) for p in parts[len(numbers):]]
    return " ".join(filter(None, ["Table", ".".join(numbers), *words]))


def ratio(quantity) -> bool:
    """Values that are ratios, not percentages: shown with four decimals (the thesis's -0.0325)."""
    return str(quantity).startswith("alpha_")


def measured(config: dict, table: str) -> pd.DataFrame:
    """One row per (run, class group, metric, seed), values in percent."""
    spec = config["tables"][table]
    kind = spec.get("kind", "one_step")
    if kind in DERIVED:
        return DERIVED[kind](config, table)
    row_specs = {r["id"]: r for r in rows_of(spec)}
    metrics = spec.get("metrics", RETRIEVAL)
    records = []
    for run in plan.table_runs(config, table):
        result = read_json(plan.metrics_path(config, run))
        base = {"configuration": run.row, "seed": run.seed}
        if kind == "classification":
            rows = [run.row] if run.row != "base" else [r["id"] for r in _method_rows(config, table)]
            records += [{**base, "configuration": r, "task": run.task, "metric": "top1",
                         "value": 100 * result["seen"]["top1"]} for r in rows]
            continue
        if kind == "multi_step":
            wanted = {g: int(g) for g in result["groups"]}
        else:  # one_step: the old classes (group 0) and the classes of the run's task
            # base: old classes only; feature extraction: new only (as Tables 5.2/5.3 print them);
            # a row's `show` overrides (Table 6.1's initial model: f_0 on both)
            shown = ["old"] if run.configuration == "base" else \
                ["new"] if run.configuration == "feature_extraction" else ["old", "new"]
            group_of = {"old": "0", "new": str(run.task)}
            wanted = {group_of[c]: c for c in row_specs[run.row].get("show", shown)}
        values = {}
        for g, class_group in wanted.items():
            for metric in metrics:
                values[class_group, metric] = 100.0 * result["groups"][g][metric]
                record = {**base, "class_group": class_group, "metric": metric, "value": values[class_group, metric]}
                if kind == "multi_step":
                    record["task"] = run.task
                records.append(record)
        if spec.get("average") and kind == "one_step":  # (old + new) / 2 of this seed (Tables 6.1, 6.2)
            records += [{**base, "class_group": "average", "metric": m,
                         "value": (values["old", m] + values["new", m]) / 2}
                        for m in metrics if ("old", m) in values and ("new", m) in values]
    return pd.DataFrame(records)


def forgetting_values(config: dict, table: str) -> pd.DataFrame:
    """Eq. 6.12 after every task t >= 1 of each row's chain, per seed: the mean over groups 0..t-1 of (best accuracy
    of group g after any task g..t-1) - (its accuracy after task t); `original_` is group 0's term alone."""
    by_chain: dict[tuple, dict[int, dict]] = {}
    for run in plan.table_runs(config, table):
        by_chain.setdefault((run.row, run.seed), {})[run.task] = read_json(plan.metrics_path(config, run))["groups"]
    metrics = config["tables"][table].get("metrics", FORGETTING_OF)
    records = []
    for (row, seed), by_task in by_chain.items():
        matrices = {m: measures.accuracy_matrix(by_task, m) for m in metrics}
        for t in range(1, max(by_task) + 1):
            for metric, a in matrices.items():
                base = {"configuration": row, "seed": seed, "task": t}
                records += [{**base, "metric": f"forgetting_{metric}", "value": measures.average_forgetting(a, t)},
                            {**base, "metric": f"original_forgetting_{metric}",
                             "value": measures.original_forgetting(a, t)}]
    return pd.DataFrame(records)


def accuracy_change_values(config: dict, table: str) -> pd.DataFrame:
    """Eq. 6.6 as each task's run recorded it (`accuracy_change` of its metrics): mAPs in percent, alphas as ratios."""
    records = []
    for run in plan.table_runs(config, table):
        path = plan.metrics_path(config, run)
        change = read_json(path).get("accuracy_change")
        if change is None:
            raise ValueError(f"{path} has no accuracy_change: {run.configuration} does not record Eq. 6.6 "
                             f"(a correlation configuration does)")
        values = {q: 100.0 * change[q] for q in ACCURACY_CHANGE[:4]}
        values.update(alpha_drop=change["drop"], alpha_gain=change["gain"])
        records += [{"configuration": run.row, "seed": run.seed, "task": run.task, "quantity": q, "value": v}
                    for q, v in values.items()]
    return pd.DataFrame(records)


def gram_values(config: dict, table: str) -> pd.DataFrame:
    """Gram-matrix measures (metrics.gram_measures, x 100) of each row's final model on the fixed old-class sample
    of group 0, per seed; the distance is to the `reference` configuration's Gram of the same images."""
    from incremental_retrieval.extract import load_features

    spec = config["tables"][table]
    reference = spec.get("reference")
    grams, records = {}, []
    for run in plan.table_runs(config, table):
        data = load_features(Path(plan.features_dir(config, run)) / "group0.npz")
        grams[run] = measures.sample_gram(data["features"], data["labels"])
    for run, (gram, labels) in grams.items():
        ref = None
        if reference is not None:
            ref_gram, ref_labels = next(g for r, g in grams.items() if r.row == reference and r.seed == run.seed)
            if not np.array_equal(labels, ref_labels):
                raise ValueError(f"{table}: {run.row} and {reference} sampled different images (seed {run.seed})")
            ref = ref_gram
        for metric, value in measures.gram_measures(gram, labels, ref).items():
            records.append({"configuration": run.row, "seed": run.seed, "metric": metric, "value": 100.0 * value})
    return pd.DataFrame(records)


def lifelong_values(config: dict, table: str) -> pd.DataFrame:
    """Chapter 7: Recall@1 on each dataset's seen test images (s) and unseen
    images (u) after the row's last task, and H = 2su / (s + u) (Eq. 7.10) of
    the same run and seed.  A row with `model` reads the auxiliary model its
    run saved (Table 7.4's on-the-fly teacher: the last dataset only)."""
    spec = config["tables"][table]
    rows = {r["id"]: r for r in rows_of(spec)}
    records = []
    for run in plan.table_runs(config, table):
        result = read_json(plan.metrics_path(config, run))
        model = rows[run.row].get("model")
        groups = result["auxiliary"][model]["groups"] if model else result["groups"]
        sequence = scale_block(config)["protocols"][run.protocol]["sequence"]
        for d in range(run.task + 1):
            name = sequence[d]["name"]
            if f"s{d}" not in groups or name not in spec.get("datasets", [name]):
                continue
            s = 100.0 * groups[f"s{d}"]["recall@1"]
            values = {"s": s}
            if f"u{d}" in groups:
                u = 100.0 * groups[f"u{d}"]["recall@1"]
                values.update(u=u, H=measures.harmonic_mean(s, u))
            records += [{"configuration": run.row, "seed": run.seed, "dataset": name, "set": part,
                         "metric": "recall@1", "value": v} for part, v in values.items()]
    return pd.DataFrame(records)


def generation_quality_values(config: dict, table: str) -> pd.DataFrame:
    """Table 7.5: per seed, the Inception score (mean over splits, and the
    spread over splits) and FID analogues of noise, generated and real images."""
    spec = config["tables"][table]
    records = []
    for seed in config["seeds"]:
        result = read_json(plan.quality_path(config, spec["protocol"], seed))
        for row in result["rows"]:
            records += [{"configuration": row["configuration"], "seed": seed, "metric": metric,
                         "value": float(row[key])} for key, metric in QUALITY_METRICS.items()]
        # the floor: two halves of the real origin set, FID between them
        records.append({"configuration": "real_split_half", "seed": seed, "metric": "fid",
                        "value": float(result["real_split_half"])})
    return pd.DataFrame(records)


QUALITY_METRICS = {"inception_score_mean": "inception_score", "inception_score_std": "inception_score_split_std",
                   "fid": "fid"}
DERIVED = {"forgetting": forgetting_values, "accuracy_change": accuracy_change_values, "gram": gram_values,
           "lifelong": lifelong_values, "generation_quality": generation_quality_values}


def _method_rows(config, table):
    return [r for r in rows_of(config["tables"][table]) if r["configuration"] != "base"]


def thesis_values(table: str, kind: str) -> pd.DataFrame:
    thesis = thesis_table(table).rename(columns={"value": "thesis"})
    if thesis.empty:  # no published numbers (and perhaps not this kind's key columns)
        return pd.DataFrame({k: pd.Series(dtype="int64" if k == "task" else "object") for k in KEYS[kind]}
                            | {"thesis": pd.Series(dtype="float64")})
    if kind == "classification":  # published per number of classes seen: 20, 40, ... -> task 0, 1, ...
        steps = sorted(thesis["classes_seen"].unique())
        thesis["task"] = thesis["classes_seen"].map({n: i for i, n in enumerate(steps)})
        thesis["metric"] = "top1"
        thesis = thesis.drop(columns="classes_seen")
    return thesis


def build_table(config: dict, table: str, csv_path: Path, md_path: Path) -> pd.DataFrame:
    spec = config["tables"][table]
    kind = spec.get("kind", "one_step")
    if kind == "statistics":
        out = statistics_table(config, table)
    else:
        keys = KEYS[kind]
        values = measured(config, table)
        reproduced = values.groupby(keys, sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
        reproduced = reproduced.rename(columns={"mean": "reproduced", "std": "reproduced_std", "count": "seeds"})
        # each seed's value too: the claims are judged per seed (claims.py)
        per_seed = values.pivot_table(index=keys, columns="seed", values="value", aggfunc="first", sort=False)
        per_seed.columns = [f"seed_{s}" for s in per_seed.columns]
        seed_columns = list(per_seed.columns)
        out = reproduced.merge(per_seed.reset_index(), on=keys, how="left")
        out = out.merge(thesis_values(table, kind), on=keys, how="left")
        rounded = ["reproduced", "reproduced_std", *seed_columns]
        ratios = out[KEYS[kind][-1]].map(ratio).to_numpy()[:, None]
        out[rounded] = np.where(ratios, out[rounded].round(4), out[rounded].round(2))
        out = out[keys + ["reproduced", "thesis", "reproduced_std", "seeds", *seed_columns]]
    write_text(csv_path, out.to_csv(index=False))
    write_text(md_path, markdown(config, table, out))
    return out


def statistics_table(config: dict, table: str) -> pd.DataFrame:
    """Table 5.1: images and classes per split and class group (old = group 0).
    Chapter 6's CUB split is Table 5.1's (L2035); its Dogs 60/40 counts are not published."""
    from incremental_retrieval.data.splits import read_split

    thesis = thesis_table(table)
    records = []
    for protocol in config["tables"][table]["protocols"]:
        frame = read_split(Path(plan.split_manifest(config, protocol)))
        if "part" in frame:  # chapter 7: seen and unseen classes of every dataset of the sequence
            frame["class_group"] = frame["name"] + " " + frame["part"]
        else:
            frame["class_group"] = frame["group"].map(lambda g: "old" if g == 0 else "new")
        for (group, split), part in frame.groupby(["class_group", "split"], sort="part" not in frame):
            published = thesis[(thesis.protocol == protocol) & (thesis.class_group == group) & (thesis.split == split)]
            records.append({"protocol": protocol, "class_group": group, "split": split, "images": len(part),
                            "classes": part["class_id"].nunique(),
                            "thesis_images": published["images"].iloc[0] if len(published) else None,
                            "thesis_classes": published["classes"].iloc[0] if len(published) else None})
    return pd.DataFrame(records)


def _cell(row) -> str:
    d = 4 if ratio(getattr(row, "quantity", "")) else 2
    value = f"{row.reproduced:.{d}f}"
    if row.seeds > 1 and pd.notna(row.reproduced_std):
        value += f" ± {row.reproduced_std:.{d}f}"
    return value + (f" ({row.thesis:.{d}f})" if pd.notna(row.thesis) else "")


def wide(frame: pd.DataFrame, kind: str = "one_step") -> pd.DataFrame:
    """The table as the thesis prints it: `reproduced (thesis)` cells."""
    if kind == "statistics":
        return frame.set_index(["protocol", "class_group", "split"])
    frame = frame.assign(cell=frame.apply(_cell, axis=1))
    if kind == "classification":  # a column per task
        frame = frame.sort_values("task", kind="stable")
        frame["column"] = "after task " + frame["task"].astype(str)
        index = ["configuration"]
    elif kind == "multi_step":  # a row per (method, task), a column per group and metric
        frame["column"] = "group " + frame["class_group"].astype(str) + " " + frame["metric"]
        index = ["configuration", "task"]
    elif kind == "one_step":
        frame["column"] = frame["class_group"] + " " + frame["metric"]
        index = ["configuration"]
    elif kind == "lifelong":  # the thesis's layout: per dataset s | u | H
        frame["column"] = frame["dataset"] + " " + frame["set"]
        index = ["configuration"]
    else:  # forgetting, accuracy_change, gram: a row per their other keys, a column per measure
        *index, measure = KEYS[kind]
        frame["column"] = frame[measure]
    columns = list(dict.fromkeys(frame["column"]))
    if kind == "one_step":
        columns = [f"{g} {m}" for g in ("old", "new", "average") for m in RETRIEVAL if f"{g} {m}" in columns]
    order = list(dict.fromkeys(map(tuple, frame[index].to_numpy())))
    table = frame.pivot_table(index=index, columns="column", values="cell", aggfunc="first")
    return table.reindex(pd.MultiIndex.from_tuples(order, names=index) if len(index) > 1 else
                         [o[0] for o in order])[columns].fillna("-")


def markdown(config: dict, table: str, frame: pd.DataFrame) -> str:
    spec = config["tables"][table]
    block = scale_block(config)
    protocols = spec.get("protocols") or [spec["protocol"]]
    lines = [f"# {display_name(table)}: {spec.get('title', '')}", "",
             f"Scale: **{config['scale']}** (protocol {', '.join(f'`{p}`' for p in protocols)}, backbone "
             f"`{block['backbone']}`, seeds {config['seeds']}). Cells: reproduced (thesis), "
             f"{UNITS.get(spec.get('kind'), 'in percent')}; "
             f"`-`: not reported.", ""]
    if config["scale"] == "mini":
        lines += ["At mini scale the images are synthetic and the network small: the thesis numbers are "
                  "context, not targets. Compare the patterns (who forgets, who keeps the old classes), "
                  "not the absolute values.", ""]
    w = wide(frame, spec.get("kind", "one_step")).reset_index()
    lines += ["| " + " | ".join(map(str, w.columns)) + " |", "|" + "---|" * len(w.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in w.itertuples(index=False)]
    return "\n".join(lines) + "\n"
