"""A batch spec's ``motion_pass`` reaches every task: run arguments, OpenJD template (a PATH parameter for
its folder), Dask payload; its errors name the shot and field; a pass file a task would miss is refused
before anything is submitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from unshutter.errors import InputError, OverrideError
from unshutter.farm.spec import SpecError, load_spec
from unshutter.guidance.motion_pass import write_vectors

from tests.farm.helpers import UNSHUTTER, one_shot_spec

PAN_FRAMES = range(1001, 1007)  # the farm clips' frames, 64 x 48


def _pass_files(folder: Path, frames: range, name: str = "pan_vec") -> str:
    """Forward vectors of a 2 px per frame pan for ``frames``, as ``folder/name.####.exr``."""
    folder.mkdir(parents=True, exist_ok=True)
    motion = np.zeros((48, 64, 2), np.float32)
    motion[..., 0] = 2.0
    for f in frames:
        write_vectors(folder / f"{name}.{f}.exr", motion)
    return str(folder / f"{name}.####.exr")


def test_motion_pass_reaches_the_run_arguments(tmp_path: Path) -> None:
    shot = load_spec(
        one_shot_spec(tmp_path, motion_pass="vec/a.####.exr", motion_pass_channels="R,G", motion_pass_y="down")
    ).shots[0]
    assert shot.motion_pass == str(tmp_path / "vec" / "a.####.exr")  # relative to the spec file
    p = shot.params()
    assert (p.motion_pass, p.motion_pass_channels, p.motion_pass_y, p.motion_pass_points) == (
        shot.motion_pass,
        "R,G",
        "down",
        "auto",
    )
    args = shot.run_args()
    assert args[args.index("--motion-pass") + 1] == shot.motion_pass
    assert args[args.index("--motion-pass-channels") + 1] == "R,G"
    assert args[args.index("--motion-pass-y") + 1] == "down"
    assert "--motion-pass" not in load_spec(one_shot_spec(tmp_path)).shots[0].run_args()


def test_motion_pass_units_reach_the_run_arguments_template_and_payload(
    tmp_path: Path, farm_clips: dict[str, str]
) -> None:
    from unshutter.farm.dask_runner import _payload
    from unshutter.farm.openjd import build_template
    from unshutter.farm.plan import Chunk
    from unshutter.farm.spec import Shot

    assert load_spec(one_shot_spec(tmp_path, motion_pass="v.####.exr")).shots[0].motion_pass_units == "px"
    _pass_files(tmp_path / "vec", PAN_FRAMES)
    spec = load_spec(
        one_shot_spec(tmp_path, input=farm_clips["pan"], motion_pass="vec/pan_vec.####.exr", motion_pass_units="uv")
    )
    shot = spec.shots[0]
    assert shot.motion_pass_units == "uv" and shot.params().motion_pass_units == "uv"
    args = shot.run_args()
    assert args[args.index("--motion-pass-units") + 1] == "uv"
    template, _ = build_template(spec)
    assert "--motion-pass-units uv" in " ".join(str(x) for x in _strings(template))
    assert Shot(**_payload(Chunk(shot, 1001, 1002), spec, None)["shot"]) == shot


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"motion_pass": "v.####.exr", "motion_pass_y": "left"}, r"\.motion_pass_y"),
        ({"motion_pass": "v.####.exr", "motion_pass_units": "cm"}, r"\.motion_pass_units"),
        ({"motion_pass": "v.####.exr", "motion_pass_channels": "u"}, r"\.motion_pass_channels"),
        ({"motion_pass": ""}, r"\.motion_pass"),
        ({"motion_pass": "v.####.exr", "motion": [1, 0]}, r"\.motion_pass: v\.####\.exr: give one motion"),
        ({"motion_pass_channels": "u,v"}, r"\.motion_pass_channels: u,v: give --motion-pass too"),
        ({"motion_pass_y": "down"}, r"\.motion_pass_y: down: give --motion-pass too"),
        ({"motion_pass_points": "backward"}, r"\.motion_pass_points: backward: give --motion-pass too"),
        ({"motion_pass_units": "uv"}, r"\.motion_pass_units: uv: give --motion-pass too"),
    ],
)
def test_bad_motion_pass_names_the_shot_and_field(tmp_path: Path, kw: dict, field: str) -> None:
    with pytest.raises(SpecError, match=r"shot 'car' \(shots\[0\]\).*" + field):
        load_spec(one_shot_spec(tmp_path, **kw))


def test_a_shot_without_a_pass_sends_no_pass_options(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    """Without a pass (its conventions at their defaults, said or not) no runner sends the pass's options,
    and a task's arguments pass the check ``unshutter run`` makes."""
    from unshutter.cli.main import build_parser
    from unshutter.cli.run import node_params
    from unshutter.farm.dask_runner import _payload
    from unshutter.farm.openjd import build_template
    from unshutter.farm.plan import Chunk
    from unshutter.farm.spec import Shot

    defaults = {"motion_pass_y": "up", "motion_pass_points": "auto", "motion_pass_units": "px"}
    spec = load_spec(one_shot_spec(tmp_path, input=farm_clips["pan"], **defaults))
    shot = spec.shots[0]
    assert not any(a.startswith("--motion-pass") for a in shot.run_args())
    template, _ = build_template(spec)
    assert "--motion-pass" not in " ".join(_strings(template))
    payload = _payload(Chunk(shot, 1001, 1002), spec, None)["shot"]
    assert Shot(**payload) == shot and payload["motion_pass"] is None
    args = build_parser().parse_args(["farm", "chunk", *shot.run_args(), "--frames", "1001-1002"])
    node_params(args).check_pass_options()


def test_openjd_template_and_dask_payload_carry_the_pass(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    from unshutter.farm.dask_runner import _payload
    from unshutter.farm.openjd import build_template
    from unshutter.farm.plan import Chunk
    from unshutter.farm.spec import Shot

    _pass_files(tmp_path / "vec", PAN_FRAMES)
    spec = load_spec(one_shot_spec(tmp_path, input=farm_clips["pan"], motion_pass="vec/pan_vec.####.exr"))
    template, values = build_template(spec)
    mv = [d for d in template["parameterDefinitions"] if d["name"].endswith("_MotionPass")]
    assert len(mv) == 1 and mv[0]["dataFlow"] == "IN" and mv[0]["objectType"] == "DIRECTORY"
    assert values[mv[0]["name"]] == str(tmp_path / "vec")
    text = yaml.safe_dump(template)
    assert f"{{{{Param.{mv[0]['name']}}}}}/pan_vec.####.exr" in text and "--motion-pass-points" in text
    shot = spec.shots[0]
    payload = _payload(Chunk(shot, 1001, 1002), spec, None)
    assert Shot(**payload["shot"]) == shot


def _strings(node: object) -> list[str]:
    """Every string inside a template (its commands' arguments among them), in document order."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_a_missing_pass_file_is_refused_before_submission(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    import subprocess

    from unshutter.farm.openjd import build_template
    from unshutter.farm.plan import plan_shot

    _pass_files(tmp_path / "vec", [f for f in PAN_FRAMES if f != 1004])
    path = one_shot_spec(tmp_path, input=farm_clips["pan"], motion_pass="vec/pan_vec.####.exr")
    spec = load_spec(path)
    with pytest.raises(
        InputError, match=r"shot 'car'.motion_pass: .*pan_vec.1004.exr: motion pass missing at frame 1004"
    ):
        plan_shot(spec.shots[0])
    with pytest.raises(InputError, match="pan_vec.1004.exr"):
        build_template(spec)
    p = subprocess.run([UNSHUTTER, "farm", "check", str(path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 3 and p.stderr.strip().count("\n") == 0, p.stderr  # 3: bad input
    assert "shot 'car'.motion_pass" in p.stderr and "missing at frame 1004" in p.stderr
    _pass_files(tmp_path / "vec", [1004])
    p = subprocess.run([UNSHUTTER, "farm", "check", str(path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "car: frames 1001-1006" in p.stdout and "pan_vec.####.exr present for every frame" in p.stdout


def test_a_pass_without_its_channels_is_refused(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    from unshutter.farm.plan import plan_shot

    _pass_files(tmp_path / "vec", PAN_FRAMES)
    spec = load_spec(
        one_shot_spec(tmp_path, input=farm_clips["pan"], motion_pass="vec/pan_vec.####.exr", motion_pass_channels="R,G")
    )
    with pytest.raises(
        InputError, match=r"shot 'car'.motion_pass: .*pan_vec.1001.exr: motion pass has no channels R,G"
    ):
        plan_shot(spec.shots[0])


@pytest.mark.parametrize(
    ("keys", "needed"),
    [
        ({"shutter": 360.0}, [1001, 1002, 1003, 1004, 1005]),  # the outputs blend with both neighbours
        ({"shutter": 360.0, "follow": 0.0}, [1002, 1003, 1004]),  # no blend: no neighbour decomposed
        ({"shutter": 180.0}, [1002, 1003, 1004, 1005]),  # the closed-shutter gap reads the next frame
    ],
)
def test_the_neighbours_a_run_decomposes_need_their_pass_too(
    tmp_path: Path, farm_clips: dict[str, str], keys: dict, needed: list[int]
) -> None:
    """The frames checked are those ``unshutter run --frames 1002-1004`` reads: a pass for the rest may be absent."""
    from unshutter.farm.plan import plan_shot

    def spec_with(frames: list[int]) -> object:
        folder = tmp_path / f"vec{len(list((tmp_path).iterdir()))}"
        _pass_files(folder, frames)
        return load_spec(
            one_shot_spec(
                tmp_path,
                input=farm_clips["pan"],
                motion_pass=str(folder / "pan_vec.####.exr"),
                frames="1002-1004",
                **keys,
            )
        )

    assert [c.label for c in plan_shot(spec_with(needed).shots[0])] == ["1002-1004"]  # type: ignore[attr-defined]
    for gone in needed:
        spec = spec_with([f for f in needed if f != gone])
        with pytest.raises(InputError, match=f"missing at frame {gone}"):
            plan_shot(spec.shots[0])  # type: ignore[attr-defined]


def test_a_regions_own_pass_is_a_bundle_input_and_checked(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    from unshutter.farm.openjd import override_inputs

    pattern = _pass_files(tmp_path / "car_vec", PAN_FRAMES, "car")
    region = {
        "name": "car",
        "frames": "1002-1003",
        "polygon": [[0, 0], [32, 0], [32, 24], [0, 24]],
        "motion_pass": pattern,
    }
    (tmp_path / "ov.yaml").write_text(yaml.safe_dump({"regions": [region]}))
    shot = load_spec(one_shot_spec(tmp_path, input=farm_clips["pan"], overrides="ov.yaml")).shots[0]
    assert override_inputs(shot, (1001, 1006)) == [str(tmp_path / "car_vec" / f"car.{f}.exr") for f in (1002, 1003)]
    (tmp_path / "car_vec" / "car.1003.exr").unlink()
    with pytest.raises(
        OverrideError, match=r"shot 'car'.overrides: .*car.1003.exr: motion pass for region car missing at frame 1003"
    ):
        override_inputs(shot, (1001, 1006))
    assert override_inputs(shot, (1001, 1002)) == [str(tmp_path / "car_vec" / "car.1002.exr")]
