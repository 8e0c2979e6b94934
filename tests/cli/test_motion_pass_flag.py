"""``--motion-pass``: a per-pixel motion-vector pass as the motion, on clips and on a lone still."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from unshutter.decomposer.contract import MOTION_SCALE, MVALID, MX, MY
from unshutter.guidance.motion_pass import write_vectors
from unshutter.io.image_file import read_image

from tests.cli.helpers import run_cli


def _pass(path: Path, h: int, w: int, dx: float, dy: float, y: str = "up") -> Path:
    """A forward-vector pass (Nuke's forward.u/v) of one motion, px per frame, x right, y down."""
    m = np.zeros((h, w, 2), np.float32)
    m[..., 0], m[..., 1] = dx, dy
    write_vectors(path, m, y=y)
    return path


@pytest.fixture(scope="module")
def decomposer():  # noqa: ANN201
    from unshutter.decomposer.runtime import Decomposer

    return Decomposer(None, device="cpu")


def _still(hdr_clip: str) -> np.ndarray:
    return read_image(Path(hdr_clip.replace("####", "1003")))[0][..., :3]


def _subframes(dec, still: np.ndarray, **params) -> np.ndarray:  # noqa: ANN001
    from unshutter.node import Node, NodeParams

    node = Node(NodeParams(factor=4, **params), decomposer=dec)
    return node.process(1003, still).subframes


def test_a_pass_of_one_motion_decomposes_a_still_like_that_vector(tmp_path: Path, hdr_clip: str, decomposer) -> None:  # noqa: ANN001
    still = _still(hdr_clip)
    h, w = still.shape[:2]
    # 12 px right per frame, at 360 degrees 12 px per exposure; a file without a frame number serves every frame
    right = _subframes(decomposer, still, motion_pass=str(_pass(tmp_path / "right.exr", h, w, 12.0, 0.0)))
    np.testing.assert_allclose(right, _subframes(decomposer, still, motion=(12.0, 0.0)), atol=1e-5)
    # the other way: the same sub-frames in the other time order (the output travels the pass's way)
    left = _subframes(decomposer, still, motion_pass=str(_pass(tmp_path / "left.exr", h, w, -12.0, 0.0)))
    assert np.abs(left[0] - right[-1]).mean() < 0.5 * np.abs(left[0] - right[0]).mean()
    # y: a pass stored y up (Nuke, Blender) of a motion up the picture is --motion 0,-8 (y down)
    up = _subframes(decomposer, still, motion_pass=str(_pass(tmp_path / "up.exr", h, w, 0.0, -8.0, y="up")))
    np.testing.assert_allclose(up, _subframes(decomposer, still, motion=(0.0, -8.0)), atol=1e-5)
    rows = _subframes(
        decomposer,
        still,
        motion_pass=str(_pass(tmp_path / "rows.exr", h, w, 0.0, -8.0, y="down")),
        motion_pass_y="down",
    )
    np.testing.assert_allclose(rows, up, atol=1e-5)


def test_the_pass_is_per_frame_and_scaled_by_the_shutter(tmp_path: Path, hdr_clip: str) -> None:
    from unshutter import color
    from unshutter.io.clip import open_clip
    from unshutter.node import Node, NodeParams

    clip = open_clip(hdr_clip)
    h, w = clip.meta.height, clip.meta.width
    for f, dx in ((1003, 6.0), (1004, -4.0)):
        _pass(tmp_path / f"v.{f:04d}.exr", h // 2, w // 2, dx, 1.0)  # a half-resolution pass: px at its size
    node = Node(NodeParams(factor=2, shutter=180.0, motion_pass=str(tmp_path / "v.####.exr")))
    cur, prev, nxt = (color.to_network(clip.read(f)[..., :3], 1.0) for f in (1003, 1002, 1004))
    trust: dict[str, np.ndarray] = {}
    g, source = node.guidance_for(1003, cur, prev, nxt, trust_out=trust)
    assert source == "motion-pass(v.1003.exr)" and (g[..., MVALID] == 1).all()
    # 6 px per frame at half size: 12 at the plate's, 6 over a 180-degree exposure; 1 down: 2, then 1
    np.testing.assert_allclose(g[10, 10, MX : MY + 1] * MOTION_SCALE, [6.0, 1.0], rtol=1e-3)
    assert "trust" in trust  # checked against the neighbours like any motion the artist gives
    g, source = node.guidance_for(1004, cur, prev, nxt)
    assert source == "motion-pass(v.1004.exr)"
    np.testing.assert_allclose(g[10, 10, MX : MY + 1] * MOTION_SCALE, [-4.0, 1.0], rtol=1e-3)


def test_run_with_a_pass_and_its_errors(tmp_path: Path, hdr_clip: str) -> None:
    h, w = read_image(Path(hdr_clip.replace("####", "1001")))[0].shape[:2]
    vec = tmp_path / "vec"
    vec.mkdir()
    for f in (1002, 1003, 1004):
        _pass(vec / f"shot_vec.{f:04d}.exr", h, w, 5.0, 0.0)
    pattern = str(vec / "shot_vec.####.exr")
    r = run_cli(
        "run",
        hdr_clip,
        "-o",
        str(tmp_path / "out"),
        "--factor",
        "2",
        "--frames",
        "1003",
        "--motion-pass",
        pattern,
        "-q",
    )
    assert r.returncode == 0, r.stderr
    man = json.loads(next((tmp_path / "out").glob("shot.unshutter*.json")).read_text())
    assert man["guidance"]["1003"] == "motion-pass(shot_vec.1003.exr)"
    # a frame the run decomposes without its pass file: exit 3 naming the file and frame, nothing written
    r = run_cli(
        "run",
        hdr_clip,
        "-o",
        str(tmp_path / "o2"),
        "--factor",
        "2",
        "--frames",
        "1003-1005",
        "--motion-pass",
        pattern,
        "-q",
    )
    assert r.returncode == 3 and "shot_vec.1005.exr: motion pass missing at frame 1005" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o2").exists()
    r = run_cli(
        "run", hdr_clip, "-o", str(tmp_path / "o3"), "--factor", "2", "--frames", "1003", "--motion-pass", pattern,
        "--motion-pass-channels", "motion.u,motion.v", "-q",
    )  # fmt: skip
    assert r.returncode == 3 and "no channels motion.u,motion.v" in r.stderr and "forward.u, forward.v" in r.stderr
    assert not (tmp_path / "o3").exists()


def test_units_flag_reads_a_normalised_pass_like_the_pass_in_pixels(tmp_path: Path, hdr_clip: str) -> None:
    """``--motion-pass-units ndc``: a 96x64 pass of -1..1 across the frame renders what the pass in pixels
    renders (px = v * 48 in x, v * 32 in y); an unknown unit is refused naming the flag, nothing written."""
    h, w = read_image(Path(hdr_clip.replace("####", "1001")))[0].shape[:2]
    assert (h, w) == (64, 96)
    _pass(tmp_path / "px.exr", h, w, 6.0, -2.0)
    _pass(tmp_path / "ndc.exr", h, w, 6.0 / (w / 2), -2.0 / (h / 2))  # 0.125, -0.0625: exact in half floats

    def run(name: str, out: str, *units: str) -> subprocess.CompletedProcess:
        return run_cli(
            "run", hdr_clip, "-o", str(tmp_path / out / "shot.####.exr"), "--factor", "2", "--frames", "1003",
            "--motion-pass", str(tmp_path / f"{name}.exr"), *units, "-q",
        )  # fmt: skip

    assert run("px", "px").returncode == 0
    r = run("ndc", "ndc", "--motion-pass-units", "ndc")
    assert r.returncode == 0, r.stderr
    man = json.loads(next((tmp_path / "ndc").glob("shot.unshutter*.json")).read_text())
    assert man["params"]["motion_pass_units"] == "ndc"
    names = sorted(p.name for p in (tmp_path / "px").glob("shot.*.exr"))
    assert len(names) == 2 and names == sorted(p.name for p in (tmp_path / "ndc").glob("shot.*.exr"))
    for name in names:
        np.testing.assert_array_equal(read_image(tmp_path / "ndc" / name)[0], read_image(tmp_path / "px" / name)[0])
    r = run("ndc", "bad", "--motion-pass-units", "furlongs")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].endswith(
        "argument --motion-pass-units: invalid choice: 'furlongs' (choose from 'px', 'ndc', 'uv')"
    ), r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--motion-pass-y", "down"), ("--motion-pass-points", "backward"), ("--motion-pass-units", "ndc")],
)
def test_a_pass_convention_without_a_pass_is_refused(
    tmp_path: Path, hdr_clip: str, flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A convention of the pass with no pass to describe would change only the run's signature (a resume
    refused, a render redone for nothing): exit 2, one line naming the flag, nothing written."""
    from unshutter.cli.main import main

    out = tmp_path / "out"
    assert main(["run", hdr_clip, "-o", str(out), "--factor", "2", "--frames", "1003", flag, value, "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"unshutter: error: {flag} {value}: give --motion-pass"), err
    assert not out.exists()


def test_pass_conventions_at_their_defaults_need_no_pass(tmp_path: Path, hdr_clip: str) -> None:
    """A script that spells out every flag at its default runs; the OFX worker, which sends its Vectors
    conventions whether or not a Vectors clip is connected (OFX's own default points forward), is not refused."""
    from unshutter.cli.main import main
    from unshutter.node import NodeParams

    defaults = ["--motion-pass-y", "up", "--motion-pass-points", "auto", "--motion-pass-units", "px"]
    out = tmp_path / "out"
    assert main(["run", hdr_clip, "-o", str(out), "--factor", "2", "--frames", "1003", *defaults, "-q"]) == 0
    NodeParams(motion_pass_y="down", motion_pass_points="forward", motion_pass_units="ndc").validate()


def test_a_changed_pass_renders_again(tmp_path: Path, hdr_clip: str) -> None:
    """The pass's bytes and units are part of each frame's signature: a re-run after either changed is not
    skipped."""
    h, w = read_image(Path(hdr_clip.replace("####", "1001")))[0].shape[:2]
    p = _pass(tmp_path / "v.exr", h, w, 5.0, 0.0)
    args = ("run", hdr_clip, "-o", str(tmp_path / "out"), "--factor", "2", "--frames", "1003", "--motion-pass", str(p))

    def done(*more: str) -> dict:
        """The run's last JSON event (written and skipped counts)."""
        return [json.loads(x) for x in run_cli(*args, "--json", *more).stdout.splitlines() if x.startswith("{")][-1]

    assert run_cli(*args, "--json").returncode == 0
    d = done()
    assert d["skipped"] > 0 and d["written"] == 0
    _pass(p, h, w, -5.0, 0.0)
    assert done()["written"] > 0
    # px said out loud is the default; the same file in other units is another motion: rendered again
    d = done("--motion-pass-units", "px")
    assert d["skipped"] > 0 and d["written"] == 0
    assert done("--motion-pass-units", "uv")["written"] > 0


def test_motion_pass_in_help() -> None:
    r = run_cli("run", "--help")
    for flag in (
        "--motion-pass PATTERN",
        "--motion-pass-channels X,Y",
        "--motion-pass-y",
        "--motion-pass-points",
        "--motion-pass-units",
    ):
        assert flag in r.stdout
