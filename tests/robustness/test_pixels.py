"""The pixel path on hostile values: nothing non-finite is ever written, no channel is made up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unshutter.io.image_file import ImageMeta, read_image, write_image
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run
from unshutter.sample import render_clip, write_exr_sequence

from tests.conftest import textured_photo

HALF_MAX = 65504.0


def _bright_clip(folder: Path, peak: float, pixel_type: str) -> str:
    frames = render_clip(textured_photo(), 4, 48, 32, speed=4.0, samples=8)
    frames = frames / frames.max() * peak  # highlights at the very top of the range
    return write_exr_sequence(folder, "hot", frames.astype(np.float32), 1001, pixel_type=pixel_type)


@pytest.mark.parametrize("peak,pixel_type", [(60000.0, "half"), (HALF_MAX, "half"), (1e29, "float")])
def test_highlights_at_the_top_of_the_range_never_become_inf(tmp_path: Path, peak: float, pixel_type: str) -> None:
    src = _bright_clip(tmp_path / "in", peak, pixel_type)
    run(RunConfig(src, str(tmp_path / "out"), NodeParams(factor=4)))
    outs = sorted((tmp_path / "out").glob("hot.*.exr"))
    assert len(outs) == 16
    for p in outs:
        px, meta = read_image(p)
        assert meta.format == pixel_type
        assert np.isfinite(px).all(), f"{p.name}: {np.isinf(px).sum()} Inf, {np.isnan(px).sum()} NaN"


def test_values_near_the_float_limit_are_refused(tmp_path: Path) -> None:
    from unshutter.errors import InputError

    src = _bright_clip(tmp_path / "in", 3.0e38, "float")
    with pytest.raises(InputError, match=r"hot\.1001\.exr: frame 1001 has values beyond"):
        run(RunConfig(src, str(tmp_path / "out"), NodeParams(factor=4)))
    assert not list((tmp_path / "out").glob("hot.*"))


def test_write_image_clamps_to_the_half_range(tmp_path: Path) -> None:
    px = np.array([[[1e6, -1e6, 70000.0]]], np.float32)  # [1, 1, 3]
    write_image(tmp_path / "a.exr", px, ImageMeta(1, 1, ["R", "G", "B"], "half", 16, {}, ""))
    back, _ = read_image(tmp_path / "a.exr")
    np.testing.assert_array_equal(back, [[[HALF_MAX, -HALF_MAX, HALF_MAX]]])


def test_write_image_refuses_nan(tmp_path: Path) -> None:
    from unshutter.errors import UnshutterError

    px = np.full((2, 2, 3), np.nan, np.float32)
    with pytest.raises(UnshutterError, match="a.exr"):
        write_image(tmp_path / "a.exr", px, ImageMeta(2, 2, ["R", "G", "B"], "float", 32, {}, ""))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("names", [["R", "G"], ["Y", "A"]])
def test_two_channel_clips_keep_both_channels(tmp_path: Path, names: list[str]) -> None:
    rgb = render_clip(textured_photo(), 3, 48, 32, speed=4.0, samples=8)
    second = (
        rgb[..., 1:2]
        if names[1] == "G"
        else np.broadcast_to(np.linspace(0.2, 0.9, 48, dtype=np.float32)[None, None, :, None], (3, 32, 48, 1))
    )  # G, or an alpha ramp
    frames = np.concatenate([rgb[..., :1], second], -1)  # [3, 32, 48, 2]
    folder = tmp_path / "in"
    folder.mkdir()
    meta = ImageMeta(48, 32, names, "float", 32, {}, "")
    for i, f in enumerate(frames):
        write_image(folder / f"two.{1001 + i}.exr", f, meta)
    run(RunConfig(str(folder / "two.####.exr"), str(tmp_path / "out"), NodeParams(factor=2)))
    outs = [read_image(tmp_path / "out" / f"two.{1003 + k:04d}.exr")[0] for k in range(2)]  # source frame 1002
    for o in outs:
        assert o.shape == (32, 48, 2) and np.isfinite(o).all()
    if names[1] == "A":
        for o in outs:  # alpha is carried, not made up
            np.testing.assert_allclose(o[..., 1], frames[1, ..., 0 + 1], atol=1e-6)
    # both channels keep the reblur contract: the two sub-frames average back to the source
    np.testing.assert_allclose((outs[0] + outs[1]) / 2, frames[1], atol=2e-3)
