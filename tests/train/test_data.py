"""The synthetic data engine: shapes, ranges, exposure integration, guidance, augmentation."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from unshutter import kernels
from unshutter.decomposer.contract import GVALID, GX, GY, K, MVALID
from unshutter.guidance.encode import reverse
from unshutter.train.data import (
    DataSpec,
    Scene,
    Layer,
    Trajectory,
    make_guidance,
    render_sample,
    transform,
    _integrate,
)
from unshutter.train.photos import Photo, split


def _photo(seed: int = 0, h: int = 200, w: int = 300) -> Photo:
    """A textured 8-bit photo made in memory (blobs, edges, gratings)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.full((h, w, 3), 0.3, np.float32)
    for _ in range(60):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 20)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.05, 1.0, 3)
    img += 0.1 * np.sin(xx / 2.5)[..., None] * np.cos(yy / 4.0)[..., None]
    u8 = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    small = cv2.resize(u8, (w * 2 // 3, h * 2 // 3), interpolation=cv2.INTER_AREA)
    return Photo(f"test{seed}", [u8, small], [h, h * 2 // 3])


PHOTOS = [_photo(0), _photo(1)]


def _translation_scene(v: tuple[float, float], size: int = 48) -> Scene:
    p = PHOTOS[0]
    tex = kernels.srgb_decode(p.levels[0].astype(np.float32) / 255.0)
    traj = Trajectory(
        u0=np.array([150.0, 100.0]),
        c=np.array([size / 2, size / 2]),
        s0=1.0,
        theta0=0.0,
        v=np.array(v, float),
        a=np.zeros(2),
        wob_amp=np.zeros(2),
        wob_freq=1.0,
        wob_phase=0.0,
        omega=0.0,
        alpha=0.0,
        zeta=0.0,
    )
    return Scene((size, size), [Layer(np.ascontiguousarray(tex), None, traj)])


def test_sample_shapes_and_ranges():
    spec = DataSpec(crop=40, max_motion=20.0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        s = render_sample(rng, PHOTOS, spec)
        assert s.blurred.shape == (40, 40, 3) and s.blurred.dtype == np.float32
        assert s.gt.shape == (K, 40, 40, 3)
        assert s.prev.shape == s.next.shape == s.blurred.shape
        assert s.motion_gt.shape == (40, 40, 2) and s.motion_nb.shape == (40, 40, 2)
        for a in (s.blurred, s.gt, s.prev, s.next, s.blurred_clean):
            assert np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0 + 1e-6
        assert 180.0 <= s.shutter_deg <= 360.0
        assert s.mode in ("continuous", "gopro")


def test_continuous_blur_is_linear_mean_of_subframes():
    spec = DataSpec(crop=40, max_motion=30.0, degrade=False, layers_max=2)
    rng = np.random.default_rng(3)
    for _ in range(2):
        s = render_sample(rng, PHOTOS, spec, mode="continuous")
        mean_lin = kernels.srgb_decode(s.gt).mean(axis=0)
        np.testing.assert_allclose(mean_lin, kernels.srgb_decode(s.blurred), atol=2e-5)
        np.testing.assert_array_equal(s.blurred, s.blurred_clean)


def test_gopro_mode_with_seven_frames_is_the_mean_of_the_sharp_frames():
    scene = _translation_scene((12.0, -4.0))
    blur, sub = _integrate(scene, 0.0, 1.0, "gopro", 7, 1)
    np.testing.assert_allclose(sub.mean(axis=0), blur, atol=1e-5)


@pytest.mark.parametrize(
    "v,signs", [((10.0, 5.0), (1, 1)), ((-8.0, -6.0), (-1, -1)), ((9.0, -7.0), (1, -1)), ((-9.0, 7.0), (-1, 1))]
)
def test_guidance_of_known_motion_has_the_right_quadrant(v, signs):
    scene = _translation_scene(v)
    m = scene.motion(-0.5, 0.5)
    np.testing.assert_allclose(m[..., 0], v[0], atol=1e-3)
    np.testing.assert_allclose(m[..., 1], v[1], atol=1e-3)
    from unshutter.train.data import Sample

    z = np.zeros((48, 48, 3), np.float32)
    s = Sample(z, z, np.zeros((K, 48, 48, 3), np.float32), z, z, m)
    g = make_guidance(None, s, "gt")
    assert (g[..., GX] == signs[0]).all() and (g[..., GY] == signs[1]).all()
    assert (g[..., GVALID] == 1).all() and (g[..., MVALID] == 1).all()
    assert (make_guidance(None, s, "none") == 0).all()


def test_neighbour_motion_follows_the_true_motion():
    spec = DataSpec(crop=64, max_motion=12.0, degrade=False, layers_max=0)
    rng = np.random.default_rng(7)
    s = render_sample(rng, PHOTOS, spec)
    mag = np.linalg.norm(s.motion_gt, axis=-1)
    if mag.mean() < 2.0:  # near-static draw: try again with another seed
        s = render_sample(np.random.default_rng(8), PHOTOS, spec)
    cos = (s.motion_gt * s.motion_nb).sum(-1) / (
        np.linalg.norm(s.motion_gt, axis=-1) * np.linalg.norm(s.motion_nb, axis=-1) + 1e-6
    )
    assert np.median(cos) > 0.8


def test_time_reversal_reverses_order_and_guidance():
    spec = DataSpec(crop=32, max_motion=16.0)
    s = render_sample(np.random.default_rng(1), PHOTOS, spec)
    r = transform(s, "reverse")
    np.testing.assert_array_equal(r.gt, s.gt[::-1])
    np.testing.assert_array_equal(r.prev, s.next)
    np.testing.assert_array_equal(r.blurred, s.blurred)
    np.testing.assert_allclose(make_guidance(None, r, "gt"), reverse(make_guidance(None, s, "gt")), atol=1e-6)
    np.testing.assert_allclose(
        make_guidance(None, r, "neighbors"), reverse(make_guidance(None, s, "neighbors")), atol=1e-6
    )
    rr = transform(r, "reverse")
    np.testing.assert_array_equal(rr.gt, s.gt)


@pytest.mark.parametrize("op", ["hflip", "vflip", "rot90"])
def test_geometric_augmentation_moves_pixels_like_the_motion(op):
    from unshutter.train.data import Sample

    v = (9.0, 3.0)
    scene = _translation_scene(v, size=64)
    blur, sub = _integrate(scene, 0.0, 1.0, "gopro", 7, 1)
    m = scene.motion(-0.5, 0.5)
    s = Sample(blur, blur, sub, blur, blur, m)
    t = transform(s, op)
    mv = t.motion_gt[32, 32]
    # shift between first and last sub-frame = 6/7 of the exposure motion
    g0 = cv2.cvtColor(np.ascontiguousarray(t.gt[0]), cv2.COLOR_RGB2GRAY).astype(np.float64)
    g6 = cv2.cvtColor(np.ascontiguousarray(t.gt[-1]), cv2.COLOR_RGB2GRAY).astype(np.float64)
    (dx, dy), _ = cv2.phaseCorrelate(g0, g6)
    np.testing.assert_allclose([dx, dy], mv * 6.0 / 7.0, atol=1.0)
    assert math.isclose(float(np.linalg.norm(mv)), math.hypot(*v), rel_tol=1e-4)


def test_photo_split_keeps_holdout_out_of_training():
    from unshutter.train.config import load_config

    cfg = load_config()
    train, held = split(cfg["data"])
    assert held and train
    assert not set(map(str, train)) & set(map(str, held))
    assert not any("Storm.jpg" in str(p) for p in train + held)


def test_load_split_loads_the_held_out_photos_or_the_training_ones():
    from unshutter.train.config import load_config
    from unshutter.train.photos import load_split

    cfg = load_config()
    _, held = split(cfg["data"])
    assert [p.name for p in load_split(cfg["data"], held_out=True)] == [p.name for p in held]


def test_default_degradation_draws_what_the_generator_always_drew():
    """Changing the noise/JPEG knobs must not move the held-out set the benchmark makes with defaults."""
    spec = DataSpec()
    for seed in range(40):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        noise, jq = spec.draw_degradation(a)
        old_noise = (float(b.uniform(0, 0.004) * (b.random() < 0.7)), float(b.uniform(0, 2e-5)))
        old_jq = int(b.integers(45, 96)) if b.random() < 0.4 else None
        assert noise == old_noise and jq == old_jq
        assert a.random() == b.random()  # both streams consumed the same draws


def test_degradation_knobs_change_noise_and_jpeg_and_defaults_restore_them():
    light = DataSpec(noise_prob=0.6, noise_shot_power=2.0, jpeg_prob=0.0, jpeg_quality=(55, 95))
    rng = np.random.default_rng(3)
    draws = [light.draw_degradation(rng) for _ in range(400)]
    assert all(jq is None for _, jq in draws)
    shots = np.array([n[0] for n, _ in draws])
    assert 0.3 < float((shots == 0).mean()) < 0.5 and shots.max() <= 0.004
    # u**2 puts the mean gain of noisy samples near a third of the maximum, not half
    assert float(shots[shots > 0].mean()) < 0.0016
    d = light.with_default_degradation()
    assert (d.noise_prob, d.noise_shot_power, d.jpeg_prob, d.jpeg_quality) == (0.7, 1.0, 0.4, (45, 95))
    assert DataSpec.from_config({"jpeg_quality": [60, 90]}).jpeg_quality == (60, 90)
    # the generator uses the spec's draws
    s = render_sample(
        np.random.default_rng(0),
        PHOTOS,
        DataSpec(crop=32, max_motion=8.0, noise_prob=0.0, noise_read_max=0.0, jpeg_prob=0.0),
    )
    assert np.abs(s.blurred - np.round(s.blurred_clean * 255) / 255).max() < 1e-6
