"""Each supported file format goes through the job keeping its type, depth, channels and header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from unshutter.io.image_file import ImageMeta, read_image, write_image
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run
from unshutter.sample import render_clip

from tests.conftest import textured_photo


def _frames(gain: float = 1.0) -> np.ndarray:
    return render_clip(textured_photo(), 4, 64, 48, speed=4.0, samples=8, gain=gain)


def _write_seq(folder: Path, ext: str, meta: ImageMeta, frames: np.ndarray) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        write_image(folder / f"clip.{1001 + i:04d}{ext}", f, meta)
    return str(folder / f"clip.####{ext}")


@pytest.mark.parametrize(
    "ext,fmt,bits,channels",
    [
        (".exr", "half", 16, ["R", "G", "B", "A", "Z"]),
        (".exr", "float", 32, ["R", "G", "B"]),
        (".dpx", "uint16", 10, ["R", "G", "B"]),
        (".tif", "uint8", 8, ["R", "G", "B"]),
        (".tif", "uint16", 16, ["R", "G", "B", "A"]),
        (".tif", "float", 32, ["R", "G", "B"]),
        (".png", "uint8", 8, ["R", "G", "B"]),
        (".png", "uint16", 16, ["R", "G", "B", "A"]),
        (".jpg", "uint8", 8, ["R", "G", "B"]),
    ],
)
def test_format_round_trip(tmp_path: Path, ext: str, fmt: str, bits: int, channels: list[str]) -> None:
    rgb = _frames()
    extra = len(channels) - 3
    frames = np.concatenate([rgb, np.full(rgb.shape[:3] + (extra,), 0.75, np.float32)], -1) if extra else rgb
    attrs = {"Artist": ("string", "unshutter-test")} if ext in (".exr", ".tif") else {}
    if ext != ".exr" and fmt != "float":
        frames[..., :3] = np.clip(frames[..., :3], 0, 1) ** (1 / 2.2)  # display-encoded integer file
    meta = ImageMeta(64, 48, channels, fmt, bits, attrs, "")
    src = _write_seq(tmp_path / "in", ext, meta, frames)
    run(RunConfig(src, str(tmp_path / "out"), NodeParams(factor=2)))
    outs = sorted((tmp_path / "out").glob(f"clip.*{ext}"))
    assert len(outs) == 8
    inp = oiio.ImageInput.open(str(outs[3]))
    spec = inp.spec()
    inp.close()
    assert list(spec.channelnames) == channels
    assert str(spec.format) == fmt
    if ext == ".dpx":
        assert spec.get_int_attribute("oiio:BitsPerSample") == 10
    if attrs:
        assert spec.get_string_attribute("Artist") == "unshutter-test"
    pix, _ = read_image(outs[3])
    if extra:
        # alpha and extra channels of the source frame are carried to every sub-frame
        np.testing.assert_allclose(pix[..., 3:], 0.75, atol=1e-3)
    # the two sub-frames average back to the source (display encoding and quantisation aside)
    src_pix, _ = read_image(Path(src.replace("####", "1002")))
    a, _ = read_image(outs[2])
    tol = 0.06 if ext == ".jpg" else 0.02
    assert np.abs((a[..., :3] + pix[..., :3]) / 2 - src_pix[..., :3]).mean() < tol


def test_format_override_png_to_exr(tmp_path: Path) -> None:
    meta = ImageMeta(64, 48, ["R", "G", "B"], "uint16", 16, {}, "")
    src = _write_seq(tmp_path / "in", ".png", meta, np.clip(_frames(), 0, 1))
    run(RunConfig(src, str(tmp_path / "out"), NodeParams(factor=2), format="exr"))
    outs = sorted((tmp_path / "out").glob("clip.*.exr"))
    assert len(outs) == 8
    spec = oiio.ImageInput.open(str(outs[0])).spec()
    assert str(spec.format) == "half"


def test_single_channel_sequence(tmp_path: Path) -> None:
    meta = ImageMeta(64, 48, ["Y"], "float", 32, {}, "")
    src = _write_seq(tmp_path / "in", ".exr", meta, _frames()[..., :1].copy())
    run(RunConfig(src, str(tmp_path / "out"), NodeParams(factor=2)))
    pix, m = read_image(next((tmp_path / "out").glob("*.exr")))
    assert m.channel_names == ["Y"] and pix.shape == (48, 64, 1)
