"""The studies, as the core knows them: registered objects, never imported by name.

A study is a package under `retrieval_bench.studies` whose `__init__` builds a
`Study` and registers it.  Everything else of the study is found by convention
inside its package, so adding a method, a table kind or a figure kind is one
file:

    <package>/schema.yaml        its fragment of the config schema
    <package>/config.py          `normalise(config)` and `check(config)`: what a schema cannot say
    <package>/commands.py        COMMANDS: its entries of the command-line menu
    <package>/methods/<name>.py  one method each (the file is named as the method)
    <package>/tables/<kind>.py   one table kind each (KIND, a core.tables.TableKind)
    <package>/figures/<kind>.py  one figure kind each (KIND, a core.figures.FigureKind)
    <package>/reference/         the published numbers (<table>.csv) and claims.yaml

Nothing here imports torch or matplotlib: the Snakefile and every job ask the
registry, and a table job must not pay for a training job's imports.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Study:
    name: str                     # the name `studies: [...]` in config.yaml lists
    title: str                    # what it is, for people
    chapters: tuple[str, ...]     # the thesis chapters (or "slides") whose tables it builds
    package: str                  # its Python package
    rules: str                    # its rules file under workflow/rules/
    protocol_marker: str          # the key only its protocols have (scales.<scale>.protocols.<name>)
    builds_on: tuple[str, ...] = ()  # studies whose rules and loop it uses (included with it)
    more_markers: tuple[str, ...] = ()  # further protocol forms of its own (one key each)

    @property
    def markers(self) -> tuple[str, ...]:
        return (self.protocol_marker, *self.more_markers)

    def module(self, name: str):
        return importlib.import_module(f"{self.package}.{name}")

    def submodules(self, folder: str) -> list[str]:
        """The module names in <package>/<folder>/ (not imported), sorted."""
        spec = importlib.util.find_spec(f"{self.package}.{folder}")
        if spec is None or not spec.submodule_search_locations:
            return []
        return sorted(m.name for m in pkgutil.iter_modules(spec.submodule_search_locations)
                      if not m.name.startswith("_") and m.name != "base")


_STUDIES: dict[str, Study] = {}


def register(study: Study) -> Study:
    if study.name in _STUDIES and _STUDIES[study.name] != study:
        raise ValueError(f"two studies named {study.name!r}")
    _STUDIES[study.name] = study
    return study


def studies() -> list[Study]:
    """Every registered study, in registration order (the order of the report and of the claims)."""
    _discover()
    return list(_STUDIES.values())


def study(name: str) -> Study:
    _discover()
    if name not in _STUDIES:
        raise KeyError(f"unknown study {name!r}; known studies: {list(_STUDIES)}")
    return _STUDIES[name]


def _discover() -> None:
    # The studies package registers every study on import; importing it by name is the plugin lookup
    # (the core names no study).
    importlib.import_module("retrieval_bench.studies")


def with_foundations(names: list[str]) -> list[Study]:
    """The studies `names` and those they build on, in registration order."""
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += list(study(name).builds_on)
    return [s for s in studies() if s.name in wanted]


def study_of_protocol(protocol: dict) -> Study:
    """The study a protocol belongs to: the one whose marker key it has."""
    owners = [s for s in studies() if any(m in protocol for m in s.markers)]
    if len(owners) != 1:
        markers = {s.name: " or ".join(s.markers) for s in studies()}
        raise ValueError(f"a protocol has exactly one of the keys {markers} (the study it belongs to); "
                         f"this one has {[s.name for s in owners] or 'none'}")
    return owners[0]


# ---------------------------------------------------------------- methods

@cache
def method_names() -> dict[str, Study]:
    """Every method name (its file name) -> the study that has it."""
    names = {}
    for s in studies():
        for name in s.submodules("methods"):
            if name in names:
                raise ValueError(f"method {name!r} is in two studies: {names[name].name} and {s.name}")
            names[name] = s
    return names


def method_class(name: str):
    """The class of method `name`, imported from its file <study>/methods/<name>.py."""
    owner = method_names().get(name)
    if owner is None:
        raise KeyError(f"unknown method {name!r}; known methods: {sorted(method_names())}")
    module = owner.module(f"methods.{name}")
    found = [c for c in vars(module).values() if isinstance(c, type) and getattr(c, "name", None) == name
             and c.__module__ == module.__name__]
    if len(found) != 1:
        raise TypeError(f"{module.__name__} defines {len(found)} classes with name = {name!r}; it needs one")
    return found[0]


class KeyedHyperparameters:
    """A method whose hyper-parameters are the keys of DEFAULTS (each set to its thesis-scale value):
    config validation calls `check_config` on a configuration's keys and `check_values` on its values."""

    name = ""
    DEFAULTS: dict = {}

    @classmethod
    def check_config(cls, params: dict, where: str) -> None:
        unknown = set(params) - set(cls.DEFAULTS)
        if unknown:
            raise ValueError(f"{where}: {cls.name} has no hyper-parameter(s) {sorted(unknown)}; it takes "
                             f"{sorted(cls.DEFAULTS) or 'none'}")

    @classmethod
    def check_values(cls, params: dict) -> None:
        """Values the method checks itself (a choice among options): ValueError naming the key."""


# ---------------------------------------------------------------- table and figure kinds

def _kinds(folder: str) -> dict:
    kinds = {}
    for s in studies():
        for name in s.submodules(folder):
            kind = s.module(f"{folder}.{name}").KIND
            if kind.name != name or name in kinds:
                raise ValueError(f"{s.package}.{folder}.{name}: a kind is named as its file, once "
                                 f"(KIND.name is {kind.name!r})")
            kind.study = s.name
            kinds[name] = kind
    return kinds


@cache
def table_kinds() -> dict:
    """Every table kind by name (core.tables.TableKind objects)."""
    return _kinds("tables")


@cache
def figure_kinds() -> dict:
    """Every figure kind by name (core.figures.FigureKind objects)."""
    return _kinds("figures")


def table_kind(name: str):
    kinds = table_kinds()
    if name not in kinds:
        raise KeyError(f"unknown table kind {name!r}; known kinds: {sorted(kinds)}")
    return kinds[name]


def figure_kind(name: str):
    kinds = figure_kinds()
    if name not in kinds:
        raise KeyError(f"unknown figure kind {name!r}; known kinds: {sorted(kinds)}")
    return kinds[name]


# ---------------------------------------------------------------- data files of a study

def reference_file(name: str):
    """A file of some study's reference/ folder (a published table's CSV), or None."""
    for s in studies():
        source = resources.files(s.package).joinpath("reference", name)
        if source.is_file():
            return source
    return None


def commands() -> list:
    """Every study's command-line entries (its commands.COMMANDS), in study order."""
    return [command for s in studies() for command in s.module("commands").COMMANDS]
