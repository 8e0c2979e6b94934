"""Batch spec validation (errors name the shot and the field) and chunk planning."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.farm.helpers import UNSHUTTER
from unshutter.errors import ParameterError
from unshutter.farm.plan import plan, plan_shot, split
from unshutter.farm.spec import SpecError, from_dict, load_spec


def _spec(tmp_path: Path, doc: object) -> Path:
    p = tmp_path / "reel.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def _shot(**kw: object) -> dict:
    return {"name": "a", "input": "in/a.####.exr", "output": "out/a.####.exr", "factor": 4, **kw}


def _error(tmp_path: Path, doc: object) -> str:
    with pytest.raises(SpecError) as exc:
        load_spec(_spec(tmp_path, doc))
    assert exc.value.exit_code == 2
    msg = str(exc.value)
    assert "\n" not in msg and "reel.yaml" in msg
    return msg


def test_full_shot_and_defaults(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, {"chunk": 5, "shots": [
        _shot(),
        _shot(name="b.2", output="out/b.####.exr", shutter=180, guidance="left", overrides="ov.yaml",
              frames="1002-1010", chunk=3),
    ]}))
    a, b = spec.shots
    assert spec.name == "reel" and spec.device == "auto" and spec.model is None
    assert (a.shutter, a.guidance, a.overrides, a.frames, a.chunk) == (360.0, "neighbors", None, None, 5)
    assert a.input == str(tmp_path / "in" / "a.####.exr")  # relative to the spec file, token kept
    assert (b.shutter, b.guidance, b.frames, b.chunk) == (180.0, "left", (1002, 1010), 3)
    assert b.overrides == str(tmp_path / "ov.yaml")
    assert b.params().shutter == 180.0 and b.params().guidance == "left"


@pytest.mark.parametrize("field", ["name", "input", "output", "factor"])
def test_missing_required_field_is_named(tmp_path: Path, field: str) -> None:
    shot = _shot(name="hero")
    del shot[field]
    msg = _error(tmp_path, {"shots": [_shot(name="ok", output="o/ok.####.exr"), shot]})
    assert f"'{field}'" in msg and "shots[1]" in msg
    if field != "name":
        assert "shot 'hero'" in msg


@pytest.mark.parametrize("field, value, words", [
    ("factor", 0, "factor"),
    ("factor", 17, "factor"),
    ("factor", "4", "factor"),
    ("shutter", 0, "shutter"),
    ("shutter", 400, "shutter"),
    ("guidance", "sideways", "guidance"),
    ("frames", "1010-1001", "frames"),
    ("frames", "ten", "frames"),
    ("chunk", 0, "chunk"),
    ("colour", "red", "unknown field 'colour'"),
])
def test_bad_field_names_shot_and_field(tmp_path: Path, field: str, value: object, words: str) -> None:
    msg = _error(tmp_path, {"shots": [_shot(name="hero", **{field: value})]})
    assert "shot 'hero' (shots[0])" in msg and words in msg


def test_spec_level_errors(tmp_path: Path) -> None:
    assert "shots" in _error(tmp_path, {"name": "x"})
    assert "shots" in _error(tmp_path, {"shots": []})
    assert "mapping" in _error(tmp_path, ["not", "a", "mapping"])
    msg = _error(tmp_path, {"shots": [_shot(), _shot(output="other/a.####.exr")]})
    assert "shot 'a' (shots[1]).name: duplicate" in msg
    msg = _error(tmp_path, {"shots": [_shot(), _shot(name="b")]})
    assert "shot 'b' (shots[1]).output" in msg and "same output as shot 'a'" in msg
    msg = _error(tmp_path, {"shots": [_shot(output="out/a.mov")]})
    assert "shot 'a' (shots[0]).output" in msg and "image sequences" in msg
    msg = _error(tmp_path, {"shots": [_shot(name="-bad")]})
    assert "(shots[0]).name" in msg
    (tmp_path / "broken.yaml").write_text("shots: [unclosed\n")
    with pytest.raises(SpecError, match="broken.yaml: not valid YAML"):
        load_spec(tmp_path / "broken.yaml")
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")


def test_split_matches_openjd_contiguous_chunks() -> None:
    assert split(1001, 1005, 2) == [(1001, 1002), (1003, 1004), (1005, 1005)]
    assert split(1001, 1006, 10) == [(1001, 1006)]
    assert split(7, 7, 1) == [(7, 7)]
    assert split(1, 9, 3) == [(1, 3), (4, 6), (7, 9)]


def test_plan_reads_clip_range_and_checks_frames(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    spec = from_dict({"shots": [
        {"name": "pan", "input": farm_clips["pan"], "output": "o/p.####.exr", "factor": 2, "chunk": 4},
        {"name": "b", "input": farm_clips["tilt-b"], "output": "o/b.####.exr", "factor": 2, "frames": "1002-1004",
         "chunk": 2},
    ]}, tmp_path / "reel.yaml")
    assert [(c.shot.name, c.label) for c in plan(spec)] == [
        ("pan", "1001-1004"), ("pan", "1005-1006"), ("b", "1002-1003"), ("b", "1004-1004")]
    bad = from_dict({"shots": [{"name": "x", "input": farm_clips["pan"], "output": "o/x.####.exr", "factor": 2,
                                "frames": "995-1003"}]}, tmp_path / "reel.yaml")
    with pytest.raises(ParameterError, match="shot 'x'.frames 995-1003: outside the clip"):
        plan_shot(bad.shots[0])


def test_cli_check_prints_chunks_and_fails_with_code_2(spec_path: Path, tmp_path: Path) -> None:
    p = subprocess.run([UNSHUTTER, "farm", "check", str(spec_path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "pan: frames 1001-1006, factor 3, 3 chunk(s) of 2: 1001-1002 1003-1004 1005-1006" in p.stdout
    bad = _spec(tmp_path, {"shots": [_shot(name="hero", factor=0)]})
    p = subprocess.run([UNSHUTTER, "farm", "check", str(bad)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "shot 'hero' (shots[0]).factor" in p.stderr
