"""The house: studies registered and found by convention, floors that import only downwards,
a table kind, a figure kind and a method each one new file (in a study made here, on disk)."""

import ast
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from retrieval_bench.core import config as cfg
from retrieval_bench.core import registry

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "retrieval_bench"


def test_studies_are_registered_in_the_thesis_order_with_their_foundations():
    assert [s.name for s in registry.studies()] == ["incremental", "lifelong", "crossmodal", "hashing"]
    assert [s.name for s in registry.with_foundations(["lifelong"])] == ["incremental", "lifelong"]
    assert [s.name for s in registry.with_foundations(["incremental"])] == ["incremental"]
    assert registry.study_of_protocol({"dataset": "d", "groups": [1]}).name == "incremental"
    assert registry.study_of_protocol({"sequence": []}).name == "lifelong"
    assert registry.study_of_protocol({"paired": {}}).name == "crossmodal"
    assert registry.study_of_protocol({"captions": {}}).name == "crossmodal"  # its second protocol form
    assert registry.study_of_protocol({"vectors": {}}).name == "hashing"
    assert [s.name for s in registry.with_foundations(["crossmodal"])] == ["crossmodal"]
    with pytest.raises(ValueError, match="exactly one of the keys"):
        registry.study_of_protocol({"dataset": "d", "sequence": []})


def test_every_kind_is_named_as_its_file_and_belongs_to_its_study():
    for kinds, folder in ((registry.table_kinds(), "tables"), (registry.figure_kinds(), "figures")):
        for name, kind in kinds.items():
            assert kind.name == name and kind.label and kind.caption
            assert (PACKAGE / "studies" / kind.study / folder / f"{name}.py").is_file()
    assert registry.table_kind("lifelong").study == "lifelong" and registry.table_kind("gram").study == "incremental"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {n for n in names if n.startswith("retrieval_bench")}


FLOORS = {"core": 0, "retrieval": 1, "vision": 1, "studies": 2, "cli": 3}


def _floor(module: str) -> tuple[int, str]:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "cli"
    return FLOORS.get(top, 3), ".".join(parts[:3])


@pytest.mark.parametrize("path", sorted(p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py")), ids=str)
def test_no_module_imports_from_a_floor_above_it(path):
    """Floors: cli -> studies -> retrieval / vision -> core; a study uses another only if it builds on it."""
    own_floor, own_study = _floor("retrieval_bench." + ".".join(path.with_suffix("").parts))
    for module in _imports(PACKAGE / path):
        floor, study = _floor(module)
        assert floor <= own_floor, f"{path} imports {module}, a floor above it"
        if own_floor == floor == 2 and study != own_study and study != "retrieval_bench.studies":
            builds_on = registry.study(own_study.split(".")[-1]).builds_on
            assert study.split(".")[-1] in builds_on, f"{path} imports {module}, a study it does not build on"
        if own_floor == 1:
            assert floor == 0 or module.split(".")[1] == path.parts[0], \
                f"{path} imports {module}: retrieval and vision are apart"


def test_the_core_names_no_study():
    for path in (PACKAGE / "core").rglob("*.py"):
        text = path.read_text()
        for study in registry.studies():
            assert f"studies.{study.name}" not in text, f"{path} names the {study.name} study"


def test_the_schema_is_assembled_from_the_studies_and_kinds():
    schema = cfg.schema()
    table = schema["$defs"]["table"]["properties"]
    assert set(table["kind"]["enum"]) == set(registry.table_kinds())
    assert "lifelong: " in table["datasets"]["description"]  # the kind that reads it says what it is
    assert {"generation", "backbone", "training"} <= set(schema["$defs"]["scale"]["properties"])
    assert len(schema["$defs"]["protocol"]["oneOf"]) == 5  # the cross-modal study has two protocol forms
    assert schema["properties"]["studies"]["default"] == ["incremental", "lifelong", "crossmodal", "hashing"]


def test_a_table_belongs_to_the_study_of_its_protocol_and_studies_selects_what_is_built():
    config = cfg.load(ROOT / "config.yaml")
    assert cfg.study_of(config, "tables", "table_7_splits") == "lifelong"  # a statistics table of a sequence
    assert cfg.study_of(config, "tables", "table_6_datasets") == "incremental"
    config["studies"] = ["incremental"]
    assert not [t for t in cfg.built(config, "tables") if t.startswith("table_7")]
    assert "figure_6_16" in cfg.built(config, "figures") and "figure_7_3" not in cfg.built(config, "figures")
    assert cfg.study_of(config, "tables", "table_3_2") == "crossmodal"
    assert cfg.study_of(config, "tables", "table_4_1") == "crossmodal"
    assert not [t for t in cfg.built(config, "tables") if t.startswith("table_3")]
    assert cfg.study_of(config, "tables", "table_ldph_map") == "hashing"
    assert not [t for t in cfg.built(config, "tables") if t.startswith("table_ldph")]
    with pytest.raises(cfg.ConfigError, match="studies.*'hashed' is not one of"):
        cfg.validate({**yaml.safe_load((ROOT / "config.yaml").read_text()), "studies": ["hashed"]})


@pytest.fixture
def own_study(tmp_path, monkeypatch):
    """A study of the user's, written to disk beside the shipped ones: one method file, one table kind file,
    one figure kind file; registered as the studies package would register it."""
    package = tmp_path / "mystudy"
    for folder in ("methods", "tables", "figures"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text(textwrap.dedent("""
        from retrieval_bench.core.registry import Study
        STUDY = Study(name="mystudy", title="Mine", chapters=("x",), package="mystudy", rules="mystudy.smk",
                      protocol_marker="my_data", builds_on=("incremental",))
    """))
    (package / "config.py").write_text("def normalise(config):\n    pass\n\n\ndef check(config):\n    pass\n")
    (package / "methods" / "my_method.py").write_text(textwrap.dedent("""
        from retrieval_bench.studies.incremental.methods.base import Method


        class MyMethod(Method):
            name = "my_method"

            @classmethod
            def hyperparameters(cls):
                return {"strength": 1.0}

            def extra_terms(self, context, images, labels, embeddings, logits):
                return {"mine": self.strength * embeddings.pow(2).mean()}
    """))
    (package / "tables" / "my_table.py").write_text(textwrap.dedent("""
        import pandas as pd
        from retrieval_bench.core.tables import TableKind


        class MyTable(TableKind):
            name = "my_table"
            label = "Mine"
            caption = "a table of my own"
            keys = ["configuration", "metric"]
            options = {"factor": {"type": "number", "description": "what the values are multiplied by"}}

            def inputs(self, config, table):
                return []

            def values(self, config, table):
                spec = config["tables"][table]
                return pd.DataFrame([{"configuration": "base", "metric": "one", "seed": 0,
                                      "value": spec.get("factor", 1.0)}])


        KIND = MyTable()
    """))
    (package / "figures" / "my_figure.py").write_text(textwrap.dedent("""
        from retrieval_bench.core.figures import FigureKind


        class MyFigure(FigureKind):
            name = "my_figure"
            label = "Mine"
            caption = "a figure of my own"


        KIND = MyFigure()
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("mystudy")
    registry.register(module.STUDY)
    for cached in (registry.method_names, registry.table_kinds, registry.figure_kinds):
        cached.cache_clear()
    yield module.STUDY
    registry._STUDIES.pop("mystudy")
    for cached in (registry.method_names, registry.table_kinds, registry.figure_kinds):
        cached.cache_clear()
    for name in [m for m in sys.modules if m == "mystudy" or m.startswith("mystudy.")]:
        del sys.modules[name]


def test_a_method_a_table_kind_and_a_figure_kind_are_one_file_each(own_study, tmp_path):
    from retrieval_bench.core.tables import build_table

    assert registry.method_class("my_method").name == "my_method"
    assert registry.table_kind("my_table").study == "mystudy"
    assert registry.figure_kind("my_figure").study == "mystudy"
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["configurations"]["mine"] = {"method": "my_method", "strength": 2.0}
    config["tables"]["table_mine"] = {"kind": "my_table", "protocol": "cub_onestep", "rows": ["base"], "factor": 3}
    config["studies"] = ["incremental", "mystudy"]
    checked = cfg.validate(config)  # the schema now knows the kind's option, the method its hyper-parameter
    assert cfg.method_of(checked, "mine") == ("my_method", {"strength": 2.0})
    out = build_table(checked, "table_mine", tmp_path / "t.csv", tmp_path / "t.md")
    assert out["reproduced"].tolist() == [3.0]
    config["configurations"]["mine"]["strenght"] = 1.0
    with pytest.raises(cfg.ConfigError, match=r"configurations\.mine: my_method has no hyper-parameter"):
        cfg.validate(config)


def test_the_command_line_is_a_menu_of_every_studys_commands(capsys):
    from retrieval_bench import cli

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    menu = capsys.readouterr().out
    for command in ("train", "split", "benchmark", "generate-images", "generation-quality", "table", "claims",
                    "docs"):
        assert command in menu
    assert len((PACKAGE / "cli.py").read_text().splitlines()) < 100
