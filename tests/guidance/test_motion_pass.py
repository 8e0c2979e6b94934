"""A motion-vector pass read as the artist's motion: channels, y direction, which way vectors point, units,
resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from unshutter.errors import InputError, ParameterError
from unshutter.guidance.motion_pass import MotionPass, write_vectors


def _write(path: Path, planes: dict[str, np.ndarray], window: tuple[int, int, int, int] | None = None) -> Path:
    """An EXR holding ``planes`` (name -> [H, W]) as half floats; ``window``: data window x, y inside a
    display window of the given full width, height."""
    names = list(planes)
    data = np.stack([planes[n] for n in names], axis=-1).astype(np.float32)
    h, w = data.shape[:2]
    spec = oiio.ImageSpec(w, h, len(names), "half")
    spec.channelnames = tuple(names)
    if window is not None:
        spec.x, spec.y, spec.full_width, spec.full_height = window
        spec.full_x = spec.full_y = 0
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    out.write_image(data)
    out.close()
    return path


def _const(h: int, w: int, v: float) -> np.ndarray:
    return np.full((h, w), v, np.float32)


def test_nuke_forward_vectors_are_y_up(tmp_path: Path) -> None:
    # a pixel that moves 3 px right and 2 px up the picture per frame: Nuke stores v = +2 (origin bottom left)
    _write(tmp_path / "v.0007.exr", {"forward.u": _const(8, 12, 3.0), "forward.v": _const(8, 12, 2.0)})
    m = MotionPass(str(tmp_path / "v.####.exr")).motion(7, 8, 12)
    assert m.shape == (8, 12, 2)
    np.testing.assert_array_equal(m[3, 4], [3.0, -2.0])  # x right, y down: up is negative
    m = MotionPass(str(tmp_path / "v.####.exr"), y="down").motion(7, 8, 12)
    np.testing.assert_array_equal(m[3, 4], [3.0, 2.0])


def test_backward_vectors_point_against_the_motion(tmp_path: Path) -> None:
    _write(
        tmp_path / "v.0001.exr",
        {"backward.u": _const(4, 4, -3.0), "backward.v": _const(4, 4, -2.0), "R": _const(4, 4, 9.0)},
    )
    np.testing.assert_array_equal(MotionPass(str(tmp_path / "v.####.exr")).motion(1, 4, 4)[0, 0], [3.0, -2.0])
    # told forward, the same numbers mean the opposite motion
    forced = MotionPass(str(tmp_path / "v.####.exr"), ("backward.u", "backward.v"), points="forward")
    np.testing.assert_array_equal(forced.motion(1, 4, 4)[0, 0], [-3.0, 2.0])


def test_blender_vector_pass_of_a_multilayer_exr(tmp_path: Path) -> None:
    # Cycles writes X, Y = previous minus current position and Z, W = current minus next, y up.
    # A pixel moving 4 px right and 1 px down the picture per frame: in y up (4, -1); Z, W = (-4, 1).
    _write(
        tmp_path / "r.0010.exr",
        {
            "ViewLayer.Combined.R": _const(6, 6, 0.5),
            "ViewLayer.Vector.X": _const(6, 6, -4.0),
            "ViewLayer.Vector.Y": _const(6, 6, 1.0),
            "ViewLayer.Vector.Z": _const(6, 6, -4.0),
            "ViewLayer.Vector.W": _const(6, 6, 1.0),
        },
    )
    np.testing.assert_array_equal(MotionPass(str(tmp_path / "r.####.exr")).motion(10, 6, 6)[2, 2], [4.0, 1.0])
    xy = MotionPass(str(tmp_path / "r.####.exr"), ("Vector.X", "Vector.Y"))
    np.testing.assert_array_equal(xy.motion(10, 6, 6)[2, 2], [4.0, 1.0])


def test_a_pass_at_another_resolution_is_scaled_to_the_plate(tmp_path: Path) -> None:
    m = np.zeros((20, 30, 2), np.float32)
    m[..., 0], m[..., 1] = 3.0, -1.5
    write_vectors(tmp_path / "half.exr", m)  # no frame number: one file for every frame
    up = MotionPass(str(tmp_path / "half.exr")).motion(1001, 40, 60)  # the plate at twice the pass's size
    assert up.shape == (40, 60, 2)
    np.testing.assert_allclose(up[10, 10], [6.0, -3.0], rtol=1e-3)


def _ramp(h: int, w: int) -> np.ndarray:
    """A smooth field in px per frame, x right, y up (as Nuke stores it): a different vector in every column
    and row, every value a multiple of 1/4 (exact in half floats, and after dividing by a power of two).

    Shape: -> [h, w, 2]
    """
    m = np.empty((h, w, 2), np.float32)
    m[..., 0] = (np.arange(w, dtype=np.float32) / 4.0 - 3.0)[None, :]
    m[..., 1] = (np.arange(h, dtype=np.float32) / 4.0 + 1.0)[:, None]
    return m


@pytest.mark.parametrize("plate", [(32, 64), (64, 128), (16, 32)], ids=["same", "twice", "half"])
def test_ndc_and_uv_passes_read_as_the_same_pixels(tmp_path: Path, plate: tuple[int, int]) -> None:
    """A 64x32 pass in NDC (-1..1 across the frame: px = v * side / 2) and in UV (0..1: px = v * side), each axis
    by its own side, reads back as the pass in pixels, at the pass's size and scaled to another plate's."""
    h, w = 32, 64
    px = _ramp(h, w)
    for units, per_unit in (("px", (1.0, 1.0)), ("ndc", (w / 2, h / 2)), ("uv", (w, h))):
        v = px / np.float32(per_unit)  # x by the width, y by the height
        _write(tmp_path / f"{units}.0001.exr", {"forward.u": v[..., 0], "forward.v": v[..., 1]})
    assert oiio.ImageInput.open(str(tmp_path / "ndc.0001.exr")).spec().format == "half"
    want = MotionPass(str(tmp_path / "px.####.exr")).motion(1, *plate)
    assert np.abs(want).max() > 5.0  # pixels, not normalised numbers
    for units in ("ndc", "uv"):
        got = MotionPass(str(tmp_path / f"{units}.####.exr"), units=units).motion(1, *plate)
        np.testing.assert_array_equal(got, want, err_msg=units)
    # the same numbers read as pixels are another, much smaller, motion
    assert np.abs(MotionPass(str(tmp_path / "uv.####.exr")).motion(1, h, w)).max() < 0.5


def test_an_unknown_unit_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"^--motion-pass-units 'cm': choose px, ndc or uv$"):
        MotionPass(str(tmp_path / "v.####.exr"), units="cm")


def test_the_data_window_outside_is_no_motion(tmp_path: Path) -> None:
    _write(tmp_path / "w.0001.exr", {"forward.u": _const(4, 6, 2.0), "forward.v": _const(4, 6, 0.0)}, (3, 2, 16, 10))
    m = MotionPass(str(tmp_path / "w.####.exr")).motion(1, 10, 16)
    assert m[2, 3, 0] == 2.0 and m[5, 8, 0] == 2.0
    assert m[0, 0, 0] == 0.0 and m[6, 3, 0] == 0.0 and m[2, 9, 0] == 0.0


def test_errors_name_file_frame_and_channel(tmp_path: Path) -> None:
    _write(tmp_path / "v.0001.exr", {"R": _const(4, 6, 1.0), "G": _const(4, 6, 1.0)})
    mp = MotionPass(str(tmp_path / "v.####.exr"))
    with pytest.raises(InputError, match=r"v\.0002\.exr: motion pass missing at frame 2"):
        mp.motion(2, 4, 6)
    with pytest.raises(
        InputError, match=r"v\.0001\.exr: motion pass has no channels forward\.u,forward\.v.*it has R, G"
    ):
        mp.motion(1, 4, 6)
    with pytest.raises(InputError, match=r"no channels motion\.u,motion\.v \(frame 1"):
        MotionPass(str(tmp_path / "v.####.exr"), ("motion.u", "motion.v")).motion(1, 4, 6)
    rg = MotionPass(str(tmp_path / "v.####.exr"), ("R", "G"))
    np.testing.assert_array_equal(rg.motion(1, 4, 6)[0, 0], [1.0, -1.0])
    with pytest.raises(InputError, match=r"motion pass is 6x4, the plate 6x5 \(frame 1\)"):
        rg.motion(1, 5, 6)
    _write(tmp_path / "n.0001.exr", {"forward.u": np.array([[np.nan, 0.0]], np.float32), "forward.v": _const(1, 2, 0)})
    with pytest.raises(InputError, match=r"n\.0001\.exr: motion pass has 1 pixels that are not finite"):
        MotionPass(str(tmp_path / "n.####.exr")).motion(1, 1, 2)


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"motion_pass": "v.####.exr", "motion_pass_y": "sideways"}, "--motion-pass-y"),
        ({"motion_pass": "v.####.exr", "motion_pass_points": "both"}, "--motion-pass-points"),
        ({"motion_pass": "v.####.exr", "motion_pass_units": "mm"}, "--motion-pass-units 'mm'"),
        ({"motion_pass": "v.####.exr", "motion_pass_channels": "u"}, "--motion-pass-channels"),
        ({"motion_pass_channels": "u,v"}, "--motion-pass-channels"),
        ({"motion_pass": "v.####.exr", "motion": (1.0, 0.0)}, "--motion-pass v.####.exr: give one motion"),
    ],
)
def test_node_params_refuse_bad_pass_settings(kwargs: dict, flag: str) -> None:
    from unshutter.node import NodeParams

    with pytest.raises(ParameterError, match=flag):
        NodeParams(**kwargs).validate()
