"""Output timing: even steps over the frame interval at any shutter angle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unshutter.bench.motion import run_motion
from unshutter.color import to_network
from unshutter.errors import ParameterError
from unshutter.io.image_file import read_image
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run
from unshutter.sample import render_clip, write_exr_sequence
from unshutter.timing import schedule

from .conftest import textured_photo


def test_even_timing_splits_the_frame_interval_at_any_shutter() -> None:
    s = schedule(8, 180.0)
    assert s.times == pytest.approx([(j + 0.5) / 8 for j in range(8)])
    assert s.inside == 4 and s.gap == 4
    assert s.fractions() == pytest.approx([(j + 0.5) / 4 for j in range(4)])
    s7 = schedule(7, 180.0)
    assert s7.inside == 3  # 0.5/7, 1.5/7, 2.5/7 < 0.5 <= 3.5/7
    assert schedule(4, 360.0).inside == 4 and schedule(4, 360.0).times == schedule(4, 360.0, "exposure").times


def test_exposure_timing_keeps_every_output_inside_the_exposure() -> None:
    s = schedule(4, 180.0, "exposure")
    assert s.inside == 4 and s.times == pytest.approx([0.0625, 0.1875, 0.3125, 0.4375])
    assert schedule(1, 180.0).times == (0.25,)  # factor 1: the middle of the exposure
    with pytest.raises(ParameterError, match="--timing"):
        schedule(4, 180.0, "smooth")


def _outputs(folder: Path, n: int) -> np.ndarray:
    files = sorted(folder.glob("shot.*.exr"))
    assert len(files) == n
    return np.stack([to_network(read_image(p)[0][..., :3], 1.0) for p in files])


@pytest.mark.slow
def test_180_degree_footage_plays_without_a_jump_at_frame_boundaries(tmp_path: Path) -> None:
    """A pan shot at 180 degrees: even timing steps evenly; the exposure timing jumps across the gap."""
    frames = render_clip(textured_photo(), 6, 128, 96, speed=8.0, curve=0.0, samples=16, shutter=180.0)
    clip = write_exr_sequence(tmp_path / "in", "shot", frames, 1001, pixel_type="float")
    res = {}
    for mode in ("even", "exposure"):
        out = tmp_path / mode
        run(RunConfig(clip, str(out / "shot.####.exr"), NodeParams(factor=4, shutter=180.0, timing=mode)))
        res[mode] = run_motion(_outputs(out, 24)[4:-4], 4)  # interior source frames
    even, exposure = res["even"], res["exposure"]
    # 8 px per frame interval, 4 outputs per interval: 2 px per step, evenly
    assert 1.2 < even.inside < 3.0 and even.judder < 1.6
    # the old timing: 1 px steps inside the exposure, then the rest of the motion in one jump
    assert exposure.judder > 2.5
    assert even.inside > 1.3 * exposure.inside


@pytest.mark.slow
def test_inside_outputs_keep_the_exact_reblur_and_chunks_agree_with_a_whole_render(tmp_path: Path) -> None:
    frames = render_clip(textured_photo(), 6, 96, 64, speed=6.0, curve=0.3, samples=12, shutter=180.0, gain=2.0)
    clip = write_exr_sequence(tmp_path / "in", "shot", frames, 1001, pixel_type="float")
    params = dict(factor=4, shutter=180.0)
    whole = tmp_path / "whole"
    run(RunConfig(clip, str(whole / "shot.####.exr"), NodeParams(**params)))
    for a, b in ((1001, 1002), (1003, 1006)):
        run(RunConfig(clip, str(tmp_path / "chunks" / "shot.####.exr"), NodeParams(**params), frames=(a, b)))
    for p in sorted(whole.glob("shot.*.exr")):
        assert np.array_equal(read_image(p)[0], read_image(tmp_path / "chunks" / p.name)[0]), p.name
    outs = np.stack([read_image(p)[0][..., :3] for p in sorted(whole.glob("shot.*.exr"))])
    for i, f in enumerate(frames):
        inside = outs[4 * i : 4 * i + 2]  # 180 degrees, factor 4: two outputs in the exposure
        np.testing.assert_allclose(inside.mean(axis=0), f, rtol=1e-5, atol=1e-5)
