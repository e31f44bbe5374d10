"""Load and validate config.yaml: JSON schema first, then cross-references."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

SCHEMA_FILE = "config_schema.yaml"
PIPELINE_DEFAULTS = {"mini": "memory", "thesis": "decoded"}  # training.pipeline where a scale does not set it


class ConfigError(ValueError):
    """A config problem, with the offending key path in the message."""


def schema() -> dict:
    return yaml.safe_load(resources.files("incremental_retrieval").joinpath(SCHEMA_FILE).read_text())


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _with_defaults(validator_class):
    """A validator that fills in `default` values while validating."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validate(config: dict) -> dict:
    """Return a validated copy of `config` with defaults filled in.

    Raises ConfigError naming the key and what the schema expects there.
    """
    config = _from_command_line(copy.deepcopy(config))
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        if e.validator == "additionalProperties":
            allowed = sorted(e.schema.get("properties", {}))
            raise ConfigError(f"config key {_key(e.absolute_path)}: {e.message}; allowed keys here: {allowed}")
        raise ConfigError(f"config key {_key(e.absolute_path)}: {e.message} (schema: {_schema_hint(e)})")
    for scale in config["scales"].values():  # a sequence's tasks are its datasets' seen classes
        for proto in scale["protocols"].values():
            if "sequence" in proto:
                proto["groups"] = [entry["seen"] for entry in proto["sequence"]]
    _check_references(config)
    for name, scale in config["scales"].items():  # a default that depends on the scale
        scale["training"].setdefault("pipeline", PIPELINE_DEFAULTS[name])
    return config


def _from_command_line(config: dict) -> dict:
    """Snakemake's `--config seeds=[0,1,2]` gives the list items as strings
    ('0', '1', '2'): read whole numbers written that way as the integers meant."""
    seeds = config.get("seeds")
    if isinstance(seeds, list):
        config["seeds"] = [int(s) if isinstance(s, str) and s.strip().isdigit() else s for s in seeds]
    elif isinstance(seeds, (int, str)) and str(seeds).strip().isdigit():  # --config seeds=3: one seed
        config["seeds"] = [int(seeds)]
    return config


def _type_name(value) -> str:
    """The kind of value a hyper-parameter with this default takes."""
    return "a boolean" if isinstance(value, bool) else "an integer" if isinstance(value, int) \
        else "a number" if isinstance(value, float) else "a string" if isinstance(value, str) else type(value).__name__


def _accepts(default, value) -> bool:
    if isinstance(default, float) and not isinstance(value, bool):  # 1 is as good as 1.0
        return isinstance(value, (int, float))
    return _type_name(value) == _type_name(default)


def _schema_hint(error) -> str:
    return json.dumps({k: v for k, v in error.schema.items() if k != "description"}, default=str)[:200]


def _check_references(config: dict) -> None:
    from incremental_retrieval.methods import METHODS

    def check_hyperparameters(where: str, method: str, params: dict) -> None:
        from incremental_retrieval.methods.base import check_semantic

        params = dict(params)
        if "semantic" in params:  # every method's (like margin): the semantic loss terms
            try:
                check_semantic(params.pop("semantic"))
            except ValueError as e:
                raise ConfigError(f"config key {where}.semantic: {e}") from None
        defaults = METHODS[method].hyperparameters()
        unknown = set(params) - set(defaults)
        if unknown:
            raise ConfigError(f"config key {where}: {method} has no hyper-parameter(s) "
                              f"{sorted(unknown)}; it takes {sorted(defaults) or 'none'} (and semantic)")
        for name, value in params.items():  # the type of the method's default
            if not _accepts(defaults[name], value):
                raise ConfigError(f"config key {where}.{name}: {value!r} is not {_type_name(defaults[name])}; "
                                  f"{method}'s {name} takes {_type_name(defaults[name])} "
                                  f"(default {defaults[name]!r})")

    for cid, entry in config["configurations"].items():
        if entry["method"] not in METHODS:
            raise ConfigError(f"config key configurations.{cid}.method: unknown method {entry['method']!r}; "
                              f"known methods: {sorted(METHODS)}")
        check_hyperparameters(f"configurations.{cid}", entry["method"],
                              {k: v for k, v in entry.items() if k != "method"})
    if config["scale"] not in config["scales"]:
        raise ConfigError(f"config key scales.{config['scale']}: missing, but scale: {config['scale']} selects it")
    for scale_name, scale in config["scales"].items():
        for name, proto in scale["protocols"].items():
            entries = [(f"sequence.{i}.dataset", e["dataset"]) for i, e in enumerate(proto["sequence"])] \
                if "sequence" in proto else [("dataset", proto["dataset"])]
            for key, dataset in entries:
                if dataset not in scale["datasets"]:
                    raise ConfigError(f"config key scales.{scale_name}.protocols.{name}.{key}: unknown dataset "
                                      f"{dataset!r}; datasets at this scale: {sorted(scale['datasets'])}")
        for cid, params in scale.get("overrides", {}).items():
            where = f"scales.{scale_name}.overrides.{cid}"
            if cid not in config["configurations"]:
                raise ConfigError(f"config key {where}: not a configuration; known: {sorted(config['configurations'])}")
            if "method" in params:
                raise ConfigError(f"config key {where}.method: an override changes hyper-parameters, not the "
                                  f"method; add a configuration of its own instead")
            check_hyperparameters(where, config["configurations"][cid]["method"], params)
        for cid, entry in config["configurations"].items():  # values a method checks itself (e.g. a choice)
            override = scale.get("overrides", {}).get(cid, {})
            try:
                METHODS[entry["method"]](**{**{k: v for k, v in entry.items() if k != "method"}, **override})
            except ValueError as e:
                where = f"configurations.{cid}" + (f" with scales.{scale_name}.overrides.{cid}" if override else "")
                raise ConfigError(f"config key {where}: {e}") from None
        for name, dataset in scale["datasets"].items():
            if dataset.get("archives"):
                from incremental_retrieval.data.datasets import archives_for

                try:
                    archives_for(dataset["kind"], dataset)
                except ValueError as e:
                    raise ConfigError(f"config key scales.{scale_name}.datasets.{name}.archives: {e}") from None
        pre = scale["pretraining"]
        if "weights" not in pre and "dataset" not in pre:
            raise ConfigError(f"config key scales.{scale_name}.pretraining: give `weights: imagenet` or a "
                              f"synthetic `dataset`")
    active = config["scales"][config["scale"]]
    known = ["base", *sorted(config["configurations"])]
    for section in ("tables", "figures"):
        for name, spec in config.get(section, {}).items():
            where = f"{section}.{name}"
            protocols = list(spec.get("protocols", [spec["protocol"]] if "protocol" in spec else []))
            if not protocols:
                raise ConfigError(f"config key {where}: give a `protocol` (or `protocols` for kind: statistics)")
            if spec.get("kind") != "statistics" and not spec.get("rows"):
                raise ConfigError(f"config key {where}.rows: missing; list the configurations to show")
            for row in rows_of(spec):
                protocols.append(row["protocol"])
                if row["configuration"] not in known:
                    raise ConfigError(f"config key {where}.rows: unknown configuration {row['configuration']!r}; "
                                      f"known: {known}")
            for protocol in protocols:
                if protocol not in active["protocols"]:
                    raise ConfigError(f"config key {where}: unknown protocol {protocol!r}; protocols at scale "
                                      f"{config['scale']}: {sorted(active['protocols'])}")
            if section == "figures":
                _check_figure_keys(where, spec, known, config)
            if section == "tables":
                _check_table_keys(where, spec, known, active["protocols"])


# The table keys beyond kind/protocol/rows/title, and the kinds that read them.
TABLE_KEYS = {"average": ("one_step",), "metrics": ("one_step", "multi_step", "forgetting"), "reference": ("gram",),
              "datasets": ("lifelong",)}


def _check_table_keys(where: str, spec: dict, known: list[str], protocols: dict) -> None:
    kind = spec.get("kind", "one_step")
    for key, kinds in TABLE_KEYS.items():
        if key in spec and kind not in kinds:
            raise ConfigError(f"config key {where}.{key}: kind {kind} does not use it; it is read by "
                              f"{', '.join(kinds)}")
    if "reference" in spec and spec["reference"] not in known:
        raise ConfigError(f"config key {where}.reference: unknown configuration {spec['reference']!r}; known: {known}")
    for row in rows_of(spec):
        if "show" in row and (kind != "one_step" or row["configuration"] == "base"):
            raise ConfigError(f"config key {where}.rows: row {row['id']!r} has `show`, which only one_step reads "
                              f"for rows after a task (the base model has the old classes only)")
        if row["configuration"] == "base" and kind in ("forgetting", "accuracy_change"):
            raise ConfigError(f"config key {where}.rows: kind {kind} needs tasks after the base model; `base` has none")
        last = len(protocols[row["protocol"]]["groups"]) - 1
        if row.get("task", 0) > last:
            raise ConfigError(f"config key {where}.rows: row {row['id']!r} task {row['task']}, but protocol "
                              f"{row['protocol']!r} has tasks 1..{last}")


# The figure keys beyond kind/protocol/rows, and the kinds that read them (a key no kind reads would be ignored).
FIGURE_KEYS = {"reference": ("gram_matrices", "final_groups", "group_curve", "lifelong_curve"), "panel": ("group_curve",),
               "insets": ("group_curve",), "group": ("retrieval_examples",), "query_class": ("retrieval_examples",),
               "teacher_task": ("generated_grid", "generation_process")}


def _check_figure_keys(where: str, spec: dict, known: list[str], config: dict) -> None:
    for key, kinds in FIGURE_KEYS.items():
        if key in spec and spec["kind"] not in kinds:
            raise ConfigError(f"config key {where}.{key}: kind {spec['kind']} does not use it; it is read by "
                              f"{', '.join(kinds)}")
    if "reference" in spec and spec["reference"] not in known:
        raise ConfigError(f"config key {where}.reference: unknown configuration {spec['reference']!r}; known: {known}")
    if any(row["id"] == "reference" for row in rows_of(spec)) and "reference" in spec:
        raise ConfigError(f"config key {where}.rows: the row id 'reference' names the `reference` configuration")
    for row in rows_of(spec):  # figures plot whole chains (or their last task)
        if "task" in row or "show" in row:
            raise ConfigError(f"config key {where}.rows: row {row['id']!r} has `task`/`show`, which only tables read")
    group = spec.get("group", 0)
    for name, scale in config["scales"].items():
        if spec["protocol"] not in scale["protocols"]:
            continue
        groups = scale["protocols"][spec["protocol"]]["groups"]
        if group >= len(groups):
            raise ConfigError(f"config key {where}.group: {group}, but protocol {spec['protocol']} has groups "
                              f"0..{len(groups) - 1} at scale {name}")
        first, query = sum(groups[:group]), query_class(spec, name)
        if query is not None and not first <= query < first + groups[group]:
            raise ConfigError(f"config key {where}.query_class: {query} is not in group {group} at scale {name} "
                              f"(labels {first}..{first + groups[group] - 1})")


def query_class(spec: dict, scale: str) -> int | None:
    """A retrieval_examples figure's query class at `scale` (one label, or one per scale); None: the group's first."""
    value = spec.get("query_class")
    return value.get(scale) if isinstance(value, dict) else value


def rows_of(spec: dict) -> list[dict]:
    """A table's or figure's rows as {id, configuration, protocol} dicts."""
    rows = []
    for row in spec.get("rows", []):
        if isinstance(row, str):
            row = {"id": row, "configuration": row}
        rows.append({"protocol": spec.get("protocol"), **row})
    return rows


VALIDATED = "validated"  # key of the digest the workflow writes into the config it validated


def load(path: str | Path = "config.yaml") -> dict:
    """The config at `path`, validated.  The workflow validates config.yaml
    once and writes the result with its digest under `validated`; a file whose
    digest still matches is used as it is (checking method references imports
    torch: 1.2 s per table, split or report job)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} not found; run from the repository root or pass --config")
    config = yaml.safe_load(path.read_text())
    if isinstance(config, dict) and VALIDATED in config:
        stamp = config.pop(VALIDATED)
        if stamp == _stamp(config):
            return config
    return validate(config)


def with_validation_stamp(config: dict) -> dict:
    """A validated config with its stamp, for `load` to recognise."""
    return {**config, VALIDATED: _stamp(config)}


def _stamp(config: dict) -> str:
    # the schema too: a config validated by other code (new defaults) is validated again
    return digest({"config": config, "schema": hashlib.sha256(json.dumps(schema(), sort_keys=True,
                                                                          default=str).encode()).hexdigest()})


def scale_block(config: dict) -> dict:
    return config["scales"][config["scale"]]


def protocol_datasets(proto: dict) -> list[str]:
    """The datasets a protocol reads: its one dataset, or its sequence's in order."""
    return [entry["dataset"] for entry in proto["sequence"]] if "sequence" in proto else [proto["dataset"]]


def method_of(config: dict, configuration: str) -> tuple[str, dict]:
    """(method name, hyper-parameters) of a configuration at the active scale."""
    if configuration == "base":
        return "joint", {}
    entry = dict(config["configurations"][configuration])
    entry.update(scale_block(config).get("overrides", {}).get(configuration, {}))
    return entry.pop("method"), entry


def digest(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
