"""The node as hosts call it with pixels in memory."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest

from unshutter import color, travel
from unshutter.decomposer.contract import GVALID, GX, GY, MOTION_SCALE, MVALID
from unshutter.guidance import flow
from unshutter.guidance.overrides import neighbour_match
from unshutter.io.clip import open_clip
from unshutter.node import FrameResult, Node, NodeParams


@pytest.fixture(scope="module")
def frames(hdr_clip: str) -> list[np.ndarray]:
    clip = open_clip(hdr_clip)
    return [clip.read(f) for f in (1002, 1003, 1004)]


@pytest.mark.parametrize("mode,sx,sy", [("left", -1, 1), ("right", 1, -1), ("up", -1, -1), ("down", 1, 1)])
def test_global_directions(frames: list[np.ndarray], mode: str, sx: int, sy: int) -> None:
    node = Node(NodeParams(factor=2, guidance=mode))
    res = node.process(1003, frames[1], frames[0], frames[2])
    assert res.guidance_source == mode
    assert (res.guidance[..., GX] == sx).all() and (res.guidance[..., GY] == sy).all()
    assert (res.guidance[..., MVALID] == 0).all()


def test_none_and_reverse(frames: list[np.ndarray]) -> None:
    none = Node(NodeParams(factor=2, guidance="none")).process(1003, frames[1], frames[0], frames[2])
    assert (none.guidance == 0).all()
    fwd = Node(NodeParams(factor=2)).process(1003, frames[1], frames[0], frames[2])
    rev = Node(NodeParams(factor=2, guidance="reverse")).process(1003, frames[1], frames[0], frames[2])
    flag = Node(NodeParams(factor=2, reverse=True)).process(1003, frames[1], frames[0], frames[2])
    assert np.array_equal(rev.guidance[..., GX], -fwd.guidance[..., GX])
    assert np.array_equal(flag.guidance, rev.guidance)
    assert rev.guidance_source.endswith("reversed") and flag.guidance_source.endswith("+reverse")


def test_matte_direction_wins(frames: list[np.ndarray]) -> None:
    h, w = frames[1].shape[:2]
    matte = np.zeros((h, w), np.float32)
    matte[:, : w // 2] = 1.0
    res = Node(NodeParams(factor=2, guidance="none")).process(1003, frames[1], matte=matte, matte_direction="up")
    assert (res.guidance[:, : w // 2, GX] == -1).all() and (res.guidance[:, w // 2 :, GVALID] == 0).all()


@pytest.mark.parametrize("factor", [1, 2, 7, 16])
def test_draft_and_full_shapes_and_reblur(frames: list[np.ndarray], factor: int) -> None:
    for quality in ("full", "draft"):
        res = Node(NodeParams(factor=factor, quality=quality)).process(1003, frames[1], frames[0], frames[2])
        assert res.subframes.shape == (factor,) + frames[1].shape
        if factor >= 2:
            np.testing.assert_allclose(res.subframes.mean(0), frames[1], rtol=1e-5, atol=1e-6)


def test_on_stage_reports_each_stage_once_in_order(frames: list[np.ndarray]) -> None:
    seen: list[str] = []
    res = Node(NodeParams(factor=3)).process(1003, frames[1], frames[0], frames[2], on_stage=seen.append)
    assert seen == ["flow", "decompose", "resample"]
    plain = Node(NodeParams(factor=3)).process(1003, frames[1], frames[0], frames[2])
    np.testing.assert_array_equal(res.subframes, plain.subframes)


def test_the_flow_holds_only_the_frames_own_encoding_and_the_neighbours_in_grey(
    frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The neighbours' network encodings are freed before the flow runs (two frames' worth at 4K, where a
    4K frame's flow peaks); the guidance is the same."""
    made: list[weakref.ref[np.ndarray]] = []
    to_network, neighbor_motion = color.to_network, flow.neighbor_motion

    def recorded(linear: np.ndarray, scale: float) -> np.ndarray:
        enc = to_network(linear, scale)
        made.append(weakref.ref(enc))
        return enc

    alive: list[int] = []

    def counted(*grays: np.ndarray | None) -> tuple[np.ndarray | None, str, np.ndarray | None]:
        alive.append(sum(r() is not None for r in made))
        return neighbor_motion(*grays)

    node = Node(NodeParams(factor=3))
    plain = node.prepare(1003, frames[1], frames[0], frames[2])
    monkeypatch.setattr(color, "to_network", recorded)
    monkeypatch.setattr(flow, "neighbor_motion", counted)
    prep = node.prepare(1003, frames[1], frames[0], frames[2])
    assert len(made) == 3 and alive == [1]
    np.testing.assert_array_equal(prep.guidance, plain.guidance)
    assert prep.source == plain.source


def test_follow_weight_is_the_flow_trust_and_the_warps_hold_where_an_override_sets_the_motion(
    frames: list[np.ndarray],
) -> None:
    from unshutter.color import to_network

    enc = [to_network(f[..., :3], 1.0) for f in frames]
    node = Node(NodeParams(factor=3, follow=0.8))
    trust: dict[str, np.ndarray] = {}
    g, _ = node.guidance_for(1003, enc[1], enc[0], enc[2], trust_out=trust)
    assert trust["trust"].shape == g.shape[:2] and 0.0 <= trust["trust"].min() <= trust["trust"].max() <= 1.0
    _, weight = node.motion_of(g, trust["trust"])
    np.testing.assert_allclose(weight, 0.8 * trust["trust"] * g[..., MVALID], rtol=1e-6)
    # a matte forcing a direction keeps the flow's size with other signs: the artist's motion, trusted as far as
    # a warp along it stays on it and the neighbours match along it
    matte = np.zeros(g.shape[:2], np.float32)
    matte[:, : g.shape[1] // 2] = 1.0
    trust2: dict[str, np.ndarray] = {}
    g2, _ = node.guidance_for(1003, enc[1], enc[0], enc[2], matte, "left", trust_out=trust2)
    now = np.asarray(g2[..., 3:5], np.float32)
    changed = np.abs(now - np.asarray(g[..., 3:5], np.float32)).max(-1) > 1e-6
    assert changed.any()
    held = travel.warp_consistency(now * np.float32(MOTION_SCALE))
    grey = [flow.to_gray8(e) for e in enc]  # ... and as far as the neighbours bear it out
    held *= neighbour_match(now * np.float32(MOTION_SCALE), grey[1], grey[0], grey[2])
    np.testing.assert_allclose(trust2["trust"][changed], held[changed], rtol=1e-6)
    np.testing.assert_allclose(trust2["trust"][~changed], trust["trust"][~changed])
    # follow 0: the decomposer's own sub-frames
    assert not Node(NodeParams(factor=3, follow=0.0)).motion_of(g, trust["trust"])[1].any()


def test_an_override_vector_is_trusted_inside_and_not_where_a_warp_along_it_leaves_it(
    tmp_path: Path, frames: list[np.ndarray]
) -> None:
    """Following an override's vector backward-warps along a motion that stops at the region's edge: the band
    at the leading and trailing edges (as wide as half the motion) is not followed; the inside is, fully."""
    from unshutter.color import to_network

    ov = tmp_path / "ov.yaml"
    ov.write_text(
        "regions:\n  - {name: car, motion: [24, 0], feather: 0, polygon: [[30, 10], [70, 10], [70, 50], [30, 50]]}\n"
    )
    enc = [to_network(f[..., :3], 1.0) for f in frames]
    for params in (
        NodeParams(factor=3, overrides=str(ov)),
        NodeParams(factor=3, overrides=str(ov), guidance="none"),
        NodeParams(factor=3, overrides=str(ov), motion=(0.0, 0.0)),
    ):
        trust: dict[str, np.ndarray] = {}
        Node(params).guidance_for(1003, enc[1], None, None, trust_out=trust)  # no neighbours to check it against
        t = trust["trust"]
        assert t[30, 45:56].min() == 1.0, params  # 12+ px inside both edges: a warp by +-12 px stays inside
        assert t[30, 30:36].max() < 0.5 and t[30, 64:70].max() < 0.5, params  # the bands at the edges


def _box_passing_behind_a_railing(v: int = 12) -> list[np.ndarray]:
    """Three frames (network encoding): a textured box moving ``v`` px right per frame over a textured static
    background, behind a static dark railing (x 64-69). Shape: -> 3 x [64, 160, 3]"""
    import cv2

    rng = np.random.default_rng(5)
    bg = cv2.GaussianBlur(rng.random((64, 160)).astype(np.float32), (0, 0), 1.0) + 0.1
    box = cv2.GaussianBlur(rng.random((32, 60)).astype(np.float32), (0, 0), 1.0) + 0.2
    out = []
    for t in (-1, 0, 1):
        img = bg.copy()
        img[16:48, 40 + t * v : 100 + t * v] = box
        img[:, 64:70] = 0.05
        out.append(np.repeat(img[..., None], 3, axis=-1))
    return out


@pytest.mark.parametrize("guidance", ["neighbors", "none"])
def test_an_override_vector_is_followed_where_the_neighbours_bear_it_out(tmp_path: Path, guidance: str) -> None:
    """A region drawn around a box also covers the railing in front of it: the node follows the box's vector
    on the box, where the neighbours moved along it match the frame, and not on the railing or with a vector
    the frames contradict (carried along it, the railing would smear into the box)."""
    enc = _box_passing_behind_a_railing()
    trusts = {}
    for vx in (12, -12):
        ov = tmp_path / f"ov{vx}.yaml"
        ov.write_text(
            f"regions:\n  - {{motion: [{vx}, 0], feather: 0, polygon: [[40, 16], [100, 16], [100, 48], [40, 48]]}}\n"
        )
        trust: dict[str, np.ndarray] = {}
        Node(NodeParams(factor=3, overrides=str(ov), guidance=guidance)).guidance_for(
            1, enc[1], enc[0], enc[2], trust_out=trust
        )
        trusts[vx] = trust["trust"]
    right = trusts[12]
    assert right[26:38, 76:92].min() > 0.8  # the box, away from its edges and the railing
    assert right[26:38, 66:68].max() < 0.2  # the railing in front of it
    assert trusts[-12][26:38, 76:92].max() < 0.3  # the box told to move the wrong way


def test_a_frame_below_360_keeps_its_follow_weight_for_its_gap(frames: list[np.ndarray]) -> None:
    """fill_gap needs the weight that ranked the motions inside the exposure; at 360 nothing is kept."""
    gap = Node(NodeParams(factor=4, shutter=180.0)).process(1003, frames[1], frames[0], frames[2])
    assert gap.follow is not None and gap.follow.shape == frames[1].shape[:2] and gap.follow.dtype == np.float16
    assert gap.follow.max() > 0.0
    full = Node(NodeParams(factor=4)).process(1003, frames[1], frames[0], frames[2])
    assert full.follow is None


def test_follow_above_one_rises_past_the_flows_consistency_to_everywhere_at_two() -> None:
    from unshutter.errors import ParameterError

    g = np.zeros((4, 5, 6), np.float32)
    g[..., MVALID] = 1.0
    g[0, 0, MVALID] = 0.0  # no motion known here: never followed
    trust = np.linspace(0.0, 1.0, 20, dtype=np.float32).reshape(4, 5)

    def weight(f: float) -> np.ndarray:
        return Node(NodeParams(factor=3, follow=f)).motion_of(g, trust)[1]

    np.testing.assert_allclose(weight(1.0), g[..., MVALID] * trust)
    np.testing.assert_allclose(weight(0.5), 0.5 * g[..., MVALID] * trust)
    np.testing.assert_allclose(weight(2.0), g[..., MVALID])
    half = weight(1.5)
    assert (half >= weight(1.0)).all() and (half <= weight(2.0)).all() and half[0, 0] == 0.0
    np.testing.assert_allclose(half[1:], (trust + 0.5 * (1 - trust))[1:])
    with pytest.raises(ParameterError, match="between 0 and 2"):
        NodeParams(factor=3, follow=2.5).validate()


def test_full_quality_deconvolves_the_mid_exposure_frame_and_a_draft_does_not(
    frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    from unshutter import sharpen

    calls: list[int] = []
    real = sharpen.along_motion

    def spy(mid, blurred, motion, exposure, iterations=sharpen.ITERATIONS, out=None):  # noqa: ANN001, ANN202
        calls.append(iterations)
        return real(mid, blurred, motion, exposure, iterations, out)

    monkeypatch.setattr(sharpen, "along_motion", spy)
    full = Node(NodeParams(factor=3)).process(1003, frames[1], frames[0], frames[2])
    draft = Node(NodeParams(factor=3, quality="draft")).process(1003, frames[1], frames[0], frames[2])
    assert calls == [sharpen.ITERATIONS, 0]
    assert not np.array_equal(full.subframes, draft.subframes)


def test_at_360_degrees_settle_blends_toward_the_neighbours_and_not_across_a_cut(frames: list[np.ndarray]) -> None:
    node = Node(NodeParams(factor=3))
    assert node.needs_previous() and node.needs_next()
    res = node.process(1003, frames[1], frames[0], frames[2])
    prev = node.process(1002, frames[0], None, frames[1])
    nxt = node.process(1004, frames[2], frames[1], None)
    assert res.carried is not None and res.blurred is not None
    alone = res.subframes.copy()
    node.settle(res, prev.carried, nxt)
    assert not np.allclose(res.subframes, alone, atol=1e-4)  # moved toward the neighbours
    np.testing.assert_allclose(res.subframes.mean(axis=0), frames[1], rtol=1e-5, atol=1e-5)  # the exact reblur
    # a neighbour from another shot (a hard cut) is not blended toward
    cut = node.process(1004, frames[2][::-1, ::-1].copy(), frames[1], None)
    res = node.process(1003, frames[1], frames[0], frames[2])
    node.settle(res, None, cut)
    np.testing.assert_array_equal(res.subframes, alone)
    # without following the motion nothing is carried, so nothing waits for a neighbour
    still = Node(NodeParams(factor=3, follow=0.0))
    assert not still.needs_previous() and not still.needs_next()
    assert still.process(1003, frames[1], frames[0], frames[2]).carried is None


def test_settle_blends_along_the_landings_the_outputs_followed(frames: list[np.ndarray], monkeypatch) -> None:
    """A frame's outputs followed its motion with one set of landings (a sort of the frame's pixels, their
    landing at each output's time); the blend carries them along the same ones again, so settling sorts only
    the two neighbours' pixels, and lets the frame's landings go."""
    from unshutter import travel

    node = Node(NodeParams(factor=3))
    prev = node.process(1002, frames[0], None, frames[1])
    res = node.process(1003, frames[1], frames[0], frames[2])
    nxt = node.process(1004, frames[2], frames[1], None)
    assert res.warper is not None and res.warper.nbytes > 0 and res.carried is not None
    sorts: list[int] = []
    real = travel.Warper._sort
    monkeypatch.setattr(travel.Warper, "_sort", lambda self: sorts.append(1) or real(self))
    node.settle(res, prev.carried, nxt)
    assert len(sorts) == 2 and res.warper is None
    np.testing.assert_allclose(res.subframes.mean(axis=0), frames[1], rtol=1e-5, atol=1e-5)  # the exact reblur
    # a frame whose outputs lend nothing to the neighbours' keeps no landings (below 360 degrees: the gap)
    assert Node(NodeParams(factor=3, shutter=180.0)).process(1003, frames[1], frames[0], frames[2]).warper is None


def test_frames_above_the_blend_budget_neither_wait_nor_read_the_previous_frame() -> None:
    from unshutter import retime
    from unshutter.node import neighbours_needed

    p = NodeParams(factor=4)
    assert neighbours_needed(p, (1080, 1920)) == (True, True)
    assert neighbours_needed(p, (2160, 3840)) == (False, False)  # 4K: another frame's outputs would be held
    assert neighbours_needed(NodeParams(factor=4, shutter=180.0), (2160, 3840)) == (False, True)  # the gap
    assert 1920 * 1080 <= retime.BLEND_PIXELS < 3840 * 2160


def test_a_whole_frame_vector_is_followed_where_the_neighbours_bear_it_out() -> None:
    """``--motion`` on a clip: followed on what moves with it, not on the static background or the railing; on
    a lone still there is nothing to check it against and it is followed everywhere (no trust map)."""
    enc = _box_passing_behind_a_railing()
    trust: dict[str, np.ndarray] = {}
    Node(NodeParams(factor=3, motion=(12.0, 0.0))).guidance_for(1, enc[1], enc[0], enc[2], trust_out=trust)
    t = trust["trust"]
    assert t[26:38, 76:92].min() > 0.8 and t[26:38, 66:68].max() < 0.2 and t[2:10, 110:150].max() < 0.2
    alone: dict[str, np.ndarray] = {}
    Node(NodeParams(factor=3, motion=(12.0, 0.0))).guidance_for(1, enc[1], None, None, trust_out=alone)
    assert "trust" not in alone


def test_a_fast_object_the_motion_missed_crosses_the_gap_instead_of_fading_between_two_places() -> None:
    """180 degrees, factor 8: the gap's outputs carry each sharp end along the flow measured between them, so a
    square the frame's own motion read at rest (a small fast object over texture) travels; it used to fade out
    in one place and in at the other."""
    from tests.conftest import textured_photo
    from unshutter import timing

    scene = textured_photo(120, 200) * np.float32(0.3)  # a dim scene, a bright square moving 16 px across the gap
    patch = textured_photo(48, 48, seed=3)

    def at(x: int) -> np.ndarray:
        img = scene.copy()
        img[36:84, x : x + 48] = patch
        return img

    sched = timing.schedule(8, 180.0)
    assert sched.inside == 4
    still = np.zeros((120, 200, 2), np.float32)
    weight = np.zeros((120, 200), np.float16)

    def result(img: np.ndarray) -> FrameResult:
        return FrameResult(
            np.repeat(img[None], 8, axis=0), np.zeros((120, 200, 6), np.float16), "test", {}, still, sched, weight
        )

    res, nxt = result(at(40)), result(at(56))
    Node(NodeParams(factor=8, shutter=180.0)).fill_gap(res, nxt)
    t_last, t_first = sched.times[3], 1.0 + sched.times[0]
    for k in range(4, 8):
        w = (sched.times[k] - t_last) / (t_first - t_last)
        moved = at(40 + round(16 * w))
        faded = (1.0 - w) * at(40) + w * at(56)
        box = (slice(36, 84), slice(40, 104))
        err_moved = float(np.abs(res.subframes[k][box] - moved[box]).mean())
        err_faded = float(np.abs(faded[box] - moved[box]).mean())
        assert err_moved < 0.5 * err_faded, (k, err_moved, err_faded)
