"""bench vectors' building blocks: drawn regions from a motion field, and where the flow fails."""

from __future__ import annotations

import numpy as np

from unshutter.bench import quality as q
from unshutter.bench import vectors as v
from unshutter.decomposer.contract import K, MOTION_SCALE, MX, MY


def _frame(true: np.ndarray, nb: np.ndarray) -> q.Frame:
    h, w = true.shape[:2]
    blurred = np.full((h, w, 3), 0.5, np.float32)
    return q.Frame(blurred, np.repeat(blurred[None], K, axis=0), true, nb, None, True, 360.0)


def _two_layers(h: int = 64, w: int = 96) -> np.ndarray:
    m = np.zeros((h, w, 2), np.float32)
    m[..., 0] = -4.0  # background moves left
    m[16:48, 40:80] = (20.0, 3.0)  # a car moves right
    return m


def test_region_masks_find_each_layer_and_its_motion() -> None:
    regions = v.region_masks(_two_layers())
    assert len(regions) == 2
    (big, vec_big), (small, vec_small) = regions
    assert vec_big == (-4.0, 0.0) and vec_small == (20.0, 3.0)
    assert small[20:44, 44:76].all() and not small[:10].any()


def test_regions_guidance_carries_the_vectors() -> None:
    g = v.regions_guidance(_frame(_two_layers(), _two_layers()))
    np.testing.assert_allclose(g[32, 60, MX : MY + 1] * MOTION_SCALE, (20, 3), atol=1e-2)
    np.testing.assert_allclose(g[2, 2, MX : MY + 1] * MOTION_SCALE, (-4, 0), atol=1e-3)


def test_flow_failure_kinds_and_the_override_there() -> None:
    true = _two_layers()
    nb = true.copy()
    nb[16:48, 40:80] = (-20.0, -3.0)  # the flow points the wrong way over the car
    f = _frame(true, nb)
    for kind in v.FAILURES:
        bad = v.flow_failure(f, kind)
        assert bad is not None and bad[20:44, 44:76].all() and not bad[:10].any(), kind
    g = v.override_failure(f, v.flow_failure(f, "reversed"))
    np.testing.assert_allclose(g[32, 60, MX : MY + 1] * MOTION_SCALE, (20, 3), atol=1e-2)
    np.testing.assert_allclose(g[2, 2, MX : MY + 1] * MOTION_SCALE, (-4, 0), atol=1e-3)  # the flow elsewhere
    assert v.flow_failure(_frame(true, true), "off") is None


def test_objects_are_outlined_with_their_motion_and_failures_judged_inside_them(tmp_path) -> None:  # noqa: ANN001
    true = _two_layers()
    obs = v.objects(true)
    assert sorted(ob.vector for ob in obs) == [(-4.0, 0.0), (20.0, 3.0)]
    car = next(ob for ob in obs if ob.vector == (20.0, 3.0))
    assert car.mask[16:48, 40:80].all() and car.mask.sum() <= 34 * 42 and len(car.polygons) == 1
    nb = true.copy()
    nb[16:48, 40:80] = (-20.0, -3.0)  # the flow points the wrong way over the car
    nb[14:50, 38:82][:2] = (20.0, 3.0)  # ... except in a band at its edge: not judged (the object's inside is)
    fails = v.failing_objects(_frame(true, nb))
    assert list(fails) == ["reversed"] and [ob.vector for ob in fails["reversed"]] == [(20.0, 3.0)]
    nb[16:48, 40:80] = (8.0, 1.0)  # too short
    assert list(v.failing_objects(_frame(true, nb))) == ["off"]
    assert v.failing_objects(_frame(true, true)) == {}
    g = v.override_objects(_frame(true, nb), fails["reversed"])
    np.testing.assert_allclose(g[32, 60, MX : MY + 1] * MOTION_SCALE, (20, 3), atol=1e-2)
    # the override file an artist would write reads back to the same vector over the same polygon
    from unshutter.guidance.encode import guidance_from_motion
    from unshutter.guidance.overrides import load_overrides

    ov = load_overrides(v.write_override_file(tmp_path / "o.json", fails["reversed"]))
    g2, used = ov.apply(guidance_from_motion(nb), 0)
    assert used == ["region:object0"]
    np.testing.assert_allclose(g2[32, 60, MX : MY + 1] * MOTION_SCALE, (20, 3), atol=1e-2)


def test_region_masks_are_the_same_on_every_call() -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(0, 6, (48, 64, 2)).astype(np.float32)
    a, b = v.region_masks(m), v.region_masks(m)
    assert [r[1] for r in a] == [r[1] for r in b]


def test_both_failure_measures_summarise_a_kind_alike() -> None:
    """``flow_fails`` and ``flow_fails_pixels`` share their seven keys (and their order); the former adds objects."""
    a = {"nb": [0.01, 0.02], "ov": [0.005, 0.03], "gt": [0.001, 0.001], "id": [0.1, 0.1], "share": [0.1, 0.3]}
    pixels = v._fails_summary(a)
    assert list(pixels) == [
        "frames",
        "region_share_mean",
        "psnr_identity",
        "psnr_neighbors",
        "psnr_neighbors_plus_override",
        "psnr_gt",
        "frames_improved",
    ]
    assert pixels["frames"] == 2 and pixels["frames_improved"] == 1  # the override helped on the first frame only
    assert abs(pixels["region_share_mean"] - 0.2) < 1e-9
    assert pixels["psnr_neighbors"] == q.psnr_of(0.015) and pixels["psnr_gt"] == q.psnr_of(0.001)
    objects = v._fails_summary(a, objects=3)
    assert list(objects) == ["frames", "objects", *list(pixels)[1:]] and objects["objects"] == 3
    assert {k: objects[k] for k in pixels} == pixels


def test_the_pass_row_reads_the_true_motion_back_through_the_node(tmp_path) -> None:  # noqa: ANN001
    """A pass of the true motion (half floats, y up) gives the per-pixel truth's guidance, to half precision."""
    from unshutter.decomposer.contract import GX, GY
    from unshutter.decomposer.runtime import Decomposer

    true = _two_layers()
    f = _frame(true, true)
    f.shutter_deg = 180.0
    got = v.pass_guidance(f, tmp_path, Decomposer(None, device="cpu"))
    want = q.guidance_for(f, "gt")
    np.testing.assert_array_equal(got[..., GX : GY + 1], want[..., GX : GY + 1])
    np.testing.assert_allclose(got[..., MX : MY + 1], want[..., MX : MY + 1], rtol=1e-3)
    np.testing.assert_allclose(got[32, 60, MX : MY + 1] * MOTION_SCALE, (10, 1.5), rtol=1e-3)  # 180 degrees
