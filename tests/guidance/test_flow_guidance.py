"""Guidance from neighbouring frames: direction of a known pan, clip ends and hard cuts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from unshutter import color
from unshutter.decomposer.contract import GVALID, GX, GY, MX, MVALID
from unshutter.guidance import encode, flow
from unshutter.sample import render_clip

from tests.conftest import textured_photo


def _enc(frames: np.ndarray) -> list[np.ndarray]:
    return [color.to_network(f, 1.0) for f in frames]


def test_pan_right_gives_right_quadrants() -> None:
    # the camera moves right over the photo, so the picture moves left in frame
    frames = _enc(render_clip(textured_photo(), 3, 128, 96, speed=6.0, curve=0.0, samples=8))
    g = [flow.to_gray8(f) for f in frames]
    motion, used = flow.motion_from_neighbors(g[0], g[1], g[2])
    assert used == "both"
    inner = motion[16:-16, 16:-16]
    assert abs(float(np.median(inner[..., 0])) + 6.0) < 1.5
    gd = encode.guidance_from_motion(motion)
    assert np.mean(gd[16:-16, 16:-16, GX] == -1) > 0.9
    assert gd[..., GVALID].min() == 1 and gd[..., MVALID].min() == 1
    rev = encode.reverse(gd)
    assert np.array_equal(rev[..., GX], -gd[..., GX]) and np.array_equal(rev[..., MX], -gd[..., MX])


def test_one_sided_agrees_with_central() -> None:
    frames = _enc(render_clip(textured_photo(), 3, 128, 96, speed=6.0, curve=0.0, samples=8))
    g = [flow.to_gray8(f) for f in frames]
    fwd, used_n = flow.motion_from_neighbors(None, g[1], g[2])
    bwd, used_p = flow.motion_from_neighbors(g[0], g[1], None)
    assert (used_n, used_p) == ("next", "prev")
    assert abs(float(np.median(fwd[16:-16, 16:-16, 0] - bwd[16:-16, 16:-16, 0]))) < 1.0
    assert flow.motion_from_neighbors(None, g[1], None) == (None, "none")


def test_cut_detection() -> None:
    a = flow.to_gray8(_enc(render_clip(textured_photo(seed=0), 2, 96, 64, speed=5.0, samples=4))[0])
    b = flow.to_gray8(_enc(render_clip(textured_photo(seed=0), 2, 96, 64, speed=5.0, samples=4))[1])
    other = flow.to_gray8(
        color.to_network(np.full((64, 96, 3), 0.8, np.float32) * textured_photo(seed=7)[:64, :96][..., ::-1], 1.0)
    )
    assert not flow.is_cut(a, b)
    assert flow.is_cut(a, other)
    dark = np.full_like(a, 10)
    assert flow.is_cut(a, dark)


def test_static_scene_is_static() -> None:
    img = color.to_network(textured_photo()[:64, :96].copy(), 1.0)
    g = flow.to_gray8(img)
    motion, _ = flow.motion_from_neighbors(g, g, g)
    gd = encode.guidance_from_motion(motion)
    assert np.mean((gd[..., GX] == 0) & (gd[..., GY] == 0)) > 0.98


def test_node_guidance_stops_at_cut(tmp_path) -> None:
    from unshutter.node import Node, NodeParams

    node = Node(NodeParams(factor=2))
    frames = _enc(render_clip(textured_photo(), 3, 96, 64, speed=5.0, samples=4))
    other = color.to_network(textured_photo(seed=5)[:64, :96][::-1].copy() * 0.3, 1.0)
    _, src = node.guidance_for(1, frames[1], frames[0], other)
    assert src.startswith("neighbors:prev") and "cut-after" in src
    _, src = node.guidance_for(1, frames[1], other, None)
    assert src.startswith("none") and "cut-before" in src


def _pan_pair(shift: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Two views of one photo, the second with the picture moved left by ``shift`` px."""
    big = color.to_network(textured_photo(size, size + shift, seed=3), 1.0)
    g = flow.to_gray8(big)
    return np.ascontiguousarray(g[:, shift:]), np.ascontiguousarray(g[:, :size])


def test_a_fast_pan_on_a_small_frame_is_found() -> None:
    # 56 px between frames of a 256 px frame: beyond the pyramid DIS builds for
    # this size on its own (unpadded, the median comes out at +12 px)
    src, dst = _pan_pair(56)
    f = flow.dis_flow(dst, src)  # dst(p) ~ src(p - 56): flow -56 where both see the scene
    assert abs(float(np.median(f[24:-24, 80:-24, 0])) + 56.0) < 1.0
    assert abs(float(np.median(f[24:-24, 80:-24, 1]))) < 1.0


def test_padding_leaves_the_shape_and_a_small_motion() -> None:
    src, dst = _pan_pair(5, size=200)
    f = flow.dis_flow(dst, src)
    assert f.shape == (200, 200, 2) and f.dtype == np.float32 and f.flags.c_contiguous
    assert abs(float(np.median(f[16:-16, 16:-16, 0])) + 5.0) < 0.5


@pytest.mark.parametrize("h, w", [(256, 256), (272, 640), (540, 960), (256, 720), (720, 1280)])
def test_dis_levels_is_what_opencv_picks(h: int, w: int) -> None:
    # DIS clamps a coarsest scale set by hand to its own choice: the level at which
    # a larger setting stops changing the result is the one it picked
    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.uint8), (0, 0), 3)
    b = np.roll(a, 5, axis=1)

    def run(scale: int) -> np.ndarray:
        d = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        d.setCoarsestScale(scale)
        return d.calc(a, b, None)

    level = flow.dis_levels(h, w)
    auto = run(-1)
    assert np.array_equal(run(level), auto) and np.array_equal(run(level + 2), auto)
    assert not np.array_equal(run(level - 1), auto)


def test_frames_with_a_720p_pyramid_are_not_padded() -> None:
    def plain(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        d.setUseSpatialPropagation(True)
        return d.calc(a, b, None)

    src, dst = _pan_pair(5, size=800)
    assert flow.dis_levels(800, 800) >= flow.FLOW_MIN_LEVEL
    assert np.array_equal(flow.dis_flow(dst, src), plain(dst, src))
    small_dst, small_src = dst[:300, :300].copy(), src[:300, :300].copy()
    assert not np.array_equal(flow.dis_flow(small_dst, small_src), plain(small_dst, small_src))


def test_neighbor_motion_trusts_a_steady_pan_and_not_a_flow_that_disagrees_with_itself() -> None:
    from tests.conftest import textured_photo
    from unshutter.color import to_network
    from unshutter.guidance.flow import neighbor_motion, to_gray8

    photo = to_network(textured_photo(200, 320), 1.0)
    frame = lambda dx: to_gray8(np.ascontiguousarray(photo[40:160, 60 + dx : 260 + dx]))  # noqa: E731
    prev, cur, nxt = frame(-6), frame(0), frame(6)  # the view pans 6 px a frame: content moves left
    motion, used, trust = neighbor_motion(prev, cur, nxt)
    assert used == "both" and trust is not None
    inner = (slice(20, 100), slice(20, 180))
    assert abs(float(np.median(motion[inner][..., 0])) + 6.0) < 0.5
    assert float(np.median(trust[inner])) > 0.8
    # a frame that repeats its predecessor (a dropped frame): backward flow 0, forward 6 px: not steady
    _, _, trust_rep = neighbor_motion(cur, cur, nxt)
    assert float(np.median(trust_rep[inner])) < 0.3
    # one neighbour: nothing to check
    assert neighbor_motion(None, cur, nxt)[2] is None
