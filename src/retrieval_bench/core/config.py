"""Load and validate config.yaml: the JSON schema first (assembled from the
core's skeleton, every study's fragment and every table and figure kind's
options), then what a schema cannot say (each study's `config.check`, the
methods' own checks, the kinds' own checks)."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from retrieval_bench.core import registry
from retrieval_bench.core.errors import UserError

SCHEMA_FILE = "schema.yaml"


class ConfigError(UserError, ValueError):
    """A config problem, with the offending key path in the message."""


# ---------------------------------------------------------------- the schema

def _yaml(package: str, name: str) -> dict:
    source = resources.files(package).joinpath(name)
    return yaml.safe_load(source.read_text()) if source.is_file() else {}


def _options(kinds: dict, section: str) -> tuple[dict, dict]:
    """The option keys of the table or figure kinds as schema properties (one schema per key, the
    description saying which kinds read it), and the same for their row keys."""
    merged = {}
    for where in ("options", "row_options"):
        properties = {}
        for name, kind in kinds.items():
            for key, schema in getattr(kind, where).items():
                schema = dict(schema)
                description = schema.pop("description", "")
                if key in properties and properties[key][0] != schema:
                    raise ValueError(f"{section} kinds disagree on the schema of `{key}`: {properties[key][0]} "
                                     f"vs {name}'s {schema}")
                properties.setdefault(key, (schema, []))[1].append(f"{name}: {description}" if description
                                                                   else name)
        merged[where] = {key: {**schema, "description": "; ".join(texts)} for key, (schema, texts)
                         in properties.items()}
    return merged["options"], merged["row_options"]


def schema() -> dict:
    """The whole schema: the core's skeleton (core/schema.yaml), each study's
    fragment (its schema.yaml: `$defs`, `scale` properties, `protocol`
    properties and its protocol's `form`) and the kinds' options."""
    root = _yaml("retrieval_bench.core", SCHEMA_FILE)
    defs = root["$defs"]
    studies = registry.studies()
    root["properties"]["studies"]["items"]["enum"] = [s.name for s in studies]
    root["properties"]["studies"]["default"] = [s.name for s in studies]
    markers = [m for s in studies for m in s.markers]
    protocol = defs["protocol"]
    for s in studies:
        fragment = _yaml(s.package, SCHEMA_FILE)
        defs.update(fragment.get("$defs", {}))
        scale = fragment.get("scale", {})
        defs["scale"]["properties"].update(scale.get("properties", {}))
        defs["scale"]["required"] += scale.get("required", [])
        part = fragment.get("protocol", {})
        protocol["properties"].update(part.get("properties", {}))
        forms = part.get("forms") or [part.get("form", {"required": [s.protocol_marker]})]
        for form, marker in zip(forms, s.markers):
            form = dict(form)
            # a protocol has one marker key (the study's form it is) and none of the keys its form forbids
            others = [{"required": [key]} for key in [m for m in markers if m != marker] + form.pop("forbids", [])]
            if others:
                form["not"] = {"anyOf": others}
            protocol["oneOf"].append(form)
    tables, table_rows = _options(registry.table_kinds(), "table")
    figures, figure_rows = _options(registry.figure_kinds(), "figure")
    defs["table"]["properties"]["kind"]["enum"] = sorted(registry.table_kinds())
    defs["table"]["properties"].update(tables)
    defs["figure"]["properties"]["kind"]["enum"] = sorted(registry.figure_kinds())
    defs["figure"]["properties"].update(figures)
    defs["row"]["properties"].update({**table_rows, **figure_rows})
    return root


# ---------------------------------------------------------------- validation

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
    hooks = [s.module("config") for s in registry.studies()]
    for hook in hooks:
        hook.normalise(config)
    _check_references(config)
    for hook in hooks:
        hook.check(config)
    return config


def _check_shared_task_1(config: dict, cid: str) -> None:
    """`task_1_of` gives `cid` another configuration's task-1 run: the two must train task 1 alike
    (same method, equal hyper-parameters but those the method uses from task 2 on) at every scale,
    overrides included, or the shared f_1 is not the one `cid` describes."""
    owner = config["configurations"][cid][SHARED_TASK_1]
    where = f"config key configurations.{cid}.{SHARED_TASK_1}"
    if (owner not in config["configurations"] or config["configurations"][owner]["method"]
            != config["configurations"][cid]["method"] or SHARED_TASK_1 in config["configurations"][owner]):
        raise ConfigError(f"{where}: {owner!r} is not a configuration of the same method "
                          f"({config['configurations'][cid]['method']}) that trains its own task 1; name one, or "
                          f"remove the key to train task 1 here")
    method = registry.method_class(config["configurations"][cid]["method"])
    for scale_name, scale in config["scales"].items():
        mine, theirs = (method.task_1_params(_params_at(config, scale, c)) for c in (cid, owner))
        if mine != theirs:
            differ = sorted(k for k in {*mine, *theirs} if mine.get(k) != theirs.get(k))
            raise ConfigError(f"{where}: {owner!r} trains task 1 differently at scale {scale_name} ({differ} "
                              f"differ), so its task-1 model is not {cid}'s; give {cid} the same values (in "
                              f"configurations and scales.{scale_name}.overrides), or remove the key to train "
                              f"task 1 here")


def _params_at(config: dict, scale: dict, cid: str) -> dict:
    entry = {**config["configurations"][cid], **scale.get("overrides", {}).get(cid, {})}
    return {k: v for k, v in entry.items() if k not in ("method", SHARED_TASK_1)}


def _from_command_line(config: dict) -> dict:
    """Snakemake's `--config seeds=[0,1,2]` gives the list items as strings
    ('0', '1', '2'): read whole numbers written that way as the integers meant;
    `--config studies=incremental` gives one name."""
    seeds = config.get("seeds")
    if isinstance(seeds, list):
        config["seeds"] = [int(s) if isinstance(s, str) and s.strip().isdigit() else s for s in seeds]
    elif isinstance(seeds, (int, str)) and str(seeds).strip().isdigit():  # --config seeds=3: one seed
        config["seeds"] = [int(seeds)]
    if isinstance(config.get("studies"), str):
        config["studies"] = [config["studies"]]
    return config


def _schema_hint(error) -> str:
    return json.dumps({k: v for k, v in error.schema.items() if k != "description"}, default=str)[:200]


def _check_method(where: str, method: str, params: dict) -> None:
    """A configuration's (or an override's) hyper-parameters, by the method's own `check_config`."""
    try:
        registry.method_class(method).check_config(params, where)
    except ValueError as e:
        raise ConfigError(f"config key {e}") from None


def _check_references(config: dict) -> None:
    for cid, entry in config["configurations"].items():
        if entry["method"] not in registry.method_names():
            raise ConfigError(f"config key configurations.{cid}.method: unknown method {entry['method']!r}; "
                              f"known methods: {sorted(registry.method_names())}")
        _check_method(f"configurations.{cid}", entry["method"],
                      {k: v for k, v in entry.items() if k not in ("method", SHARED_TASK_1)})
    if config["scale"] not in config["scales"]:
        raise ConfigError(f"config key scales.{config['scale']}: missing, but scale: {config['scale']} selects it")
    for scale_name, scale in config["scales"].items():
        for cid, params in scale.get("overrides", {}).items():
            where = f"scales.{scale_name}.overrides.{cid}"
            if cid not in config["configurations"]:
                raise ConfigError(f"config key {where}: not a configuration; known: {sorted(config['configurations'])}")
            if "method" in params:
                raise ConfigError(f"config key {where}.method: an override changes hyper-parameters, not the "
                                  f"method; add a configuration of its own instead")
            _check_method(where, config["configurations"][cid]["method"], params)
        for cid, entry in config["configurations"].items():  # values a method checks itself (e.g. a choice)
            override = scale.get("overrides", {}).get(cid, {})
            try:
                registry.method_class(entry["method"]).check_values(
                    {**{k: v for k, v in entry.items() if k not in ("method", SHARED_TASK_1)}, **override})
            except ValueError as e:
                where = f"configurations.{cid}" + (f" with scales.{scale_name}.overrides.{cid}" if override else "")
                raise ConfigError(f"config key {where}: {e}") from None
    for cid, entry in config["configurations"].items():
        if SHARED_TASK_1 in entry:
            _check_shared_task_1(config, cid)
    active = config["scales"][config["scale"]]
    known = ["base", *sorted(config["configurations"])]
    for section in ("tables", "figures"):
        kinds = registry.table_kinds() if section == "tables" else registry.figure_kinds()
        for name, spec in config.get(section, {}).items():
            where = f"{section}.{name}"
            protocols = list(spec.get("protocols", [spec["protocol"]] if "protocol" in spec else []))
            if not protocols:
                raise ConfigError(f"config key {where}: give a `protocol` (or `protocols` for kind: statistics)")
            kind = kinds[spec["kind"]]
            if kind.needs_rows and not spec.get("rows"):
                raise ConfigError(f"config key {where}.rows: missing; list the configurations to show")
            for row in rows_of(spec):
                if row["protocol"]:
                    protocols.append(row["protocol"])
                for key in set(row) - {"id", "configuration", "protocol"} - set(kind.row_options):
                    readers = sorted(k for k, other in kinds.items() if key in other.row_options)
                    raise ConfigError(f"config key {where}.rows: row {row['id']!r} has `{key}`, which kind "
                                      f"{spec['kind']} does not read (read by: {', '.join(readers) or 'none'})")
                if row["configuration"] not in known:
                    raise ConfigError(f"config key {where}.rows: unknown configuration {row['configuration']!r}; "
                                      f"known: {known}")
            for protocol in protocols:
                if protocol not in active["protocols"]:
                    raise ConfigError(f"config key {where}: unknown protocol {protocol!r}; protocols at scale "
                                      f"{config['scale']}: {sorted(active['protocols'])}")
            for key in spec:  # an option no kind of this one reads would be ignored
                readers = [k for k, other in kinds.items() if key in other.options]
                if readers and spec["kind"] not in readers:
                    raise ConfigError(f"config key {where}.{key}: kind {spec['kind']} does not use it; it is read "
                                      f"by {', '.join(readers)}")
            if "reference" in spec and spec["reference"] not in known:
                raise ConfigError(f"config key {where}.reference: unknown configuration {spec['reference']!r}; "
                                  f"known: {known}")
            try:
                kind.check(config, where, spec)
            except ValueError as e:
                raise ConfigError(f"config key {e}") from None


def rows_of(spec: dict) -> list[dict]:
    """A table's or figure's rows as {id, configuration, protocol} dicts."""
    rows = []
    for row in spec.get("rows", []):
        if isinstance(row, str):
            row = {"id": row, "configuration": row}
        rows.append({"protocol": spec.get("protocol"), **row})
    return rows


def protocols_of(spec: dict) -> list[str]:
    """Every protocol a table or figure reads: its own (or its `protocols`), then its rows' (a row of a
    table with `protocols` and no `protocol` of its own runs on each of them)."""
    names = list(spec.get("protocols", [spec["protocol"]] if "protocol" in spec else []))
    return list(dict.fromkeys(names + [row["protocol"] for row in rows_of(spec) if row["protocol"]]))


# ---------------------------------------------------------------- studies and what they build

def study_of(config: dict, section: str, name: str) -> str:
    """The study a table or figure belongs to: that of its (first) protocol."""
    protocol = protocols_of(config[section][name])[0]
    return registry.study_of_protocol(scale_block(config)["protocols"][protocol]).name


def built(config: dict, section: str) -> list[str]:
    """The tables (or figures) of the studies `studies:` lists, in config order."""
    return [name for name in config.get(section, {}) if study_of(config, section, name) in config["studies"]]


# ---------------------------------------------------------------- loading

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


def schema_digest() -> str:
    """A digest of every file the assembled schema is made from: the core's
    skeleton, each study's fragment and the files of its table and figure
    kinds, read as bytes and not imported (every job checks the stamp; the
    kinds' imports, pandas and torch among them, cost a table or split job
    seconds)."""
    h = hashlib.sha256()
    sources = [resources.files("retrieval_bench.core").joinpath(SCHEMA_FILE)]
    for s in registry.studies():
        package = resources.files(s.package)
        sources.append(package.joinpath(SCHEMA_FILE))
        for folder in ("tables", "figures"):
            if package.joinpath(folder).is_dir():
                sources += sorted((f for f in package.joinpath(folder).iterdir() if f.name.endswith(".py")),
                                  key=lambda f: f.name)
    for source in sources:
        if source.is_file():
            h.update(f"{source.name}\n".encode())
            h.update(source.read_bytes())
    return h.hexdigest()


def _stamp(config: dict) -> str:
    # the schema's sources too: a config validated by other code (new defaults) is validated again
    return digest({"config": config, "schema": schema_digest()})


def scale_block(config: dict) -> dict:
    return config["scales"][config["scale"]]


def method_of(config: dict, configuration: str) -> tuple[str, dict]:
    """(method name, hyper-parameters) of a configuration at the active scale
    (`base`, the shared initial model, is joint training with no hyper-parameters)."""
    if configuration == "base":
        return "joint", {}
    entry = dict(config["configurations"][configuration])
    entry.update(scale_block(config).get("overrides", {}).get(configuration, {}))
    entry.pop(SHARED_TASK_1, None)  # a key of the plan, not a hyper-parameter
    return entry.pop("method"), entry


SHARED_TASK_1 = "task_1_of"  # configurations.X.task_1_of: Y  ->  X's task-1 run is Y's (one f_1, Table 6.3)


def task_1_owner(config: dict, configuration: str) -> str:
    """The configuration whose task-1 run `configuration` continues from (itself unless `task_1_of` names one)."""
    return (config["configurations"].get(configuration) or {}).get(SHARED_TASK_1, configuration)


def digest(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
