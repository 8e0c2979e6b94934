"""``--motion DX,DY``: a whole-frame vector, on clips and on a lone still without a frame number."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from unshutter.decomposer.contract import GX, GY, MOTION_SCALE, MVALID, MX, MY
from unshutter.errors import ParameterError
from unshutter.io.image_file import read_image
from unshutter.node import NodeParams

from tests.cli.helpers import run_cli


@pytest.fixture()
def still(tmp_path: Path, hdr_clip: str) -> Path:
    """One blurred frame of the HDR clip saved as photo.exr (no frame number, no neighbours)."""
    p = tmp_path / "photo.exr"
    shutil.copyfile(hdr_clip.replace("####", "1003"), p)
    return p


def test_lone_still_with_motion(tmp_path: Path, still: Path) -> None:
    r = run_cli("run", str(still), "-o", str(tmp_path / "out"), "--factor", "4", "--motion", "12,0", "-q")
    assert r.returncode == 0, r.stderr
    outs = sorted((tmp_path / "out").glob("photo.*.exr"))
    assert [p.name for p in outs] == [f"photo.{i:04d}.exr" for i in (1, 2, 3, 4)]
    man = json.loads((tmp_path / "out" / "photo.unshutter.json").read_text())
    assert man["input"]["kind"] == "still" and man["params"]["motion"] == [12.0, 0.0]
    assert man["guidance"]["1"] == "motion(12,0)"
    src = read_image(still)[0]
    subs = np.stack([read_image(p)[0] for p in outs])
    np.testing.assert_allclose(subs.mean(axis=0), src, atol=2e-2)  # reblur consistency holds for a still too
    # reversed: the same decomposition in the other time order
    r = run_cli("run", str(still), "-o", str(tmp_path / "rev"), "--factor", "4", "--motion", "12,0", "--reverse", "-q")
    assert r.returncode == 0, r.stderr
    rev = np.stack([read_image(tmp_path / "rev" / f"photo.{i:04d}.exr")[0] for i in (1, 2, 3, 4)])
    assert np.abs(rev[0] - subs[-1]).mean() < 0.5 * np.abs(rev[0] - subs[0]).mean()


@pytest.mark.parametrize("value", ["12", "a,b", "nan,0", "1e9,0", "1,2,3"])
def test_bad_motion_is_exit_2(tmp_path: Path, still: Path, value: str) -> None:
    r = run_cli("run", str(still), "-o", str(tmp_path / "out"), "--factor", "2", f"--motion={value}", "-q")
    assert r.returncode == 2 and "--motion" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("motion", [(float("nan"), 0.0), (0.0, float("inf")), (2e4, 0.0), ("x", 1)])
def test_node_params_refuse_bad_motion(motion: tuple) -> None:
    with pytest.raises(ParameterError, match="--motion"):
        NodeParams(motion=motion).validate()


def test_motion_replaces_flow_and_follows_render_scale(hdr_clip: str) -> None:
    from unshutter import color
    from unshutter.io.clip import open_clip
    from unshutter.node import Node

    clip = open_clip(hdr_clip)
    cur, prev, nxt = (color.to_network(clip.read(f)[..., :3], 1.0) for f in (1003, 1002, 1004))
    node = Node(NodeParams(factor=2, motion=(-20.0, 6.0)))
    g, source = node.guidance_for(1003, cur, prev, nxt)
    assert source == "motion(-20,6)" and (g[..., MVALID] == 1).all()
    np.testing.assert_allclose(
        g[..., MX : MY + 1] * MOTION_SCALE, np.broadcast_to([-20, 6], g.shape[:2] + (2,)), rtol=1e-6
    )
    assert (g[..., GX] == -1).all() and (g[..., GY] == 1).all()
    node.render_scale = (0.5, 0.25)
    g, _ = node.guidance_for(1003, cur, prev, nxt)
    np.testing.assert_allclose(g[0, 0, MX : MY + 1] * MOTION_SCALE, [-10, 1.5], rtol=1e-6)


def test_motion_in_help() -> None:
    r = run_cli("run", "--help")
    assert "--motion DX,DY" in r.stdout and "px per exposure" in r.stdout


def test_a_lone_still_without_motion_is_warned_about(tmp_path: Path, still: Path) -> None:
    r = run_cli("run", str(still), "-o", str(tmp_path / "out"), "--factor", "2", "-q")
    assert r.returncode == 0 and "no motion to go on" in r.stderr and "--motion" in r.stderr
    r = run_cli("run", str(still), "-o", str(tmp_path / "out2"), "--factor", "2", "--motion", "4,0", "-q")
    assert r.returncode == 0 and "no motion to go on" not in r.stderr


def test_override_ranges_outside_the_clip_are_warned_about(tmp_path: Path, hdr_clip: str) -> None:
    ov = tmp_path / "car.yaml"  # written in output frame numbers by mistake: the clip's source frames are 1001-1006
    ov.write_text(
        "regions:\n  - {name: car, motion: [8, 0], frames: 4003-4010, polygon: [[0, 0], [40, 0], [40, 30], [0, 30]]}\n"
    )
    r = run_cli(
        "run", hdr_clip, "-o", str(tmp_path / "out"), "--factor", "2", "--frames", "1003", "--overrides", str(ov), "-q"
    )
    lines = [x for x in r.stderr.splitlines() if "warning" in x]
    assert r.returncode == 0 and len(lines) == 1, r.stderr
    assert str(ov) in lines[0] and "region car 4003-4010" in lines[0] and "1001-1006" in lines[0]
    ov.write_text(
        "regions:\n  - {name: car, motion: [8, 0], frames: 1003-1010, polygon: [[0, 0], [40, 0], [40, 30], [0, 30]]}\n"
    )
    r = run_cli(
        "run", hdr_clip, "-o", str(tmp_path / "out2"), "--factor", "2", "--frames", "1003", "--overrides", str(ov), "-q"
    )
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr


def test_with_json_a_warning_is_also_an_event_on_stdout(tmp_path: Path, hdr_clip: str) -> None:
    """A host that reads only the --json events (stdout) gets the warnings too; stderr keeps its line."""
    ov = tmp_path / "car.yaml"
    ov.write_text(
        "regions:\n  - {name: car, motion: [8, 0], frames: 4003-4010, polygon: [[0, 0], [40, 0], [40, 30], [0, 30]]}\n"
    )
    r = run_cli(
        "run",
        hdr_clip,
        "-o",
        str(tmp_path / "out"),
        "--factor",
        "2",
        "--frames",
        "1003",
        "--overrides",
        str(ov),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    events = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    warnings = [e for e in events if e["event"] == "warning"]
    assert len(warnings) == 1 and "region car 4003-4010" in warnings[0]["message"]
    assert warnings[0]["message"] in r.stderr
    assert events[-1]["event"] == "done"  # the warning came before the render, the run went on
