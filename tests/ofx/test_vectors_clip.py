"""The OpenFX Vectors input: a motion-vector pass replaces the flow, y, sign and units as set, scaled with render
scale; the neighbours a frame blends with (and the 180-degree gap's next frame) move along their own frame's vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import pytest

from tests.ofx.conftest import FIRST, FRAMES, H, W, read_raw

N = 3


def _vectors(tmp_path: Path, u: float, v: float) -> None:
    """The Vectors clip: R, G = (u, v) px per frame at full resolution on every frame, a smooth field."""
    ramp = np.linspace(0.0, 2.0, W, dtype=np.float32)[None, :]
    for i in range(FRAMES):
        rgba = np.zeros((H, W, 4), np.float32)
        rgba[..., 0] = u + ramp
        rgba[..., 1] = v
        rgba[..., 3] = 1.0
        rgba.tofile(tmp_path / f"vec.{FIRST + i}.raw")


def _field(u: float, v: float, sx: float = 1.0, sy: float = 1.0) -> np.ndarray:
    """What the node gets: x right, y down, px at the frame's size. Shape: -> [H, W, 2]"""
    f = np.zeros((H, W, 2), np.float32)
    f[..., 0] = (u + np.linspace(0.0, 2.0, W, dtype=np.float32)[None, :]) * sx
    f[..., 1] = v * sy
    return f


def test_vectors_clip_is_the_motion_with_its_y_direction(host, clip, tmp_path: Path) -> None:
    from unshutter.node import Node, NodeParams

    _vectors(tmp_path, 9.0, 2.0)
    h = host(UNSHUTTER_KEEP_PYTHONPATH="1")  # the worker runs this tree's code, as the node below does
    h.ok(f"vectors {tmp_path}/vec.%d.raw {FIRST} {FIRST + FRAMES - 1} {W} {H}")
    h.start("general", clip, factor=N, followMotion=0.0)  # y up (the default): G = 2 moves up the picture
    status, facts = h.render(1005, tmp_path / "up.raw")
    assert status == 0, facts
    node = Node(NodeParams(factor=N, follow=0.0))
    f = FIRST + 1
    want = node.process(f, clip.frames[1], clip.frames[0], clip.frames[2], vectors=_field(9.0, -2.0))
    assert want.guidance_source == "motion-pass(vectors)"
    up = read_raw(tmp_path / "up.raw")[..., :3]
    np.testing.assert_allclose(up, want.subframes[1], atol=1e-5)
    # told y down, the same clip is a motion down the picture: another decomposition
    h.ok("set vectorsY 1", 0, 14)
    status, facts = h.render(1005, tmp_path / "down.raw")
    assert status == 0, facts
    down = node.process(f, clip.frames[1], clip.frames[0], clip.frames[2], vectors=_field(9.0, 2.0)).subframes[1]
    np.testing.assert_allclose(read_raw(tmp_path / "down.raw")[..., :3], down, atol=1e-5)
    assert np.abs(down - up).max() > 1e-3
    # backward: the vectors point against the motion
    h.ok("set vectorsY 0", 0, 14)
    h.ok("set vectorsPoints 1", 0, 14)
    status, facts = h.render(1005, tmp_path / "back.raw")
    assert status == 0, facts
    back = node.process(f, clip.frames[1], clip.frames[0], clip.frames[2], vectors=-_field(9.0, -2.0)).subframes[1]
    np.testing.assert_allclose(read_raw(tmp_path / "back.raw")[..., :3], back, atol=1e-5)


def test_vectors_clip_follows_render_scale(host, clip, tmp_path: Path) -> None:
    from unshutter.node import Node, NodeParams

    _vectors(tmp_path, 12.0, 0.0)
    h = host(UNSHUTTER_KEEP_PYTHONPATH="1")
    h.ok(f"vectors {tmp_path}/vec.%d.raw {FIRST} {FIRST + FRAMES - 1} {W} {H}")
    h.start("general", clip, factor=N, followMotion=0.0)
    status, facts = h.render(1005, tmp_path / "half.raw", scale=0.5)
    assert status == 0, facts
    node = Node(NodeParams(factor=N, follow=0.0))
    node.render_scale = (0.5, 0.5)
    half = lambda a: np.ascontiguousarray(a[1::2, 1::2])  # noqa: E731  (the harness samples the nearest pixel)
    f = FIRST + 1
    field = half(_field(12.0, 0.0)) * np.float32(0.5)  # full-resolution px per frame -> px at half size
    want = node.process(f, half(clip.frames[1]), half(clip.frames[0]), half(clip.frames[2]), vectors=field)
    got = read_raw(tmp_path / "half.raw", W // 2, H // 2)[..., :3]
    np.testing.assert_allclose(got, want.subframes[1], atol=1e-5)


def _normalised_vectors(tmp_path: Path, name: str, per_unit: tuple[float, float]) -> None:
    """The Vectors clip of ``_field(9.0, -1.5)`` y up (R = 9 + ramp px right, G = -1.5: 1.5 px down) divided by
    the px of one unit along each axis: NDC (W / 2, H / 2) or UV (W, H). Exact in float32 either way."""
    for i in range(FRAMES):
        rgba = np.zeros((H, W, 4), np.float32)
        rgba[..., :2] = _field(9.0, -1.5) / np.float32(per_unit)
        rgba[..., 3] = 1.0
        rgba.tofile(tmp_path / f"{name}.{FIRST + i}.raw")


def test_vectors_units_read_a_normalised_clip_like_pixels(host, clip, tmp_path: Path) -> None:
    """Vectors units NDC (-1..1 across the frame) and UV (0..1): the same decomposition as the clip in pixels,
    at full size and at half render scale (a normalised vector is px of the frame as rendered: no scale)."""
    from unshutter.node import Node, NodeParams

    _normalised_vectors(tmp_path, "ndc", (W / 2, H / 2))
    _normalised_vectors(tmp_path, "uv", (W, H))
    node = Node(NodeParams(factor=N, follow=0.0))
    f = FIRST + 1
    px = _field(9.0, 1.5)  # what the node gets: x right, y down
    want = node.process(f, clip.frames[1], clip.frames[0], clip.frames[2], vectors=px).subframes[1]
    h = host(UNSHUTTER_KEEP_PYTHONPATH="1")
    h.ok(f"vectors {tmp_path}/ndc.%d.raw {FIRST} {FIRST + FRAMES - 1} {W} {H}")
    h.start("general", clip, factor=N, followMotion=0.0, vectorsUnits=1)
    status, facts = h.render(1005, tmp_path / "ndc.raw")
    assert status == 0, facts
    np.testing.assert_allclose(read_raw(tmp_path / "ndc.raw")[..., :3], want, atol=1e-5)
    # told pixels, the same clip is a motion of a fraction of a pixel: another decomposition
    h.ok("set vectorsUnits 0", 0, 14)
    status, facts = h.render(1005, tmp_path / "as_px.raw")
    assert status == 0, facts
    assert np.abs(read_raw(tmp_path / "as_px.raw")[..., :3] - want).max() > 1e-3

    h = host(UNSHUTTER_KEEP_PYTHONPATH="1")
    h.ok(f"vectors {tmp_path}/uv.%d.raw {FIRST} {FIRST + FRAMES - 1} {W} {H}")
    h.start("general", clip, factor=N, followMotion=0.0, vectorsUnits=2)
    status, facts = h.render(1005, tmp_path / "uv_half.raw", scale=0.5)
    assert status == 0, facts
    node.render_scale = (0.5, 0.5)
    half = lambda a: np.ascontiguousarray(a[1::2, 1::2])  # noqa: E731  (the harness samples the nearest pixel)
    want = node.process(f, half(clip.frames[1]), half(clip.frames[0]), half(clip.frames[2]), vectors=half(px) * 0.5)
    got = read_raw(tmp_path / "uv_half.raw", W // 2, H // 2)[..., :3]
    np.testing.assert_allclose(got, want.subframes[1], atol=1e-5)


def _moving_vectors(tmp_path: Path) -> Path:
    """A different field on every frame (so a neighbour's vectors cannot stand in for the frame's own), as the
    harness's raw RGBA and as the EXR pass `unshutter run --motion-pass` reads: values exact in half floats.
    Returns the EXR pattern."""
    from unshutter.guidance.motion_pass import write_vectors

    ramp = (np.arange(W, dtype=np.float32) / 32.0)[None, :]
    for i in range(FRAMES):
        u, v = 4.0 + 2.0 * i + ramp, np.full((H, W), 1.0 + 0.5 * i, np.float32)  # v: y up
        rgba = np.zeros((H, W, 4), np.float32)
        rgba[..., 0], rgba[..., 1], rgba[..., 3] = u, v, 1.0
        rgba.tofile(tmp_path / f"vec.{FIRST + i}.raw")
        write_vectors(tmp_path / f"vec.{FIRST + i:04d}.exr", np.stack([u + 0 * v, -v], -1), y="up", names=("R", "G"))
    return tmp_path / "vec.####.exr"


@pytest.mark.parametrize("shutter,n,follow", [(360, 3, 1.25), (180, 4, 1.5)])
def test_neighbours_move_along_their_own_vectors_as_in_the_cli(
    host, clip, cli_render, tmp_path: Path, shutter: int, n: int, follow: float
) -> None:
    """With follow on, each frame's outputs are blended with the previous frame's carried along that frame's motion,
    and at 180 degrees the gap is interpolated toward the next frame's: the plugin fetches the Vectors input at
    those frames too, so every output is the CLI's with the same pass."""
    exr = _moving_vectors(tmp_path)
    ref = cli_render(
        *("--factor", str(n), "--shutter", str(shutter), "--follow", str(follow)),
        *("--motion-pass", str(exr), "--motion-pass-channels", "R,G", "--motion-pass-y", "up"),
    )
    h = host()
    h.ok(f"vectors {tmp_path}/vec.%d.raw {FIRST} {FIRST + FRAMES - 1} {W} {H}")
    h.start("general", clip, factor=n, shutterAngle=shutter, followMotion=follow)
    for t in sorted(ref):
        status, facts = h.render(t, tmp_path / f"o.{t}.raw")
        assert status == 0, facts
        np.testing.assert_allclose(
            read_raw(tmp_path / f"o.{t}.raw")[..., :3], ref[t], rtol=0, atol=1e-5, err_msg=f"output frame {t}"
        )
    assert "violations 0" in h.ok("stats")
