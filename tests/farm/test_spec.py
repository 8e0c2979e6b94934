"""Batch spec validation (errors name the shot and the field) and chunk planning."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.farm.helpers import UNSHUTTER
from tests.limits import HANG
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
    spec = load_spec(
        _spec(
            tmp_path,
            {
                "chunk": 5,
                "shots": [
                    _shot(),
                    _shot(
                        name="b.2",
                        output="out/b.####.exr",
                        shutter=180,
                        guidance="left",
                        overrides="ov.yaml",
                        frames="1002-1010",
                        chunk=3,
                    ),
                ],
            },
        )
    )
    a, b = spec.shots
    assert spec.name == "reel" and spec.device == "auto" and spec.model is None and spec.threads is None
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


@pytest.mark.parametrize(
    "field, value, words",
    [
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
    ],
)
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
    # balanced like OpenJD, never a one-frame tail: 6 frames at most 5 per task are 3 + 3
    assert split(1001, 1006, 5) == [(1001, 1003), (1004, 1006)]
    assert split(1001, 1011, 5) == [(1001, 1004), (1005, 1008), (1009, 1011)]


def test_plan_reads_clip_range_and_checks_frames(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    spec = from_dict(
        {
            "shots": [
                {"name": "pan", "input": farm_clips["pan"], "output": "o/p.####.exr", "factor": 2, "chunk": 4},
                {
                    "name": "b",
                    "input": farm_clips["tilt-b"],
                    "output": "o/b.####.exr",
                    "factor": 2,
                    "frames": "1002-1004",
                    "chunk": 2,
                },
            ]
        },
        tmp_path / "reel.yaml",
    )
    assert [(c.shot.name, c.label) for c in plan(spec)] == [
        ("pan", "1001-1003"),
        ("pan", "1004-1006"),
        ("b", "1002-1003"),
        ("b", "1004-1004"),
    ]
    bad = from_dict(
        {
            "shots": [
                {"name": "x", "input": farm_clips["pan"], "output": "o/x.####.exr", "factor": 2, "frames": "995-1003"}
            ]
        },
        tmp_path / "reel.yaml",
    )
    with pytest.raises(ParameterError, match="shot 'x'.frames 995-1003: outside the clip"):
        plan_shot(bad.shots[0])


def test_cli_check_prints_chunks_and_fails_with_code_2(spec_path: Path, tmp_path: Path) -> None:
    p = subprocess.run([UNSHUTTER, "farm", "check", str(spec_path)], capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 0, p.stderr
    assert "pan: frames 1001-1006, factor 3, 3 chunk(s) of at most 2: 1001-1002 1003-1004 1005-1006" in p.stdout
    bad = _spec(tmp_path, {"shots": [_shot(name="hero", factor=0)]})
    p = subprocess.run([UNSHUTTER, "farm", "check", str(bad)], capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "shot 'hero' (shots[0]).factor" in p.stderr


@pytest.mark.parametrize(
    "shots, words",
    [
        # a folder output keeps the input's name: two shots whose plates are both plate.####.exr collide
        (
            [
                _shot(input="a/plate.####.exr", output="renders"),
                _shot(name="b", input="b/plate.####.exr", output="renders/"),
            ],
            ["shot 'b' (shots[1]).output", "same output as shot 'a'", "keeps the input name plate.####.exr"],
        ),
        # same manifest names (<base>.unshutter.A-B.json) even though the images differ in type
        (
            [_shot(), _shot(name="b", output="out/a.####.png")],
            ["shot 'b' (shots[1]).output", "same output as shot 'a'"],
        ),
        # over its own plates: as a pattern, as the plates' folder, with another padding (the plates' scan finds it)
        ([_shot(output="in/a.####.exr")], ["shot 'a' (shots[0]).output", "over its own input plates"]),
        ([_shot(output="in")], ["shot 'a' (shots[0]).output", "over its own input plates"]),
        ([_shot(output="in/a.%05d.exr")], ["shot 'a' (shots[0]).output", "over its own input plates"]),
        # names the plates' scan takes for its own frames: a.-1001.exr is frame -1001 of a.####.exr
        ([_shot(output="in/a.-####.exr")], ["shot 'a' (shots[0]).output", "over its own input plates"]),
        (
            [_shot(), _shot(name="b", input="in/b.####.exr", output="in/a.####.exr")],
            ["shot 'b' (shots[1]).output", "over the input plates of shot 'a'"],
        ),
        # a movie in, a folder out: each chunk would replace the whole movie with its own frames
        ([_shot(input="in/a.mov", output="out")], ["shot 'a' (shots[0]).output", "image sequences", "out/a.####.png"]),
        ([_shot(output="out/a.mp4")], ["shot 'a' (shots[0]).output", "image sequences"]),
        ([_shot(output="out/a.1001-1010#.exr")], ["shot 'a' (shots[0]).output", "without a frame range"]),
        ([_shot(input="in/a.exr")], ["shot 'a' (shots[0]).input", "no frame number token"]),
    ],
)
def test_outputs_that_would_lose_work_are_refused(tmp_path: Path, shots: list, words: list[str]) -> None:
    msg = _error(tmp_path, {"shots": shots})
    for w in words:
        assert w in msg, msg


def test_outputs_that_are_safe_are_accepted(tmp_path: Path) -> None:
    spec = load_spec(
        _spec(
            tmp_path,
            {
                "shots": [
                    _shot(input="a/plate.####.exr", output="renders/a"),  # folders per shot keep the plates' name
                    _shot(name="b", input="b/plate.####.exr", output="renders/b"),
                    _shot(
                        name="c", input="c/c.####.exr", output="c/c_slow.####.exr"
                    ),  # beside the plates, another name
                    _shot(name="d", input="in/d.mov", output="out/d.####.png"),
                    _shot(name="e", input="a/plate.####.exr", output="renders/e.####.exr"),  # shots may share plates
                ]
            },
        )
    )
    assert [s.name for s in spec.shots] == ["a", "b", "c", "d", "e"]


def test_plan_errors_name_the_shot_and_field(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    """What only the files can tell (clip present, override file valid) fails before any task, naming the shot."""
    from unshutter.errors import InputError, OverrideError

    def shot(**kw: object):  # type: ignore[no-untyped-def]
        doc = {"name": "hero", "input": farm_clips["pan"], "output": "o/h.####.exr", "factor": 2, **kw}
        return from_dict({"shots": [doc]}, tmp_path / "reel.yaml").shots[0]

    with pytest.raises(InputError, match=r"shot 'hero'\.input: .*nothere.*no frames found") as exc:
        plan_shot(shot(input=str(tmp_path / "nothere" / "p.####.exr")))
    assert exc.value.exit_code == 3
    with pytest.raises(ParameterError, match=r"shot 'hero'\.overrides: .*missing.yaml: file not found"):
        plan_shot(shot(overrides="missing.yaml"))
    (tmp_path / "bad.yaml").write_text("direction: sideways\n")
    with pytest.raises(OverrideError, match=r"shot 'hero'\.overrides: .*bad.yaml") as exc:
        plan_shot(shot(overrides="bad.yaml"))
    assert exc.value.exit_code == 4
    (tmp_path / "good.yaml").write_text("direction: left\n")
    assert [c.label for c in plan_shot(shot(overrides="good.yaml"))] == ["1001-1006"]


def test_threads_per_task(tmp_path: Path) -> None:
    """``threads``: each task's share of a node that runs several (0 or absent: all cores)."""
    assert load_spec(_spec(tmp_path, {"threads": 4, "shots": [_shot()]})).threads == 4
    assert load_spec(_spec(tmp_path, {"threads": 0, "shots": [_shot()]})).threads is None
    assert "threads" in _error(tmp_path, {"threads": -1, "shots": [_shot()]})
