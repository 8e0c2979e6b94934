"""Every host's spelling of the node's parameters agrees with the one table (unshutter.params),
up to the differences written there: the node, the CLI, the farm schema, the Blender add-on's
properties and the OpenFX plugin's parameter table."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from unshutter.errors import ParameterError
from unshutter.node import NodeParams
from unshutter.params import BY_NAME, LEGACY_DEFAULTS, PARAMS, Param, expected, keyed

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "plugin" / "unshutter"


def test_every_node_field_is_declared_once_with_its_default():
    fields = {f.name: f.default for f in dataclasses.fields(NodeParams)}
    assert set(fields) == set(BY_NAME), "declare new node parameters in unshutter/params.py"
    assert {n: BY_NAME[n].default for n in fields} == fields


@pytest.mark.parametrize("p", [p for p in PARAMS if p.lo is not None or p.hi is not None], ids=lambda p: p.name)
def test_node_refuses_what_the_range_excludes(p: Param):
    def check(v: float) -> None:
        NodeParams(**{p.name: int(v) if p.kind == "int" else v}).validate()

    step = 1 if p.kind == "int" else 1e-3
    if p.lo is not None:
        with pytest.raises(ParameterError):
            check(p.lo if p.lo_open else p.lo - step)
        check(p.lo + step if p.lo_open else p.lo)
    if p.hi is not None:
        check(p.hi)
        with pytest.raises(ParameterError):
            check(p.hi + step)


def test_legacy_defaults_name_parameters_and_values_they_take():
    for name, value in LEGACY_DEFAULTS.items():
        p = BY_NAME[name]
        assert p.choices is None or value in p.choices, name
        NodeParams(**{name: value}).validate()


def test_a_parameter_at_its_legacy_default_stays_out_of_the_keys():
    """Keys that name earlier renders (run signature, timeline and Blender folders) read as before the
    parameter existed at the value renders had then; any other value is another key."""
    before = {k: v for k, v in NodeParams().to_dict().items() if k not in LEGACY_DEFAULTS}
    for name, value in LEGACY_DEFAULTS.items():
        assert keyed({**before, name: value}) == before
        for other in BY_NAME[name].choices or ():
            if other != value:
                assert keyed({**before, name: other}) == {**before, name: other}


def test_the_blender_addon_keeps_the_same_legacy_defaults():
    """The add-on never imports unshutter: its copy of the table, by its property names, must agree."""
    import importlib.util
    import sys

    from unshutter.hosts import blender

    spec = importlib.util.spec_from_file_location("unshutter_blender_engine_p", blender.SOURCE / "engine.py")
    engine = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = engine  # type: ignore[union-attr]
    spec.loader.exec_module(engine)  # type: ignore[union-attr]
    want = {BY_NAME[n].blender: v for n, v in LEGACY_DEFAULTS.items() if BY_NAME[n].blender}
    assert engine.LEGACY_DEFAULTS == want


# ---------------------------------------------------------------------------------------- CLI


def _run_options() -> dict[str, argparse.Action]:
    from unshutter.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {s: a for a in sub.choices["run"]._actions for s in a.option_strings}


@pytest.mark.parametrize("p", [p for p in PARAMS if p.cli], ids=lambda p: p.name)
def test_cli_flag_matches_the_table(p: Param):
    e = expected("cli", p)
    action = _run_options()[p.cli]  # type: ignore[index]
    assert action.dest == p.name
    assert action.default == e.default
    if e.kind == "bool":
        assert isinstance(action, argparse._StoreTrueAction)
    if e.kind in ("int", "float"):
        assert action.type is {"int": int, "float": float}[e.kind]
    assert (tuple(action.choices) if action.choices else None) == e.choices


# -------------------------------------------------------------------------------------- farm


def _shot_schema() -> dict[str, Any]:
    schema = json.loads((PKG / "schemas" / "batch.schema.json").read_text(encoding="utf-8"))
    return schema["$defs"]["shot"]["properties"]  # type: ignore[no-any-return]


def test_farm_schema_keys_are_table_parameters():
    not_node = {"chunk", "frames", "input", "name", "output"}
    assert set(_shot_schema()) - not_node == {p.farm for p in PARAMS if p.farm}


@pytest.mark.parametrize("p", [p for p in PARAMS if p.farm], ids=lambda p: p.name)
def test_farm_schema_matches_the_table(p: Param):
    e, prop = expected("farm", p), _shot_schema()[p.farm]  # type: ignore[index]
    if e.kind == "choice":
        assert tuple(prop["enum"]) == e.choices
    if e.kind in ("int", "float"):
        assert prop["type"] == {"int": "integer", "float": "number"}[e.kind]
        assert prop.get("exclusiveMinimum" if e.lo_open else "minimum") == e.lo
        assert prop.get("maximum") == e.hi
    if e.kind == "path":
        assert prop["type"] == "string"
    assert "default" not in prop or prop["default"] == e.default


# ----------------------------------------------------------------------------------- Blender


def _blender_props() -> dict[str, dict[str, Any]]:
    """props.py's module-level ``NAME = dict(...)`` declarations, read without Blender: {NAME: kwargs}."""
    tree = ast.parse((PKG / "hosts" / "blender" / "unshutter_blender" / "props.py").read_text(encoding="utf-8"))
    consts: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name, value = node.targets[0].id, node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict":
            out[name] = {
                k.arg: (consts[k.value.id] if isinstance(k.value, ast.Name) else ast.literal_eval(k.value))
                for k in value.keywords
                if k.arg
            }
        else:
            try:
                consts[name] = ast.literal_eval(value)
            except ValueError:
                pass
    return out


@pytest.mark.parametrize("p", [p for p in PARAMS if p.blender], ids=lambda p: p.name)
def test_blender_property_matches_the_table(p: Param):
    e, prop = expected("blender", p), _blender_props()[p.blender.upper()]  # type: ignore[union-attr]
    if e.kind == "choice":
        assert tuple(item[0].lower() for item in prop["items"]) == e.choices
        assert prop["default"].lower() == e.default
    elif e.kind == "path":
        assert prop["default"] == "" and e.default is None
    else:
        assert prop["default"] == e.default
    if e.kind in ("int", "float"):
        assert (prop.get("min"), prop.get("max")) == (e.lo, e.hi)


# --------------------------------------------------------------------------------------- OFX


def _cpp_args(text: str, call: str, param_const: str) -> list[str]:
    """The arguments of ``call(params, <param_const>, ...)`` in plugin.cpp, split at top-level commas."""
    m = re.search(rf"\b{call}\(\s*params,\s*{param_const}\s*,", text)
    assert m, f"plugin.cpp: no {call}(params, {param_const}, ...)"
    depth, args, cur = 0, [], ""
    for ch in text[m.start() + len(call) + 1 :]:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            if depth == 0:
                break
            depth -= 1
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*args, cur.strip()]


def _ofx() -> tuple[str, dict[str, str], dict[str, float]]:
    text = (ROOT / "ofx_bridge" / "src" / "plugin.cpp").read_text(encoding="utf-8")
    ids = dict(re.findall(r'constexpr const char\s*\*\s*(kParam\w+)\s*=\s*"(\w+)";', text))
    numbers: dict[str, float] = {}
    for decl in re.findall(r"constexpr (?:int|double) ([^;]+);", text):
        for name, value in re.findall(r"(\w+)\s*=\s*([-\d.]+)", decl):
            numbers[name] = float(value)
    return text, {v: k for k, v in ids.items()}, numbers


def _options(text: str, table: str) -> tuple[str, ...]:
    body = re.search(rf"constexpr ChoiceOption\s+{table}\[\]\s*=\s*\{{(.*?)\}};", text, re.S)
    assert body, table
    return tuple(re.findall(r'\{\s*"[^"]*",\s*"(\w+)"\s*\}', body.group(1)))


@pytest.mark.parametrize("p", [p for p in PARAMS if p.ofx], ids=lambda p: p.name)
def test_ofx_parameter_matches_the_table(p: Param):
    e = expected("ofx", p)
    text, const_of, numbers = _ofx()
    const = const_of[p.ofx]  # type: ignore[index]

    def num(a: str) -> float:
        return numbers[a] if a in numbers else float(a)

    if e.kind in ("int", "float"):
        args = _cpp_args(text, "define_int" if e.kind == "int" else "define_double", const)
        dflt, lo, hi = (num(a) for a in args[4:7])
        assert (dflt, lo) == (e.default, e.lo)
        assert hi == e.hi or e.hi is None
    elif e.kind == "choice":
        args = _cpp_args(text, "define_choice", const)
        choices = _options(text, args[4])
        assert choices == e.choices
        enum = re.search(rf"enum\s+\w+\s*\{{([^}}]*\b{args[6]}\b[^}}]*)\}};", text)
        assert enum, args[6]
        names = [n.split("=")[0].strip() for n in enum.group(1).split(",")]
        assert choices[names.index(args[6])] == e.default
    else:
        assert re.search(rf"define_param\(\s*params,\s*ofx::ParamType(Boolean|String),\s*{const},", text)


# ------------------------------------------------------------------------ OFX worker protocol


def test_worker_protocol_carries_table_parameters_and_every_ofx_one():
    from unshutter.cli import worker

    assert set(worker.PARAM_KEYS) <= set(BY_NAME), "the worker reads a parameter the table does not declare"
    assert {p.name for p in PARAMS if p.ofx} <= set(worker.PARAM_KEYS), "an OFX parameter the worker drops"
    assert set(worker.REQUIRED_PARAMS) <= set(worker.PARAM_KEYS)
