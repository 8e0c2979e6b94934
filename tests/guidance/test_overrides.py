"""Per-shot override files: validation messages, reverse, directions, regions, mattes, labelme."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unshutter.decomposer.contract import GVALID, GX, GY, MX, MVALID
from unshutter.errors import OverrideError
from unshutter.guidance import encode
from unshutter.guidance.overrides import load_overrides
from unshutter.io.image_file import ImageMeta, write_image


def _flow_guidance(h: int = 40, w: int = 60) -> np.ndarray:
    motion = np.zeros((h, w, 2), np.float32)
    motion[..., 0] = 4.0  # everything moves right
    motion[..., 1] = 1.0
    return encode.guidance_from_motion(motion)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text,msg",
    [
        ("direction: sideways\n", r"direction: 'sideways' is not valid"),
        ("regions:\n  - direction: left\n", r"regions\[0\]"),
        ("regions:\n  - direction: left\n    polygon: [[0, 0], [1, 1]]\n", r"regions\[0\]"),
        ("reverse: {frames: 'abc'}\n", r"reverse"),
        ("bogus: 1\n", r"bogus"),
        ("regions: [\n", r"not valid YAML"),
    ],
)
def test_validation_names_field(tmp_path: Path, text: str, msg: str) -> None:
    p = _write(tmp_path, "ov.yaml", text)
    with pytest.raises(OverrideError, match=msg) as exc:
        load_overrides(p)
    assert str(p) in str(exc.value) and "\n" not in str(exc.value)


def test_reverse_with_frame_range(tmp_path: Path) -> None:
    ov = load_overrides(_write(tmp_path, "ov.yaml", "reverse: {frames: 1001-1002}\n"))
    g = _flow_guidance()
    out, used = ov.apply(g.copy(), 1002)
    assert used == ["reverse"] and (out[..., GX] == -1).all() and (out[..., MX] < 0).all()
    out, used = ov.apply(g.copy(), 1003)
    assert used == [] and (out[..., GX] == 1).all()


def test_global_direction_keeps_magnitude(tmp_path: Path) -> None:
    ov = load_overrides(_write(tmp_path, "ov.json", json.dumps({"direction": "left"})))
    out, _ = ov.apply(_flow_guidance(), 5)
    assert (out[..., GX] == -1).all() and (out[..., GY] == 1).all()
    np.testing.assert_allclose(out[..., MX], -4.0 / 32.0)


def test_polygon_region_wins(tmp_path: Path) -> None:
    text = "regions:\n  - name: car\n    direction: static\n    polygon: [[10, 10], [30, 10], [30, 30], [10, 30]]\n    frames: 3-4\n"
    ov = load_overrides(_write(tmp_path, "ov.yaml", text))
    out, used = ov.apply(_flow_guidance(), 3)
    assert used == ["region:car"]
    assert out[20, 20, GX] == 0 and out[20, 20, GY] == 0 and out[20, 20, MVALID] == 1
    assert out[5, 50, GX] == 1
    out, used = ov.apply(_flow_guidance(), 9)
    assert used == [] and out[20, 20, GX] == 1


def test_matte_sequence_region(tmp_path: Path) -> None:
    meta = ImageMeta(60, 40, ["R", "G", "B", "A"], "uint8", 8, {}, "")
    for f in (1, 2):
        m = np.zeros((40, 60, 4), np.float32)
        m[:, :30, 3] = 1.0
        write_image(tmp_path / f"matte.{f:04d}.png", m, meta)
    ov = load_overrides(_write(tmp_path, "ov.yaml", "regions:\n  - direction: up\n    matte: matte.####.png\n"))
    g = encode.empty_guidance(40, 60)
    out, _ = ov.apply(g, 2)
    assert out[10, 5, GX] == -1 and out[10, 5, GY] == -1 and out[10, 5, GVALID] == 1
    assert out[10, 50, GVALID] == 0
    with pytest.raises(OverrideError, match="matte.*frame 7"):
        ov.apply(encode.empty_guidance(40, 60), 7)


def test_matte_pattern_is_parsed_once_for_all_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Signatures and masks ask for a region's matte on every frame; the spec is parsed once, not per frame."""
    from unshutter.io import sequence

    calls: list[str] = []
    real = sequence.parse_pattern
    monkeypatch.setattr(sequence, "parse_pattern", lambda spec: calls.append(spec) or real(spec))
    ov = load_overrides(
        _write(
            tmp_path,
            "ov.yaml",
            "regions:\n  - direction: up\n    matte: once.%03d.png\n  - direction: left\n    matte: still.png\n",
        )
    )
    seq, single = ov.regions
    assert [seq.matte_path(f) for f in (1, 2, 40)] == [tmp_path / f"once.{f:03d}.png" for f in (1, 2, 40)]
    assert [single.matte_path(f) for f in (1, 9)] == [tmp_path / "still.png"] * 2
    assert [Path(c).name for c in calls] == ["once.%03d.png"]


def test_labelme_file(tmp_path: Path) -> None:
    data = {
        "version": "5.2.1",
        "imageWidth": 60,
        "imageHeight": 40,
        "shapes": [
            {"label": "2", "points": [[0, 0], [20, 0], [20, 20], [0, 20]], "shape_type": "polygon"},
            {"label": "down", "points": [[40, 20], [59, 39]], "shape_type": "rectangle"},
        ],
    }
    ov = load_overrides(_write(tmp_path, "lm.json", json.dumps(data)))
    out, _ = ov.apply(encode.empty_guidance(40, 60), 0)
    assert tuple(out[10, 10, GX : GY + 1]) == (-1, -1)
    assert tuple(out[30, 50, GX : GY + 1]) == (1, 1)
    bad = dict(data, shapes=[dict(data["shapes"][0], label="sideways")])
    with pytest.raises(OverrideError, match=r"shapes\[0\]\.label"):
        load_overrides(_write(tmp_path, "bad.json", json.dumps(bad)))


def test_override_in_job(hdr_clip: str, tmp_path: Path) -> None:
    from unshutter.node import NodeParams
    from unshutter.pipeline import RunConfig, run

    ov = _write(tmp_path, "ov.yaml", "reverse: true\n")
    res = run(
        RunConfig(
            hdr_clip, str(tmp_path / "o"), NodeParams(factor=2, overrides=str(ov)), guidance_debug=str(tmp_path / "dbg")
        )
    )
    man = json.loads(res.manifest.read_text())
    assert all("overrides(reverse)" in v for v in man["guidance"].values())
    assert len(list((tmp_path / "dbg").glob("guidance.*.png"))) == 6


def test_polygons_follow_the_render_scale_per_axis(tmp_path: Path) -> None:
    """Polygons are full-resolution pixels: on a frame rendered at scale (sx, sy) they land at (x*sx, y*sy)."""
    text = "regions:\n  - name: car\n    direction: static\n    polygon: [[20, 16], [60, 16], [60, 48], [20, 48]]\n"
    ov = load_overrides(_write(tmp_path, "ov.yaml", text))
    full, _ = ov.apply(encode.empty_guidance(64, 80), 1)
    ys, xs = np.nonzero(full[..., GVALID])
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (20, 60, 16, 48)
    half, used = ov.apply(encode.empty_guidance(32, 40), 1, scale=(0.5, 0.5))
    ys, xs = np.nonzero(half[..., GVALID])
    assert used == ["region:car"] and (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 30, 8, 24)
    aniso, _ = ov.apply(encode.empty_guidance(16, 40), 1, scale=(0.5, 0.25))
    ys, xs = np.nonzero(aniso[..., GVALID])
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 30, 4, 12)
    # a copy that carries its scale (what the OFX worker hands the node) applies it by default
    scaled = ov.at_scale(0.5, 0.5)
    again, _ = scaled.apply(encode.empty_guidance(32, 40), 1)
    np.testing.assert_array_equal(again, half)
    assert ov.scale == (1.0, 1.0)  # the original is untouched
    with pytest.raises(ValueError, match="render scale"):
        ov.apply(encode.empty_guidance(32, 40), 1, scale=(0.0, 0.5))


def test_matte_is_resized_at_a_render_scale(tmp_path: Path) -> None:
    meta = ImageMeta(60, 40, ["R", "G", "B", "A"], "uint8", 8, {}, "")
    m = np.zeros((40, 60, 4), np.float32)
    m[:, :30, 3] = 1.0  # the left half at full resolution
    write_image(tmp_path / "matte.0001.png", m, meta)
    ov = load_overrides(_write(tmp_path, "ov.yaml", "regions:\n  - direction: up\n    matte: matte.####.png\n"))
    out, _ = ov.apply(encode.empty_guidance(20, 30), 1, scale=(0.5, 0.5))
    assert out[..., :15, GVALID].all() and not out[..., 15:, GVALID].any()
    odd, _ = ov.apply(encode.empty_guidance(14, 20), 1, scale=(1 / 3, 1 / 3))  # ceil(40/3) x ceil(60/3)
    assert odd[..., :10, GVALID].all() and not odd[..., 10:, GVALID].any()
    with pytest.raises(OverrideError, match=r"matte is 60x40, frame is 30x20$"):  # full scale: sizes must match
        ov.apply(encode.empty_guidance(20, 30), 1)
    with pytest.raises(OverrideError, match=r"frame is 20x20 at render scale 0.5x0.5"):
        ov.apply(encode.empty_guidance(20, 20), 1, scale=(0.5, 0.5))
