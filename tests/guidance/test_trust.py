"""guidance.trust: the learned trust of the neighbour motion, its evidence and its fit."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import textured_photo
from unshutter.color import to_network
from unshutter.guidance import flow, trust
from unshutter.guidance.dominant import fill_untextured, texture


def _pan(dx: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    photo = to_network(textured_photo(200, 320), 1.0)
    frame = lambda x: flow.to_gray8(np.ascontiguousarray(photo[40:160, 60 + x : 260 + x]))  # noqa: E731
    return frame(-dx), frame(0), frame(dx)  # the view pans dx px a frame: content moves left


def test_feature_maps_are_one_map_per_feature_of_the_frame_size() -> None:
    p, c, n = _pan()
    parts = flow.motion_parts(p, c, n)
    maps = list(trust.feature_maps(p, c, n, *parts.evidence()))
    assert len(maps) == len(trust.FEATURES) == len(trust.MEAN) == len(trust.SCALE) == len(trust.COEF)
    assert all(m.shape == c.shape and np.isfinite(m).all() for m in maps)
    t = trust.learned_trust(iter(maps))
    assert t.dtype == np.float32 and t.shape == c.shape and 0.0 <= t.min() and t.max() <= 1.0


def test_trust_falls_with_the_disagreement_and_for_a_motion_the_neighbours_do_not_match_along() -> None:
    p, c, n = _pan()
    parts = flow.motion_parts(p, c, n)
    inner = (slice(20, 100), slice(20, 180))
    assert float(np.median(parts.motion[inner][..., 0])) == pytest.approx(-6.0, abs=0.5)
    wrong = parts.motion.copy()
    wrong[..., 0] = 6.0  # backwards: the neighbours do not match along it, the block search disagrees
    last_right, last_wrong = 1.0, 1.0
    for d in (0.0, 1.0, 3.0, 6.0):  # forward and backward flow disagree by d px, consistency as the node computes it
        dis = np.full_like(parts.disagree, d)
        cons = np.full_like(parts.consistency, 1.0 / (1.0 + d * d / 2.25))
        right_t = float(
            np.median(
                trust.learned_trust(trust.feature_maps(p, c, n, parts.motion, dis, parts.coarse, parts.tex, cons))[
                    inner
                ]
            )
        )
        wrong_t = float(
            np.median(
                trust.learned_trust(trust.feature_maps(p, c, n, wrong, dis, parts.coarse, parts.tex, cons))[inner]
            )
        )
        assert wrong_t < 0.6 * right_t
        assert right_t < last_right and wrong_t < last_wrong
        last_right, last_wrong = right_t, wrong_t
        if d == 0.0:
            assert right_t > 0.9
    assert last_right < 0.6


def test_fill_untextured_with_the_texture_given_is_the_same() -> None:
    p, c, n = _pan()
    m, t = flow.central_dis_motion(p, c, n)
    a = fill_untextured(m, t, c)
    b = fill_untextured(m, t, c, None, texture(c))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_fit_logistic_finds_the_direction_that_separates_the_labels() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    y = (rng.random(4000) < 1.0 / (1.0 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 2] + 0.5)))).astype(np.float64)
    b = trust.fit_logistic(x, y, np.ones(4000))
    assert b[0] == pytest.approx(2.0, abs=0.3) and b[2] == pytest.approx(-1.0, abs=0.3)
    assert abs(b[1]) < 0.2 and b[3] == pytest.approx(0.5, abs=0.2)


def test_fit_from_clips_holds_the_trust_on_wrong_motion_at_the_consistency_level() -> None:
    rng = np.random.default_rng(1)
    h, w = 40, 50
    samples = []
    for _ in range(3):
        truth = np.zeros((h, w, 2), np.float32)
        truth[..., 0] = 10.0
        motion = truth.copy()
        bad = rng.random((h, w)) < 0.3
        motion[bad, 0] = -10.0
        signal = np.where(bad, -1.0, 1.0) + rng.normal(0.0, 1.0, (h, w))  # evidence that is right 84% of the time
        feats = np.stack([signal, rng.normal(size=(h, w))], axis=-1).astype(np.float32)
        consistency = np.full((h, w), 0.05, np.float32)  # the old trust gave wrong pixels 0.05
        samples.append((feats, motion, truth, consistency))
    res = trust.fit_from_clips(samples, per_frame=h * w)
    assert res["coef"][0] > 1.0 and abs(res["coef"][1]) < 0.3
    assert res["bias"] < res["fitted_bias"]
    x = np.concatenate([s[0].reshape(-1, 2) for s in samples])
    wrong = np.concatenate([(s[1][..., 0] < 0).ravel() for s in samples])
    t = 1.0 / (1.0 + np.exp(-(((x - res["mean"]) / res["scale"]) @ res["coef"] + res["bias"])))
    assert float(t[wrong].mean()) <= 0.05 + 1e-9
    assert float(t[~wrong].mean()) > 3 * float(t[wrong].mean())


def _speckled_object(h: int = 120, w: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A still, trusted background and a disc moving 12 px right whose trust is a checkerboard of 0.9 and 0.1.

    Shape: -> trust [H, W], motion [H, W, 2], disc mask [H, W] bool
    """
    ys, xs = np.mgrid[0:h, 0:w]
    disc = (ys - h / 2) ** 2 + (xs - w / 2) ** 2 < 40**2
    motion = np.zeros((h, w, 2), np.float32)
    motion[disc, 0] = 12.0
    checker = ((ys // 6 + xs // 6) % 2 == 0).astype(np.float32)
    t = np.where(disc, 0.1 + 0.8 * checker, 1.0).astype(np.float32)
    return t, motion, disc


def test_pool_trust_follows_a_speckled_object_as_a_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    t, motion, disc = _speckled_object()
    inner = disc & np.roll(disc, 12, 0) & np.roll(disc, -12, 0) & np.roll(disc, 12, 1) & np.roll(disc, -12, 1)
    low = inner & (t < 0.5)
    assert float(t[low].max()) == pytest.approx(0.1)
    with monkeypatch.context() as m:
        m.setattr(trust, "POOL_WEIGHT", 1.0)
        whole = trust.pool_trust(t, motion)  # the object's trust
    assert float(whole[inner].min()) > 0.55  # the untrusted speckles take the trusted ones' trust: same motion
    pooled = trust.pool_trust(t, motion)
    assert pooled.shape == t.shape and pooled.dtype == np.float32
    assert 0.0 <= pooled.min() and pooled.max() <= 1.0
    assert np.allclose(pooled, t + trust.POOL_WEIGHT * (whole - t), atol=1e-5)  # POOL_WEIGHT of the way there
    assert float(pooled[low].min()) > 0.1 + trust.POOL_WEIGHT * (0.55 - 0.1) - 1e-6
    assert float(pooled[inner].mean()) > float(t[inner].mean()) + 0.1


def test_pool_trust_gives_nothing_to_a_motion_its_trusted_neighbours_do_not_share() -> None:
    t, motion, disc = _speckled_object()
    h, w = t.shape
    odd = np.zeros_like(disc)
    odd[h // 2 - 8 : h // 2 + 8, w // 2 - 8 : w // 2 + 8] = True
    t[odd] = 0.1
    motion[odd] = (-12.0, 0.0)  # backwards inside the object: a wrong motion
    pooled = trust.pool_trust(t, motion)
    core = np.zeros_like(odd)
    core[h // 2 - 3 : h // 2 + 3, w // 2 - 3 : w // 2 + 3] = True
    assert float(pooled[core].max()) < 0.45  # only the smoothing reaches it, not its neighbours' trust
    still = np.zeros((h, w, 2), np.float32)
    uniform = np.full((h, w), 0.37, np.float32)
    assert np.allclose(trust.pool_trust(uniform, still), 0.37, atol=1e-3)  # a uniform trust is left as it is


@pytest.mark.parametrize("shape", [(1, 1), (3, 700), (700, 5), (64, 64)])
def test_pool_trust_on_small_and_thin_frames(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    t = rng.random(shape, dtype=np.float32)
    m = rng.normal(0, 5, shape + (2,)).astype(np.float32)
    out = trust.pool_trust(t, m)
    assert out.shape == shape and np.isfinite(out).all() and 0.0 <= out.min() and out.max() <= 1.0
