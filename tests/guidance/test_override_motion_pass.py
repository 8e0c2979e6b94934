"""Override regions that take their motion from a motion-vector pass, inside their shape, feathered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unshutter.decomposer.contract import MOTION_SCALE, MVALID, MX, MY
from unshutter.errors import OverrideError, ParameterError
from unshutter.guidance import encode
from unshutter.guidance.motion_pass import write_vectors
from unshutter.guidance.overrides import load_overrides

H, W = 40, 60
SQUARE = "[[20, 10], [40, 10], [40, 30], [20, 30]]"


def _field(dx: float, dy: float) -> np.ndarray:
    m = np.zeros((H, W, 2), np.float32)
    m[..., 0] = dx + np.linspace(0, 2, W, dtype=np.float32)[None, :]  # a smooth field, not one vector
    m[..., 1] = dy
    return m


def test_a_region_takes_the_node_pass_inside_its_polygon(tmp_path: Path) -> None:
    ov = tmp_path / "ov.yaml"
    ov.write_text(f"regions:\n  - {{name: car, motion_pass: true, feather: 0, polygon: {SQUARE}}}\n")
    o = load_overrides(ov)
    assert o.uses_node_pass()
    g = encode.guidance_from_vector(H, W, (-3.0, 0.0))  # the flow says 3 px left everywhere
    field = _field(8.0, 2.0)
    g, used = o.apply(g, 1001, shutter=180.0, node_pass=field)
    assert used == ["region:car"]
    got = g[..., MX : MY + 1] * MOTION_SCALE
    np.testing.assert_allclose(got[20, 30], field[20, 30] * 0.5, rtol=1e-5)  # per exposure at 180 degrees
    np.testing.assert_allclose(got[20, 5], [-3.0, 0.0])  # outside: the flow as it was
    assert (g[..., MVALID] == 1).all()


def test_a_region_with_its_own_pass_file_feathered(tmp_path: Path) -> None:
    (tmp_path / "vec").mkdir()
    write_vectors(tmp_path / "vec" / "car.1001.exr", _field(8.0, 0.0), y="down", names=("R", "G"))
    ov = tmp_path / "ov.yaml"
    ov.write_text(
        "regions:\n"
        f"  - {{name: car, motion_pass: {{file: vec/car.####.exr, channels: [R, G], y: down}}, polygon: {SQUARE}}}\n"
    )
    o = load_overrides(ov)
    assert not o.uses_node_pass()
    assert o.files_read(1001) == [tmp_path / "vec" / "car.1001.exr"]
    g = encode.guidance_from_vector(H, W, (-3.0, 0.0))
    g, _ = o.apply(g, 1001)
    mx = g[..., MX] * MOTION_SCALE
    assert 8.5 < mx[20, 30] <= 8.0 + 2 * 30 / (W - 1) + 0.01  # inside: the pass (the feather reaches in a little)
    assert mx[20, 2] == pytest.approx(-3.0)
    assert -3.0 < mx[20, 20] < 8.0  # on the outline: halfway between flow and pass (default 8 px feather)
    with pytest.raises(Exception, match=r"car\.1002\.exr: motion pass missing at frame 1002"):
        o.apply(encode.empty_guidance(H, W), 1002)


def test_a_regions_pass_in_uv_moves_like_the_pass_in_pixels(tmp_path: Path) -> None:
    """``units: uv`` (0..1 across the pass's frame, x by its width, y by its height) in the region's object: the
    same guidance as the pass in pixels; without it the same numbers are (tiny) pixels."""
    (tmp_path / "vec").mkdir()
    px = _field(8.0, 3.0)
    write_vectors(tmp_path / "vec" / "px.1001.exr", px, y="down", names=("R", "G"))
    write_vectors(tmp_path / "vec" / "uv.1001.exr", px / np.float32([W, H]), y="down", names=("R", "G"))

    def guidance(obj: str) -> np.ndarray:
        ov = tmp_path / "ov.yaml"
        ov.write_text(f"regions:\n  - {{name: car, motion_pass: {obj}, feather: 0, polygon: {SQUARE}}}\n")
        g, _ = load_overrides(ov).apply(encode.guidance_from_vector(H, W, (-3.0, 0.0)), 1001)
        return g[..., MX : MY + 1] * MOTION_SCALE

    want = guidance("{file: vec/px.####.exr, channels: [R, G], y: down}")
    got = guidance("{file: vec/uv.####.exr, channels: [R, G], y: down, units: uv}")
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-4)  # the uv pass's half floats round a little
    assert want[20, 30, 0] > 8.0
    assert abs(guidance("{file: vec/uv.####.exr, channels: [R, G], y: down}")[20, 30, 0]) < 1.0


@pytest.mark.parametrize(
    ("region", "message"),
    [
        (f"{{motion_pass: 3, polygon: {SQUARE}}}", r"regions\[0\]\.motion_pass"),
        (f"{{motion_pass: true, motion: [1, 0], polygon: {SQUARE}}}", r"regions\[0\]"),
        (f"{{motion_pass: {{file: v.####.exr, y: sideways}}, polygon: {SQUARE}}}", r"regions\[0\]\.motion_pass\.y"),
        (f"{{motion_pass: {{file: v.####.exr, units: cm}}, polygon: {SQUARE}}}", r"regions\[0\]\.motion_pass\.units"),
        # a region's pass conventions come with its file: none without a pass to describe
        (
            f"{{motion_pass: {{y: down, units: uv}}, polygon: {SQUARE}}}",
            r"regions\[0\]\.motion_pass: 'file' is a required",
        ),
        (f"{{motion_pass: true, keep_flow_detail: true, polygon: {SQUARE}}}", r"regions\[0\]\.keep_flow_detail"),
    ],
)
def test_bad_pass_regions_name_the_field(tmp_path: Path, region: str, message: str) -> None:
    ov = tmp_path / "ov.yaml"
    ov.write_text(f"regions:\n  - {region}\n")
    with pytest.raises(OverrideError, match=message):
        load_overrides(ov)


def test_motion_pass_true_needs_the_node_pass(tmp_path: Path) -> None:
    from unshutter.decomposer.runtime import Decomposer
    from unshutter.node import Node, NodeParams

    ov = tmp_path / "ov.yaml"
    ov.write_text(f"regions:\n  - {{motion_pass: true, polygon: {SQUARE}}}\n")
    with pytest.raises(
        ParameterError, match=r"ov\.yaml: a region takes its motion from the motion pass.*--motion-pass"
    ):
        Node(NodeParams(overrides=str(ov)), decomposer=Decomposer(None, device="cpu"))
