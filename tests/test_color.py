"""Colour: OCIO transforms to the linear working space and the HDR-safe network encoding."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.limits import HANG
from unshutter import color
from unshutter.errors import ParameterError


def test_network_encoding_round_trip_keeps_hdr() -> None:
    lin = np.array([[[0.0, 0.18, 1.0], [4.0, 16.0, 250.0]]], np.float32)
    s = color.exposure_scale(lin)
    assert s > 1.0
    back = color.from_network(color.to_network(lin, s), s)
    np.testing.assert_allclose(back, lin, rtol=1e-5, atol=1e-6)


def test_exposure_scale_never_below_one() -> None:
    assert color.exposure_scale(np.full((8, 8, 3), 0.2, np.float32)) == 1.0
    assert color.exposure_scale(np.full((8, 8, 3), 3.0, np.float32)) == pytest.approx(3.0)


def test_srgb_transform_matches_formula() -> None:
    cs = color.ColorTransform("srgb")
    enc = np.linspace(0, 1, 30, dtype=np.float32).reshape(1, 10, 3)
    lin = cs.to_linear(enc)
    ref = np.where(enc <= 0.04045, enc / 12.92, ((enc + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(lin, ref, atol=2e-4)
    np.testing.assert_allclose(cs.from_linear(lin), enc, atol=2e-4)


def test_acescg_is_not_identity() -> None:
    cs = color.ColorTransform("ACEScg")
    px = np.array([[[1.0, 0.0, 0.0]]], np.float32)
    out = cs.to_linear(px)
    assert out[0, 0, 0] > 1.2 and out[0, 0, 1] < 0  # AP1 red is outside Rec.709
    np.testing.assert_allclose(cs.from_linear(out), px, atol=1e-5)


def test_unknown_space_and_config() -> None:
    with pytest.raises(ParameterError, match="not in OCIO config"):
        color.ColorTransform("Klingon Log")
    with pytest.raises(ParameterError, match="OCIO config"):
        color.ColorTransform("srgb", "/no/such/config.ocio")


def write_lut_config(folder, gamma: float = 2.2) -> str:
    """A small OCIO config whose "plate" space is a 1D LUT file beside it. Returns the config path."""
    import PyOpenColorIO as ocio

    folder.mkdir(parents=True, exist_ok=True)
    n = 16
    values = "\n".join(f"  {(i / (n - 1)) ** gamma:.6f}" for i in range(n))
    (folder / "plate.spi1d").write_text(f"Version 1\nFrom 0.0 1.0\nLength {n}\nComponents 1\n{{\n{values}\n}}\n")
    cfg = ocio.Config.CreateRaw()
    cfg.setSearchPath(".")
    plate = ocio.ColorSpace(name="plate")
    plate.setTransform(
        ocio.FileTransform(src="plate.spi1d", interpolation=ocio.INTERP_LINEAR), ocio.COLORSPACE_DIR_TO_REFERENCE
    )
    cfg.addColorSpace(ocio.ColorSpace(name=color.WORKING_SPACE))
    cfg.addColorSpace(plate)
    cfg.setRole("scene_linear", color.WORKING_SPACE)
    (folder / "config.ocio").write_text(cfg.serialize())
    return str(folder / "config.ocio")


def test_signature_follows_what_the_transform_computes_not_where_the_config_is(tmp_path) -> None:
    import shutil

    a = write_lut_config(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the same config and LUT at another path
    edited = write_lut_config(tmp_path / "c", gamma=2.4)  # the same names, another LUT
    sig = color.ColorTransform("plate", a).signature
    assert color.ColorTransform("plate", str(tmp_path / "b" / "config.ocio")).signature == sig
    assert color.ColorTransform("plate", edited).signature != sig
    assert color.ColorTransform("srgb").signature != color.ColorTransform("ACEScg").signature


def test_fixed_curves_invert_and_bt709_is_not_the_ocio_rec709_gamma():
    """color.decode/encode (the OFX worker's curves) round-trip; "bt709" is the camera curve,
    which the CLI's --colorspace rec709 (OCIO's gamma 2.4 display encoding) is not."""
    x = np.linspace(0.0, 1.0, 300, dtype=np.float32).reshape(100, 1, 3)
    for curve in color.CURVES:
        np.testing.assert_allclose(color.encode(color.decode(x, curve), curve), x, atol=2e-6)
    bt709 = color.decode(x, color.BT709)
    gamma = color.ColorTransform("rec709").to_linear(x.reshape(10, 10, 3)).reshape(x.shape)
    np.testing.assert_allclose(gamma, x.astype(np.float64) ** 2.4, atol=1e-4)
    assert np.abs(bt709 - gamma).max() > 0.05


@pytest.mark.parametrize("gain", [1.0, 6.5])
def test_encoding_at_unit_scale_and_exposure_of_large_frames_keep_their_values(gain: float) -> None:
    """Speed shortcuts that must not change a bit: the unit scale's division and product are skipped,
    and a large frame's exposure is the percentile of the per-pixel max over the strided subsample."""
    from unshutter import kernels

    rng = np.random.default_rng(7)
    lin = (rng.random((700, 600, 3), dtype=np.float32) ** 3 * np.float32(gain)).astype(np.float32)
    s = color.exposure_scale(lin)
    step = int(np.ceil(np.sqrt(lin.shape[0] * lin.shape[1] / 262144)))
    assert step == 2 and s == max(
        1.0, float(np.percentile(lin.max(axis=-1)[::step, ::step], color.EXPOSURE_PERCENTILE))
    )
    assert (s == 1.0) == (gain == 1.0)
    enc = color.to_network(lin, s)
    assert enc.tobytes() == kernels.srgb_encode(lin / np.float32(s)).tobytes()
    back = color.from_network(enc, s)
    assert back.tobytes() == (kernels.srgb_decode(enc) * np.float32(s)).tobytes()
    assert back is not enc and enc.tobytes() == color.to_network(lin, s).tobytes()  # the input is not touched


@pytest.mark.parametrize("space", ["sRGB Encoded Rec.709 (sRGB)", "ACEScg"])
def test_transforms_in_row_bands_give_the_whole_frames_values_to_the_bit(space: str) -> None:
    """OCIO is applied APPLY_ROWS rows at a time (its binding copies whatever it is given): the same
    values as one call on the whole frame, a last band shorter than the others included."""
    from unshutter.color import WORKING_SPACE, _processor

    cs = color.ColorTransform(space)
    rng = np.random.default_rng(7)
    x = rng.random((2 * color.APPLY_ROWS + 37, 53, 3), dtype=np.float32) * 3.0 - 0.5  # HDR and negatives
    for fn, src, dst in ((cs.from_linear, WORKING_SPACE, cs.colorspace), (cs.to_linear, cs.colorspace, WORKING_SPACE)):
        whole = x.copy()
        _processor(cs.config, src, dst).applyRGB(whole)
        np.testing.assert_array_equal(fn(x).view(np.uint32), whole.view(np.uint32))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_4k_frame_to_its_file_space_needs_little_more_than_its_output() -> None:
    """Converting a 3840x2160 sub-frame for writing holds its output (95 MB) and a band, not copies of the
    frame inside OCIO's binding (+0.47 GB at the peak of a 4K run's writing, before the bands)."""
    code = """
import numpy as np
from unshutter import color
def hwm():
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith('VmHWM:'))
cs = color.ColorTransform(color.default_colorspace(False))
x = np.random.default_rng(0).random((2160, 3840, 3), dtype=np.float32)
cs.from_linear(x[:8])
before = hwm()
y = cs.from_linear(x)
print(hwm() - before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 150, out.stdout  # MB: the 95 MB output and a little
