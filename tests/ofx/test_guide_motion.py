"""The OpenFX Guide matte with a motion vector: the vector replaces the flow there, scaled with render scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.ofx.conftest import FIRST, H, W, guide_left_half, read_raw

N = 3


def test_guide_matte_motion_vector(host, clip, tmp_path: Path) -> None:
    from unshutter.node import Node, NodeParams

    h = host(UNSHUTTER_KEEP_PYTHONPATH="1")  # the worker runs this tree's code, as the node below does
    matte = guide_left_half(h, tmp_path)
    h.start("general", clip, factor=N, guidance=1, guideDirection=0, guideMotion="-9 2", followMotion=0.0)
    status, facts = h.render(1005, tmp_path / "g.raw")
    assert status == 0, facts
    # follow 0: one frame as the node alone makes it (at 360 degrees outputs otherwise blend with the neighbours')
    node = Node(NodeParams(factor=N, guidance="none", follow=0.0))
    f = FIRST + 1
    res = node.process(f, clip.frames[1], clip.frames[0], clip.frames[2], matte, (-9.0, 2.0))
    assert "+matte(motion -9,2)" in res.guidance_source
    np.testing.assert_allclose(read_raw(tmp_path / "g.raw")[..., :3], res.subframes[1], atol=1e-5)
    # the direction alone (the Guide matte direction Left) is another decomposition
    left = node.process(f, clip.frames[1], clip.frames[0], clip.frames[2], matte, "left").subframes[1]
    assert np.abs(left - res.subframes[1]).max() > 1e-3


def test_guide_matte_motion_follows_render_scale(host, clip, tmp_path: Path) -> None:
    from unshutter.node import Node, NodeParams

    h = host(UNSHUTTER_KEEP_PYTHONPATH="1")  # the worker runs this tree's code, as the node below does
    matte = guide_left_half(h, tmp_path)
    h.start("general", clip, factor=N, guidance=1, guideMotion="12 0", followMotion=0.0)
    status, facts = h.render(1005, tmp_path / "half.raw", scale=0.5)
    assert status == 0, facts
    # follow 0: one frame as the node alone makes it (at 360 degrees outputs otherwise blend with the neighbours')
    node = Node(NodeParams(factor=N, guidance="none", follow=0.0))
    node.render_scale = (0.5, 0.5)
    half = lambda a: np.ascontiguousarray(a[1::2, 1::2])  # noqa: E731  (the harness samples the nearest pixel)
    f = FIRST + 1
    want = node.process(f, half(clip.frames[1]), half(clip.frames[0]), half(clip.frames[2]), half(matte), (12.0, 0.0))
    assert "+matte(motion 12,0)" in want.guidance_source
    got = read_raw(tmp_path / "half.raw", W // 2, H // 2)[..., :3]
    np.testing.assert_allclose(got, want.subframes[1], atol=1e-5)
