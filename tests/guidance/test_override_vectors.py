"""Motion vectors in override files: length, keyframes, feathered edges, render scale, validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unshutter.decomposer.contract import GVALID, GX, GY, MOTION_SCALE, MVALID, MX, MY
from unshutter.errors import OverrideError
from unshutter.guidance import encode
from unshutter.guidance.overrides import load_overrides

BOX = "[[20, 10], [60, 10], [60, 50], [20, 50]]"


def _flow(h: int = 60, w: int = 80, dx: float = -3.0, dy: float = 0.0) -> np.ndarray:
    motion = np.zeros((h, w, 2), np.float32)
    motion[..., 0], motion[..., 1] = dx, dy
    return encode.guidance_from_motion(motion)


def _load(tmp_path: Path, text: str, name: str = "ov.yaml"):  # noqa: ANN202
    p = tmp_path / name
    p.write_text(text)
    return load_overrides(p)


def test_region_vector_replaces_the_flow_with_a_soft_edge(tmp_path: Path) -> None:
    ov = _load(tmp_path, f"regions:\n  - name: car\n    motion: [40, 0]\n    feather: 6\n    polygon: {BOX}\n")
    out, used = ov.apply(_flow(), 1)
    assert used == ["region:car"]
    inside = out[30, 40]
    assert inside[MX] == pytest.approx(40 / MOTION_SCALE) and inside[MY] == pytest.approx(0.0)
    assert (inside[GX], inside[GY], inside[GVALID], inside[MVALID]) == (1, -1, 1, 1)  # right folds to (+1, -1)
    far = out[2, 2]
    assert far[MX] == pytest.approx(-3 / MOTION_SCALE) and (far[GX], far[GY]) == (-1, 1)
    # across the left edge (x = 20) the motion goes smoothly from the flow's to the vector's
    row = out[30, 8:33, MX] * MOTION_SCALE
    assert (
        np.all(np.diff(row) >= -1e-4)
        and row[0] == pytest.approx(-3, abs=0.05)
        and row[-1] == pytest.approx(40, abs=0.05)
    )
    assert -3 + 0.2 < out[30, 20, MX] * MOTION_SCALE < 40 - 0.2


def test_zero_feather_is_a_hard_edge(tmp_path: Path) -> None:
    ov = _load(tmp_path, f"regions:\n  - motion: [0, -12]\n    feather: 0\n    polygon: {BOX}\n")
    out, _ = ov.apply(_flow(), 1)
    assert set(np.round(out[..., MY] * MOTION_SCALE, 4).ravel()) == {0.0, -12.0}
    assert out[30, 19, MX] * MOTION_SCALE == pytest.approx(-3) and out[30, 20, MY] * MOTION_SCALE == pytest.approx(-12)


def test_direction_and_length_is_the_same_vector(tmp_path: Path) -> None:
    a = _load(tmp_path, f"regions:\n  - motion: [0, 25]\n    polygon: {BOX}\n", "a.yaml")
    b = _load(tmp_path, f"regions:\n  - direction: down\n    length: 25\n    polygon: {BOX}\n", "b.yaml")
    np.testing.assert_array_equal(a.apply(_flow(), 3)[0], b.apply(_flow(), 3)[0])
    c = _load(tmp_path, f"regions:\n  - direction: up-left\n    length: 10\n    polygon: {BOX}\n", "c.yaml")
    out, _ = c.apply(_flow(), 3)
    np.testing.assert_allclose(out[30, 40, MX : MY + 1] * MOTION_SCALE, [-10 / 2**0.5] * 2, rtol=1e-5)


def test_keyframes_interpolate_linearly_and_hold_outside(tmp_path: Path) -> None:
    ov = _load(
        tmp_path,
        f"regions:\n  - motion: {{1001: [10, 0], 1011: [30, -10]}}\n    frames: 1000-1020\n    polygon: {BOX}\n",
    )
    want = {1000: (10, 0), 1001: (10, 0), 1006: (20, -5), 1011: (30, -10), 1015: (30, -10)}
    for frame, vec in want.items():
        out, _ = ov.apply(_flow(), frame)
        np.testing.assert_allclose(out[30, 40, MX : MY + 1] * MOTION_SCALE, vec, atol=1e-4)
    out, used = ov.apply(_flow(), 1021)  # outside the region's frame range: the flow
    assert used == [] and out[30, 40, MX] * MOTION_SCALE == pytest.approx(-3)
    keyed_length = _load(
        tmp_path,
        json.dumps({"regions": [{"direction": "right", "length": {"1": 8, "5": 16}, "polygon": json.loads(BOX)}]}),
        "k.json",
    )
    out, _ = keyed_length.apply(_flow(), 2)
    assert out[30, 40, MX] * MOTION_SCALE == pytest.approx(10)


def test_vector_follows_the_render_scale(tmp_path: Path) -> None:
    ov = _load(tmp_path, f"regions:\n  - motion: [40, 20]\n    polygon: {BOX}\n")
    out, _ = ov.apply(_flow(30, 40), 1, scale=(0.5, 0.5))
    np.testing.assert_allclose(out[15, 20, MX : MY + 1] * MOTION_SCALE, (20, 10), rtol=1e-5)


def test_vector_over_no_guidance_takes_the_inside_only(tmp_path: Path) -> None:
    ov = _load(tmp_path, f"regions:\n  - motion: [-16, 0]\n    polygon: {BOX}\n")
    out, _ = ov.apply(encode.empty_guidance(60, 80), 1)
    assert out[30, 40, MVALID] == 1 and out[30, 40, MX] * MOTION_SCALE == pytest.approx(-16)
    assert out[2, 2, GVALID] == 0 and out[2, 2, MVALID] == 0
    assert out[30, 21, MVALID] == 1 and out[30, 18, MVALID] == 0  # the drawn outline decides


def test_vector_over_a_direction_only_map(tmp_path: Path) -> None:
    ov = _load(tmp_path, f"regions:\n  - motion: [0, 9]\n    polygon: {BOX}\n")
    out, _ = ov.apply(encode.guidance_from_direction(60, 80, "left"), 1)
    assert out[30, 40, MY] * MOTION_SCALE == pytest.approx(9) and tuple(out[30, 40, GX : GY + 1]) == (1, 1)
    assert tuple(out[2, 2, GX : GY + 1]) == (-1, 1) and out[2, 2, MVALID] == 0


def test_short_vector_is_static_below_the_threshold(tmp_path: Path) -> None:
    ov = _load(tmp_path, f"regions:\n  - motion: [0.3, 0]\n    feather: 0\n    polygon: {BOX}\n")
    out, _ = ov.apply(_flow(), 1)
    assert tuple(out[30, 40, GX : GY + 1]) == (0, 0) and out[30, 40, MVALID] == 1
    out, _ = ov.apply(_flow(), 1, threshold=0.1)
    assert tuple(out[30, 40, GX : GY + 1]) == (1, -1)


def test_whole_frame_motion_with_frames(tmp_path: Path) -> None:
    ov = _load(tmp_path, "motion: {value: [12, 5], frames: 3-4}\nreverse: true\n")
    out, used = ov.apply(_flow(), 3)
    assert used == ["reverse", "motion"]  # the vector states the true motion: reverse does not flip it
    np.testing.assert_allclose(out[..., MX : MY + 1] * MOTION_SCALE, np.broadcast_to([12, 5], (60, 80, 2)), atol=1e-4)
    out, used = ov.apply(_flow(), 5)
    assert used == ["reverse"] and out[0, 0, MX] * MOTION_SCALE == pytest.approx(3)
    keyed = _load(tmp_path, "motion: {1: [0, 0], 3: [8, 0]}\n", "k.yaml")
    assert keyed.apply(_flow(), 2)[0][7, 7, MX] * MOTION_SCALE == pytest.approx(4)


def test_matte_region_with_a_vector(tmp_path: Path) -> None:
    from unshutter.io.image_file import ImageMeta, write_image

    m = np.zeros((60, 80, 4), np.float32)
    m[:, 40:, 3] = 1.0
    write_image(tmp_path / "car.png", m, ImageMeta(80, 60, ["R", "G", "B", "A"], "uint8", 8, {}, ""))
    ov = _load(tmp_path, "regions:\n  - motion: [30, 0]\n    matte: car.png\n")
    out, _ = ov.apply(_flow(), 1)
    assert out[30, 70, MX] * MOTION_SCALE == pytest.approx(30) and out[30, 5, MX] * MOTION_SCALE == pytest.approx(-3)


@pytest.mark.parametrize(
    "label,vec",
    [
        ("40,0", (40, 0)),
        ("motion: -8 6", (-8, 6)),
        ("right 40", (40, 0)),
        ("down-right 10", (10 / 2**0.5, 10 / 2**0.5)),
    ],
)
def test_labelme_label_with_a_vector(tmp_path: Path, label: str, vec: tuple[float, float]) -> None:
    doc = {"shapes": [{"label": label, "points": json.loads(BOX), "shape_type": "polygon"}]}
    ov = _load(tmp_path, json.dumps(doc), "lm.json")
    out, _ = ov.apply(_flow(), 1)
    np.testing.assert_allclose(out[30, 40, MX : MY + 1] * MOTION_SCALE, vec, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "text,field",
    [
        (f"regions:\n  - motion: [40]\n    polygon: {BOX}\n", "regions[0].motion"),
        (f"regions:\n  - motion: fast\n    polygon: {BOX}\n", "regions[0].motion"),
        (f"regions:\n  - motion: [40, 1e9]\n    polygon: {BOX}\n", "regions[0].motion[1]"),
        (f"regions:\n  - motion: [.nan, 0]\n    polygon: {BOX}\n", "regions[0].motion[0]"),
        (f"regions:\n  - motion: {{abc: [1, 2]}}\n    polygon: {BOX}\n", "regions[0].motion"),
        (f"regions:\n  - motion: [1, 2]\n    direction: left\n    polygon: {BOX}\n", "regions[0]"),
        (f"regions:\n  - length: 5\n    polygon: {BOX}\n", "regions[0]"),
        (f"regions:\n  - direction: static\n    length: 5\n    polygon: {BOX}\n", "regions[0].length"),
        (f"regions:\n  - direction: left\n    length: -5\n    polygon: {BOX}\n", "regions[0].length"),
        (f"regions:\n  - motion: [1, 2]\n    feather: -1\n    polygon: {BOX}\n", "regions[0].feather"),
        ("motion: {value: [1, 2], frames: x}\n", "motion"),
    ],
)
def test_vector_validation_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    p = tmp_path / "ov.yaml"
    p.write_text(text)
    with pytest.raises(OverrideError) as exc:
        load_overrides(p)
    msg = str(exc.value)
    assert f"{p}: {field}" in msg and "\n" not in msg, msg


def test_bad_region_among_many_is_named_by_its_place(tmp_path: Path) -> None:
    regions = [{"direction": "left", "polygon": json.loads(BOX), "name": f"r{i}"} for i in range(300)]
    regions[217] = {"direction": "sideways", "polygon": json.loads(BOX)}
    p = tmp_path / "ov.json"
    p.write_text(json.dumps({"regions": regions}))
    with pytest.raises(OverrideError, match=r"regions\[217\]\.direction"):
        load_overrides(p)


def test_ranges_outside_the_clip_are_listed(tmp_path: Path) -> None:
    ov = _load(
        tmp_path,
        "reverse: {frames: 2001-2010}\ndirection: {value: left, frames: 990-1000}\n"
        "motion: {value: [5, 0], frames: 1001-1006}\nregions:\n"
        f"  - {{name: car, motion: [40, 0], frames: 1003-1004, polygon: {BOX}}}\n"
        f"  - {{name: late, motion: [40, 0], frames: 1006-1400, polygon: {BOX}}}\n"
        f"  - {{name: always, direction: up, polygon: {BOX}}}\n",
    )
    assert ov.outside(1001, 1006) == [("reverse", (2001, 2010)), ("direction", (990, 1000))]
    assert ov.outside(1, 50) == [
        ("reverse", (2001, 2010)),
        ("direction", (990, 1000)),
        ("motion", (1001, 1006)),
        ("region car", (1003, 1004)),
        ("region late", (1006, 1400)),
    ]
    assert _load(tmp_path, "reverse: true\n", "b.yaml").outside(1, 2) == []


def test_a_later_still_region_holds_out_what_stands_in_front(tmp_path: Path) -> None:
    """A railing in front of the car: a later region with motion [0, 0] keeps it still inside the car's region."""
    rail = "[[38, 0], [42, 0], [42, 59], [38, 59]]"
    ov = _load(
        tmp_path,
        f"regions:\n  - {{name: car, motion: [40, 0], polygon: {BOX}}}\n"
        f"  - {{name: railing, motion: [0, 0], feather: 0, polygon: {rail}}}\n",
    )
    out, used = ov.apply(_flow(), 1)
    assert used == ["region:car", "region:railing"]
    assert np.all(out[5:55, 38:42, MX] == 0) and np.all(out[5:55, 38:42, MY] == 0)
    assert out[30, 40, GVALID] == 1 and (out[30, 40, GX], out[30, 40, GY]) == (0, 0)  # static, not unknown
    assert out[30, 30, MX] * MOTION_SCALE == pytest.approx(40, abs=0.5)  # the car around it keeps its vector


def test_neighbour_match_trusts_the_motion_the_neighbours_show() -> None:
    """A texture moving 6 px right per frame: the neighbours bear out (6, 0), not (-6, 0) or rest; one neighbour
    is enough, none gives no verdict."""
    from unshutter.guidance.overrides import neighbour_match

    rng = np.random.default_rng(2)
    tex = (rng.random((40, 90)) * 255).astype(np.uint8)
    prev, cur, nxt = tex[:, 12:72], tex[:, 6:66], tex[:, 0:60]  # content moves right: cur(x) = prev(x - 6)
    inner = (slice(8, 32), slice(14, 46))

    def match(vx: float, p: np.ndarray | None, n: np.ndarray | None) -> np.ndarray:
        motion = np.zeros((40, 60, 2), np.float32)
        motion[..., 0] = vx
        out = neighbour_match(motion, np.ascontiguousarray(cur), p, n)
        assert out is not None and out.shape == (40, 60) and out.dtype == np.float32
        return out[inner]

    p, n = np.ascontiguousarray(prev), np.ascontiguousarray(nxt)
    assert match(6.0, p, n).min() > 0.99 and match(6.0, None, n).min() > 0.99 and match(6.0, p, None).min() > 0.99
    assert match(-6.0, p, n).max() < 0.1 and match(0.0, p, n).max() < 0.1
    assert neighbour_match(np.zeros((40, 60, 2), np.float32), np.ascontiguousarray(cur), None, None) is None


def test_keep_flow_detail_moves_the_flows_mean_to_the_vector_and_keeps_its_variation(tmp_path: Path) -> None:
    """Over a flow that reads the car too short and unevenly, ``keep_flow_detail`` keeps the unevenness and
    makes the mean over the drawn region the artist's vector; without the flow the vector takes the region."""
    h, w = 60, 80
    motion = np.zeros((h, w, 2), np.float32)
    motion[..., 0] = np.linspace(2.0, 14.0, w, dtype=np.float32)[None, :]  # a perspective-like ramp
    flow = encode.guidance_from_motion(motion)
    text = f"regions:\n  - {{name: car, motion: [40, 0], feather: 0, keep_flow_detail: true, polygon: {BOX}}}\n"
    ov = _load(tmp_path, text)
    out, used = ov.apply(flow.copy(), 1)
    assert used == ["region:car"]
    mx = out[..., MX] * MOTION_SCALE
    inside = np.zeros((h, w), bool)
    inside[10:51, 20:61] = True  # the polygon filled, outline included
    assert mx[inside].mean() == pytest.approx(40.0, abs=0.05)
    old = motion[..., 0]
    np.testing.assert_allclose(mx[30, 55] - mx[30, 25], old[30, 55] - old[30, 25], atol=1e-3)  # variation kept
    np.testing.assert_allclose(mx[2, 2], old[2, 2], atol=1e-3)  # the flow outside
    assert (out[inside, GX] == 1).all()  # right, with the signs of the new motion
    # the plain vector region replaces it: no variation left
    plain = _load(tmp_path, f"regions:\n  - {{motion: [40, 0], feather: 0, polygon: {BOX}}}\n", "p.yaml")
    flat = plain.apply(flow.copy(), 1)[0][..., MX] * MOTION_SCALE
    assert np.ptp(flat[inside]) < 1e-3
    # no motion size known: the vector takes the region as a plain one does
    empty = encode.empty_guidance(h, w)
    np.testing.assert_array_equal(ov.apply(empty.copy(), 1)[0], plain.apply(empty.copy(), 1)[0])


def test_keep_flow_detail_needs_a_vector(tmp_path: Path) -> None:
    with pytest.raises(OverrideError, match=r"regions\[0\]\.keep_flow_detail"):
        _load(tmp_path, f"regions:\n  - {{direction: left, keep_flow_detail: true, polygon: {BOX}}}\n")
    with pytest.raises(OverrideError, match=r"regions\[0\]\.keep_flow_detail"):
        _load(tmp_path, f"regions:\n  - {{motion: [4, 0], keep_flow_detail: 1, polygon: {BOX}}}\n")
