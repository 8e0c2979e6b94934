"""A batch spec's ``motion_pass`` reaches every task: run arguments, OpenJD template (a PATH parameter for
its folder), Dask payload; its errors name the shot and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unshutter.farm.spec import SpecError, load_spec

from tests.farm.helpers import one_shot_spec


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


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"motion_pass": "v.####.exr", "motion_pass_y": "left"}, r"\.motion_pass_y"),
        ({"motion_pass": "v.####.exr", "motion_pass_channels": "u"}, r"\.motion_pass_channels"),
        ({"motion_pass": ""}, r"\.motion_pass"),
        ({"motion_pass": "v.####.exr", "motion": [1, 0]}, r"\.motion_pass: v\.####\.exr: give one motion"),
        ({"motion_pass_channels": "u,v"}, r"\.motion_pass_channels: u,v: give --motion-pass too"),
    ],
)
def test_bad_motion_pass_names_the_shot_and_field(tmp_path: Path, kw: dict, field: str) -> None:
    with pytest.raises(SpecError, match=r"shot 'car' \(shots\[0\]\).*" + field):
        load_spec(one_shot_spec(tmp_path, **kw))


def test_openjd_template_and_dask_payload_carry_the_pass(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    from unshutter.farm.dask_runner import _payload
    from unshutter.farm.openjd import build_template
    from unshutter.farm.plan import Chunk
    from unshutter.farm.spec import Shot

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
