"""Synthetic training data: sharp photos moved along random trajectories and
integrated over the exposure in linear light.

Time is measured in frame intervals; frame 0's exposure spans
``[-e/2, e/2]`` with ``e = shutter_deg / 360``, the previous and next frames
are centred on -1 and +1. Sub-frame k covers the k-th of K equal slices.

A scene is a background photo under a camera trajectory plus 0-3 foreground
layers (photo patches with soft mattes) on their own trajectories, composited
back to front. A trajectory is an affine map texture -> screen,
``x(t) = s(t) R(theta(t)) (u - u0) + c + T(t)``, with acceleration and
wobble so the speed is not constant.

Two exposure models:

- ``continuous``: S fine samples per slice; GT sub-frame k is the mean of its
  slice's samples and the blurred frame is the mean of all of them (so the
  blurred frame is exactly the mean of the GT sub-frames in linear light).
- ``gopro``: the blurred frame is the plain average of n = 7..13 sharp
  frames (ghosting included), GT sub-frame k is the sharp frame at the
  slice's middle.

Degradations on the network inputs only (blurred, prev, next): sensor noise,
8-bit quantisation, JPEG; a camera-response variation (a power law on linear
light) applies to inputs and targets alike.

All images are float32 HWC. ``Sample`` arrays are in network encoding
(:func:`unshutter.color.to_network` with scale 1) except where noted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterator

import cv2
import numpy as np

from unshutter import kernels
from unshutter.color import to_network
from unshutter.decomposer.contract import GVALID, GX, GY, K, MOTION_SCALE
from unshutter.guidance.encode import empty_guidance, guidance_from_motion
from unshutter.guidance.flow import motion_from_neighbors, to_gray8
from unshutter.train.photos import Photo

# --------------------------------------------------------------- trajectories


@dataclass
class Trajectory:
    """Affine texture -> screen map over time (see module docstring)."""

    u0: np.ndarray  # texture anchor [2]
    c: np.ndarray  # screen anchor [2]
    s0: float  # screen px per texture px at t = 0
    theta0: float
    v: np.ndarray  # px / frame [2]
    a: np.ndarray  # px / frame^2 [2]
    wob_amp: np.ndarray  # px [2]
    wob_freq: float  # rad / frame
    wob_phase: float
    omega: float  # rad / frame
    alpha: float  # rad / frame^2
    zeta: float  # log-scale / frame

    def matrix(self, t: float) -> np.ndarray:
        """2x3 affine texture -> screen at time t."""
        s = self.s0 * math.exp(self.zeta * t)
        th = self.theta0 + self.omega * t + 0.5 * self.alpha * t * t
        T = (
            self.v * t
            + 0.5 * self.a * t * t
            + self.wob_amp * (math.sin(self.wob_freq * t + self.wob_phase) - math.sin(self.wob_phase))
        )
        R = s * np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        off = self.c + T - R @ self.u0
        return np.concatenate([R, off[:, None]], axis=1)

    def shifted(self, du: np.ndarray) -> Trajectory:
        """The same motion for a texture cropped by ``du`` (texture coords u -> u - du)."""
        return replace(self, u0=self.u0 - du)


def random_trajectory(
    rng: np.random.Generator, disp: float, size: float, u0: np.ndarray, c: np.ndarray, s0: float, e: float
) -> Trajectory:
    """A trajectory whose displacement over one exposure (length ``e``) is about ``disp`` px.

    ``size`` is the object's extent in screen px (rotation and zoom are scaled so
    their displacement at its edge is a fraction of ``disp``).
    """
    speed = disp / max(e, 1e-3)
    ang = rng.uniform(0, 2 * math.pi)
    # split the motion budget between translation, rotation and zoom
    w_rot, w_zoom = rng.uniform(0, 0.35) * (rng.random() < 0.5), rng.uniform(0, 0.3) * (rng.random() < 0.4)
    w_tr = max(0.2, 1.0 - w_rot - w_zoom)
    v = speed * w_tr * np.array([math.cos(ang), math.sin(ang)])
    half = max(size / 2, 8.0)
    omega = rng.choice([-1, 1]) * speed * w_rot / half
    zeta = rng.choice([-1, 1]) * speed * w_zoom / half
    a = rng.normal(0, 0.6, 2) * np.linalg.norm(v) * (rng.random() < 0.7)
    wob_amp = rng.normal(0, 0.08, 2) * speed * (rng.random() < 0.5)
    return Trajectory(
        u0=u0.astype(np.float64),
        c=c.astype(np.float64),
        s0=s0,
        theta0=rng.uniform(-0.15, 0.15),
        v=v,
        a=a,
        wob_amp=wob_amp,
        wob_freq=rng.uniform(2, 6),
        wob_phase=rng.uniform(0, 2 * math.pi),
        omega=float(omega),
        alpha=float(rng.normal(0, 0.5) * abs(omega)),
        zeta=float(zeta),
    )


# --------------------------------------------------------------- scene


@dataclass
class Layer:
    """A texture (linear RGB) with an optional matte under a trajectory."""

    tex: np.ndarray  # [h, w, 3] linear
    matte: np.ndarray | None  # [h, w] in [0, 1] or None (opaque background)
    traj: Trajectory


@dataclass
class Scene:
    size: tuple[int, int]  # (H, W) of the rendered frames
    layers: list[Layer]  # back to front; layers[0] is the background

    def render(self, t: float) -> np.ndarray:
        """Sharp linear frame at time t. Shape: -> [H, W, 3]."""
        h, w = self.size
        out: Any = None
        for L in self.layers:
            M = L.traj.matrix(t)
            if L.matte is None:
                out = cv2.warpAffine(L.tex, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
                continue
            col = cv2.warpAffine(L.tex, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
            a = cv2.warpAffine(
                L.matte, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0
            )
            a3 = cv2.merge([a, a, a])
            out = cv2.add(out, cv2.multiply(cv2.subtract(col, out), a3))  # "over" with a soft matte
        return out

    def motion(self, t0: float, t1: float) -> np.ndarray:
        """Displacement of the visible surface from t0 to t1, at pixels of the frame at (t0+t1)/2.

        Shape: -> [H, W, 2] px
        """
        h, w = self.size
        tm = 0.5 * (t0 + t1)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        out = np.zeros((h, w, 2), np.float64)
        for L in self.layers:
            Mm = L.traj.matrix(tm)
            A, b = Mm[:, :2], Mm[:, 2]
            Ai = np.linalg.inv(A)
            ux = Ai[0, 0] * (xs - b[0]) + Ai[0, 1] * (ys - b[1])
            uy = Ai[1, 0] * (xs - b[0]) + Ai[1, 1] * (ys - b[1])
            M0, M1 = L.traj.matrix(t0), L.traj.matrix(t1)
            D = M1 - M0
            dx = D[0, 0] * ux + D[0, 1] * uy + D[0, 2]
            dy = D[1, 0] * ux + D[1, 1] * uy + D[1, 2]
            if L.matte is None:
                out[..., 0], out[..., 1] = dx, dy
            else:
                a = cv2.warpAffine(L.matte, Mm, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
                sel = a >= 0.5
                out[sel, 0] = dx[sel]
                out[sel, 1] = dy[sel]
        return out.astype(np.float32)


def _crop_texture(img8: np.ndarray, traj: Trajectory, size: tuple[int, int], times: list[float], margin: int = 8):
    """Crop the texture region the trajectory sees over ``times``; returns (linear tex, shifted traj)."""
    h, w = size
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h], [w / 2, h / 2]], np.float64)
    pts: Any = []
    for t in times:
        M = traj.matrix(t)
        Ai = np.linalg.inv(M[:, :2])
        pts.append((corners - M[:, 2]) @ Ai.T)
    pts = np.concatenate(pts)
    x0 = int(max(0, math.floor(pts[:, 0].min()) - margin))
    y0 = int(max(0, math.floor(pts[:, 1].min()) - margin))
    x1 = int(min(img8.shape[1], math.ceil(pts[:, 0].max()) + margin))
    y1 = int(min(img8.shape[0], math.ceil(pts[:, 1].max()) + margin))
    if x1 - x0 < 4 or y1 - y0 < 4:
        x0, y0, x1, y1 = 0, 0, img8.shape[1], img8.shape[0]
    tex = kernels.srgb_decode(img8[y0:y1, x0:x1].astype(np.float32) * np.float32(1 / 255.0))
    return np.ascontiguousarray(tex), traj.shifted(np.array([x0, y0], np.float64))


def _soft_matte(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A soft random blob (ellipse or polygon) filling a good part of [h, w]. Shape: -> [h, w] float32."""
    m = np.zeros((h, w), np.uint8)
    cx, cy = w / 2, h / 2
    if rng.random() < 0.5:
        axes = (int(w * rng.uniform(0.25, 0.45)), int(h * rng.uniform(0.25, 0.45)))
        cv2.ellipse(m, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, 255, -1)
    else:
        n = rng.integers(3, 9)
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        r = rng.uniform(0.25, 0.48, n)
        pts = np.stack([cx + r * w * np.cos(ang), cy + r * h * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 255)
    sig = rng.uniform(0.6, 3.0)
    m = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (0, 0), sig)
    return m


# --------------------------------------------------------------- samples


@dataclass
class Sample:
    """One training/evaluation example (arrays HWC float32, network encoding unless noted)."""

    blurred: np.ndarray  # [H, W, 3] degraded network input
    blurred_clean: np.ndarray  # [H, W, 3] before noise/quantisation/JPEG
    gt: np.ndarray  # [K, H, W, 3]
    prev: np.ndarray  # [H, W, 3] degraded previous blurred frame
    next: np.ndarray  # [H, W, 3] degraded next blurred frame
    motion_gt: np.ndarray  # [H, W, 2] px per frame interval, true motion at frame 0's middle
    motion_nb: np.ndarray | None = None  # [H, W, 2] px per frame interval from DIS on prev/cur/next
    shutter_deg: float = 360.0
    mode: str = "continuous"
    info: dict = field(default_factory=dict)


@dataclass
class DataSpec:
    """Knobs of the generator (from the config's ``data:`` section)."""

    crop: int = 160
    scale_range: tuple[float, float] = (0.5, 1.0)
    max_motion: float = 72.0
    layers_max: int = 3
    gopro_prob: float = 0.35
    shutter_prob_360: float = 0.7
    degrade: bool = True
    neighbors: bool = True
    # Input degradations (``degrade``): Poisson-Gaussian noise with shot gain
    # ``noise_shot_max * u**noise_shot_power`` (u uniform in [0, 1)) on ``noise_prob`` of the
    # samples and read variance uniform in [0, noise_read_max); JPEG on ``jpeg_prob`` of them
    # at a quality drawn from ``jpeg_quality`` (inclusive).
    noise_prob: float = field(default=0.7, metadata={"degradation": True})
    noise_shot_max: float = field(default=0.004, metadata={"degradation": True})
    noise_shot_power: float = field(default=1.0, metadata={"degradation": True})
    noise_read_max: float = field(default=2e-5, metadata={"degradation": True})
    jpeg_prob: float = field(default=0.4, metadata={"degradation": True})
    jpeg_quality: tuple[int, int] = field(default=(45, 95), metadata={"degradation": True})

    @classmethod
    def from_config(cls, d: dict) -> DataSpec:
        keys = cls.__dataclass_fields__.keys()
        kw = {k: d[k] for k in keys if k in d}
        for k in ("scale_range", "jpeg_quality"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    def with_default_degradation(self) -> DataSpec:
        """This spec with the original noise and JPEG draws, so an evaluation set made
        from it stays the same whatever a training stage set."""
        base = DataSpec()
        return replace(self, **{f.name: getattr(base, f.name) for f in fields(self) if f.metadata.get("degradation")})

    def draw_degradation(self, rng: np.random.Generator) -> tuple[tuple[float, float], int | None]:
        """((shot gain, read variance), JPEG quality or None) for one sample."""
        u = float(rng.random())
        shot = self.noise_shot_max * u**self.noise_shot_power * (rng.random() < self.noise_prob)
        read = float(rng.uniform(0, self.noise_read_max))
        lo, hi = self.jpeg_quality
        jq = int(rng.integers(lo, hi + 1)) if rng.random() < self.jpeg_prob else None
        return (float(shot), read), jq


def sample_displacement(rng: np.random.Generator, max_motion: float) -> float:
    """Per-exposure displacement: mostly moderate, a real share of large and near-static."""
    u = rng.random()
    if u < 0.12:
        return rng.uniform(0.0, 2.0)
    if u < 0.6:
        return rng.uniform(2.0, 0.45 * max_motion)
    return rng.uniform(0.45 * max_motion, max_motion)


def _foreground_texture(
    rng: np.random.Generator, photos: list, h: int, w: int, size: tuple[float, float], aspect: tuple[float, float]
) -> np.ndarray:
    """A foreground layer's texture: a random patch of a random photo, linear, tinted.

    ``size`` is its height as a fraction of the frame's shorter side, ``aspect`` its width/height.

    Shape: -> [ph, pw, 3] float32 linear
    """
    p = photos[rng.integers(len(photos))]
    im = p.levels[1] if len(p.levels) > 1 else p.levels[0]
    ph = int(rng.uniform(*size) * min(h, w))
    pw = int(ph * rng.uniform(*aspect))
    y0 = rng.integers(0, max(1, im.shape[0] - ph))
    x0 = rng.integers(0, max(1, im.shape[1] - pw))
    patch = im[y0 : y0 + ph, x0 : x0 + pw]
    ltex = kernels.srgb_decode(patch.astype(np.float32) / 255.0)
    return np.ascontiguousarray(ltex * rng.uniform(0.6, 1.0, 3).astype(np.float32))


def make_scene(
    rng: np.random.Generator, photos: list[Photo], spec: DataSpec, e: float, size: tuple[int, int]
) -> tuple[Scene, float]:
    """A random scene; returns it and its largest per-exposure displacement (px)."""
    h, w = size
    times = [-1.5, -0.75, 0.0, 0.75, 1.5]
    scale = rng.uniform(*spec.scale_range)
    photo = photos[rng.integers(len(photos))]
    lvl = 1 if scale < 0.8 and len(photo.levels) > 1 else 0
    img = photo.levels[lvl]
    s0 = scale * photo.heights[0] / photo.heights[lvl]
    disp = sample_displacement(rng, spec.max_motion)
    ih, iw = img.shape[:2]
    u0 = np.array([rng.uniform(0.25, 0.75) * iw, rng.uniform(0.25, 0.75) * ih])
    c = np.array([w / 2, h / 2])
    traj = random_trajectory(rng, disp, max(h, w), u0, c, s0, e)
    tex, traj = _crop_texture(img, traj, size, times)
    layers = [Layer(tex, None, traj)]
    biggest = disp
    n_fg = int(rng.integers(0, spec.layers_max + 1)) if spec.layers_max > 0 else 0
    for _ in range(n_fg):
        ltex = _foreground_texture(rng, photos, h, w, (0.3, 0.8), (0.6, 1.6))
        ph, pw = ltex.shape[:2]
        matte = _soft_matte(rng, ph, pw)
        ld = sample_displacement(rng, spec.max_motion)
        lc = np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h])
        ltraj = random_trajectory(rng, ld, max(ph, pw), np.array([pw / 2, ph / 2]), lc, 1.0, e)
        layers.append(Layer(ltex, matte, ltraj))
        biggest = max(biggest, ld)
    return Scene((h, w), layers), biggest


def _integrate(
    scene: Scene, center: float, e: float, mode: str, n_gopro: int, s_fine: int
) -> tuple[np.ndarray, np.ndarray]:
    """(blurred linear [H,W,3], K sub-frames linear [K,H,W,3]) for the exposure centred on ``center``."""
    subs = []
    if mode == "continuous":
        for k in range(K):
            acc: Any = None
            for j in range(s_fine):
                t = center + e * ((k + (j + 0.5) / s_fine) / K - 0.5)
                f = scene.render(t)
                acc = f if acc is None else acc + f
            subs.append(acc / np.float32(s_fine))
        sub = np.stack(subs)
        return sub.mean(axis=0, dtype=np.float64).astype(np.float32), sub
    for k in range(K):
        subs.append(scene.render(center + e * ((k + 0.5) / K - 0.5)))
    acc = None
    for i in range(n_gopro):
        f = scene.render(center + e * ((i + 0.5) / n_gopro - 0.5))
        acc = f if acc is None else acc + f
    return acc / np.float32(n_gopro), np.stack(subs)


def _degrade(rng: np.random.Generator, lin: np.ndarray, noise: tuple[float, float], jpeg_q: int | None) -> np.ndarray:
    """Linear -> degraded network encoding: Poisson-Gaussian noise, 8-bit, optional JPEG."""
    a, b = noise
    x = lin
    if a > 0 or b > 0:
        sd = np.sqrt(np.maximum(x, 0) * a + b).astype(np.float32)
        x = x + sd * rng.standard_normal(x.shape, dtype=np.float32)
    enc = to_network(np.clip(x, 0.0, 1.0), 1.0)
    q = np.clip(enc * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if jpeg_q is not None:
        ok, buf = cv2.imencode(".jpg", q[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_q)])
        q = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return q.astype(np.float32) / np.float32(255.0)


def render_sample(rng: np.random.Generator, photos: list[Photo], spec: DataSpec, mode: str | None = None) -> Sample:
    """One random sample (see module docstring)."""
    shutter = 360.0 if rng.random() < spec.shutter_prob_360 else float(rng.uniform(180.0, 360.0))
    e = shutter / 360.0
    size = (spec.crop, spec.crop)
    scene, biggest = make_scene(rng, photos, spec, e, size)
    if mode is None:
        mode = "gopro" if rng.random() < spec.gopro_prob else "continuous"
    n_gopro = int(rng.integers(7, 14))
    s_fine = int(np.clip(math.ceil(biggest / K / 2.0), 1, 6))
    blur, sub = _integrate(scene, 0.0, e, mode, n_gopro, s_fine)
    if spec.neighbors:
        s_nb = max(1, (s_fine + 1) // 2)
        prev_l, _ = _integrate(scene, -1.0, e, mode, n_gopro, s_nb)
        next_l, _ = _integrate(scene, 1.0, e, mode, n_gopro, s_nb)
    else:
        prev_l = next_l = blur
    motion = scene.motion(-0.5 * e, 0.5 * e) / np.float32(e)

    # photometric variation (gain, white balance, camera response) on inputs and targets
    gain = (rng.uniform(0.55, 1.0) * rng.uniform(0.88, 1.12, 3)).astype(np.float32)
    gain /= max(1.0, float(gain.max()))
    gamma = float(rng.uniform(0.85, 1.15)) if spec.degrade else 1.0

    def photo(x: np.ndarray) -> np.ndarray:
        y = np.clip(x * gain, 0.0, 1.0)
        return np.power(y, np.float32(gamma)) if gamma != 1.0 else y

    blur_p, sub_p, prev_p, next_p = photo(blur), photo(sub), photo(prev_l), photo(next_l)
    if spec.degrade:
        noise, jq = spec.draw_degradation(rng)
        blurred = _degrade(rng, blur_p, noise, jq)
        prev = _degrade(rng, prev_p, noise, jq)
        nxt = _degrade(rng, next_p, noise, jq)
    else:
        blurred, prev, nxt = to_network(blur_p, 1.0), to_network(prev_p, 1.0), to_network(next_p, 1.0)
    s = Sample(
        blurred=blurred,
        blurred_clean=to_network(blur_p, 1.0),
        gt=to_network(sub_p, 1.0),
        prev=prev,
        next=nxt,
        motion_gt=motion,
        shutter_deg=shutter,
        mode=mode,
        info={"disp_max": biggest, "layers": len(scene.layers) - 1, "s_fine": s_fine, "n_gopro": n_gopro},
    )
    if spec.neighbors:
        s.motion_nb = neighbor_motion(s.prev, s.blurred, s.next)
    return s


def neighbor_motion(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Motion per frame interval from the blurred neighbours, as the node computes it. Shape: -> [H, W, 2]."""
    m, _ = motion_from_neighbors(to_gray8(prev), to_gray8(cur), to_gray8(nxt))
    assert m is not None  # both neighbours given
    return m


# --------------------------------------------------------------- clips


@dataclass
class Clip:
    """Consecutive blurred frames of one continuous motion with the truth at evenly spaced times.

    Frame f's exposure is centred on its time (frames sit at integer times, the
    middle one at 0). Its N output times sit at (k + 0.5)/N of the frame
    interval after the exposure opens; truth k is the scene integrated over
    e/N around that time (e = shutter/360): what a camera at N times the frame
    rate with the same shutter angle would see. At 360 degrees these windows
    tile the exposure (at N = K, the training target and the blurred frame is
    their linear mean); at 180 degrees with N = 8 the first 4 times lie in the
    exposure and the last 4 in the closed-shutter gap.
    """

    blurred: np.ndarray  # [F, H, W, 3] degraded network encoding (the node's input)
    truth: np.ndarray  # [F, N, H, W, 3] network encoding
    motion: np.ndarray  # [F, H, W, 2] true motion px per frame interval, at pixels of frame f
    shutter_deg: float
    info: dict = field(default_factory=dict)


def make_clip_scene(
    rng: np.random.Generator,
    photos: list[Photo],
    size: tuple[int, int],
    times: list[float],
    scale: float,
    bg_disp: float,
    fg_disps: list[float],
    e: float,
    accel: float = 0.2,
) -> Scene:
    """A panning background with fast foreground objects on the training engine's trajectories.

    The background is a photo at ``scale`` of 720p seen over ``times``;
    ``bg_disp`` and ``fg_disps`` are px per exposure at crop scale. Accelerations
    are scaled by ``accel``: the engine's are drawn for a 3-frame window and
    would turn most motions round within a longer clip.
    """
    h, w = size
    photo = photos[rng.integers(len(photos))]
    lvl = 1 if scale < 0.8 and len(photo.levels) > 1 else 0
    img = photo.levels[lvl]
    s0 = scale * photo.heights[0] / photo.heights[lvl]
    ih, iw = img.shape[:2]
    u0 = np.array([rng.uniform(0.3, 0.7) * iw, rng.uniform(0.3, 0.7) * ih])
    traj = random_trajectory(rng, bg_disp, max(h, w), u0, np.array([w / 2, h / 2]), s0, e)
    traj = replace(traj, a=traj.a * accel, alpha=traj.alpha * accel)
    tex, traj = _crop_texture(img, traj, size, times)
    layers = [Layer(tex, None, traj)]
    for d in fg_disps:
        ltex = _foreground_texture(rng, photos, h, w, (0.3, 0.6), (0.8, 1.8))
        ph, pw = ltex.shape[:2]
        lc = np.array([rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h])  # crosses the middle at t = 0
        lt = random_trajectory(rng, d, max(ph, pw), np.array([pw / 2, ph / 2]), lc, 1.0, e)
        layers.append(Layer(ltex, _soft_matte(rng, ph, pw), replace(lt, a=lt.a * accel, alpha=lt.alpha * accel)))
    return Scene((h, w), layers)


def alternating_clips(
    config: str | None, held_out: bool, n: int, frames: int, sizes: tuple[int, ...], seed: int
) -> Iterator[tuple[float, int, Clip]]:
    """``n`` clips of the config's held-out (or training) photos, alternately at 360 degrees (factor K) and 180
    (factor 8), their sizes taken in turn from ``sizes``. Yields (shutter, factor, clip).

    8-bit inputs without noise or JPEG (``degrade`` off): the truth is clean, and noise put back by the reblur
    would read as detail (and upsets DIS). The benchmarks score held-out clips; fits of the node's own small
    models (the motion's trust) use training ones.
    """
    from unshutter.train.config import load_config
    from unshutter.train.photos import load_split

    cfg = load_config(config)
    photos = load_split(cfg["data"], held_out=held_out)
    spec = replace(DataSpec.from_config(cfg["data"]), degrade=False)
    rng = np.random.default_rng(seed)
    for i in range(n):
        shutter, factor = (360.0, K) if i % 2 == 0 else (180.0, 8)
        size = sizes[i % len(sizes)]
        yield shutter, factor, render_clip(rng, photos, spec, frames=frames, factor=factor, shutter=shutter, size=size)


def render_clip(
    rng: np.random.Generator,
    photos: list[Photo],
    spec: DataSpec,
    frames: int = 7,
    factor: int = K,
    shutter: float = 360.0,
    max_motion_720p: float = 100.0,
    size: int | None = None,
) -> Clip:
    """A clip of ``frames`` blurred frames (see :class:`Clip`); motion up to ``max_motion_720p`` px per exposure
    at 720p scale: a background pan of 10-45% of it and one or two foreground objects at 50-100%.

    Noise and JPEG come from ``spec`` (one draw for the clip, as one camera; none with ``spec.degrade``
    off, 8-bit quantisation only); ``size`` defaults to ``spec.crop``.
    """
    e = shutter / 360.0
    n = int(factor)
    hw = (size or spec.crop,) * 2
    times = [float(f) for f in range(-(frames // 2), frames - frames // 2)]
    seen = list(np.arange(times[0] - 1.0, times[-1] + 1.01, 0.5))  # where the background crop must reach
    scale = rng.uniform(0.6, 1.0)  # of 720p: decides the motion in crop px
    mm = max_motion_720p * scale
    bg = rng.uniform(0.1, 0.45) * mm
    fg = [rng.uniform(0.5, 1.0) * mm for _ in range(int(rng.integers(1, 3)))]
    scene = make_clip_scene(rng, photos, hw, seen, scale, bg, fg, e)
    win_disp = max([bg, *fg]) / n  # px over one truth window (e/N)
    s_fine = int(np.clip(math.ceil(win_disp / 3.0), 1, 6))  # samples 3 px apart at most on the fastest
    noise, jq = spec.draw_degradation(rng) if spec.degrade else ((0.0, 0.0), None)
    gain = (rng.uniform(0.7, 1.0) * rng.uniform(0.9, 1.1, 3)).astype(np.float32)
    gain /= max(1.0, float(gain.max()))

    def mean_over(t0: float, t1: float, m: int) -> np.ndarray:
        acc: Any = None
        for j in range(m):
            f = scene.render(t0 + (t1 - t0) * (j + 0.5) / m)
            acc = f if acc is None else acc + f
        return np.clip(acc / np.float32(m) * gain, 0.0, 1.0)

    blurred, truth, motion = [], [], []
    w = e / n  # truth window
    for t in times:
        opens = t - e / 2
        mids = [opens + (k + 0.5) / n for k in range(n)]
        slots = np.stack([mean_over(m - w / 2, m + w / 2, s_fine) for m in mids])  # [N, H, W, 3] linear
        if e == 1.0:  # the windows tile the exposure: the blurred frame is their mean
            blur = slots.mean(axis=0, dtype=np.float64).astype(np.float32)
        else:
            blur = mean_over(opens, opens + e, n * s_fine)  # the same sample spacing
        truth.append(to_network(slots, 1.0))
        blurred.append(_degrade(rng, blur, noise, jq))
        motion.append(scene.motion(t - 0.5, t + 0.5))
    info = {
        "scale_of_720p": round(float(scale), 3),
        "bg_disp": round(float(bg), 1),
        "fg_disp": [round(float(d), 1) for d in fg],
        "s_fine": s_fine,
        "noise": noise,
        "jpeg": jq,
    }
    return Clip(np.stack(blurred), np.stack(truth), np.stack(motion), float(shutter), info)


# --------------------------------------------------------------- augmentation


def _tf_img(x: np.ndarray, op: str) -> np.ndarray:
    """Geometric op on [..., H, W, C] arrays."""
    if op == "hflip":
        return x[..., :, ::-1, :]
    if op == "vflip":
        return x[..., ::-1, :, :]
    if op == "rot90":  # counter-clockwise: new[i, j] = old[j, W-1-i]
        return np.rot90(x, 1, axes=(-3, -2))
    raise ValueError(op)


def _tf_motion(m: np.ndarray, op: str) -> np.ndarray:
    """The same op on a motion field [H, W, 2] (moves pixels and transforms the vectors)."""
    m = _tf_img(m, op)
    out = np.empty_like(m)
    if op == "hflip":
        out[..., 0], out[..., 1] = -m[..., 0], m[..., 1]
    elif op == "vflip":
        out[..., 0], out[..., 1] = m[..., 0], -m[..., 1]
    else:  # rot90 ccw: (dx, dy) -> (dy, -dx)
        out[..., 0], out[..., 1] = m[..., 1], -m[..., 0]
    return out


def transform(s: Sample, op: str) -> Sample:
    """A geometric op ('hflip', 'vflip', 'rot90') or 'reverse' (time reversal) of a sample."""
    if op == "reverse":
        return replace(
            s,
            gt=s.gt[::-1].copy(),
            prev=s.next,
            next=s.prev,
            motion_gt=-s.motion_gt,
            motion_nb=None if s.motion_nb is None else -s.motion_nb,
        )
    c = lambda a: np.ascontiguousarray(_tf_img(a, op))  # noqa: E731
    return replace(
        s,
        blurred=c(s.blurred),
        blurred_clean=c(s.blurred_clean),
        gt=c(s.gt),
        prev=c(s.prev),
        next=c(s.next),
        motion_gt=np.ascontiguousarray(_tf_motion(s.motion_gt, op)),
        motion_nb=None if s.motion_nb is None else np.ascontiguousarray(_tf_motion(s.motion_nb, op)),
    )


def augment(rng: np.random.Generator, s: Sample) -> Sample:
    """Random flips, 90-degree rotation and time reversal."""
    for op in ("hflip", "vflip", "rot90", "reverse"):
        if rng.random() < 0.5:
            s = transform(s, op)
    return s


# --------------------------------------------------------------- guidance


GUIDANCE_MODES = ("neighbors", "gt", "direction", "none", "noisy_gt")


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int = 4) -> np.ndarray:
    """Low-frequency noise field in about [-1, 1]. Shape: -> [H, W, 2]."""
    g = rng.standard_normal((cells, cells, 2)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


def make_guidance(rng: np.random.Generator | None, s: Sample, mode: str) -> np.ndarray:
    """The guidance tensor for a sample. Shape: -> [H, W, 6] (see the contract)."""
    h, w = s.blurred.shape[:2]
    if mode == "none":
        return empty_guidance(h, w)
    if mode == "gt":
        return guidance_from_motion(s.motion_gt, s.shutter_deg)
    if mode == "neighbors":
        if s.motion_nb is None:
            raise ValueError("sample has no neighbour motion")
        g = guidance_from_motion(s.motion_nb, s.shutter_deg)
        if rng is not None and rng.random() < 0.15:  # a region without guidance
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            g[y0 : y0 + h // 2, x0 : x0 + w // 2] = 0.0
        return g
    if mode == "noisy_gt":
        assert rng is not None
        m = s.motion_gt
        mag = float(np.sqrt((m**2).sum(-1)).mean())
        m = m * np.float32(rng.uniform(0.7, 1.3)) + _smooth_noise(rng, h, w) * np.float32(0.2 * mag + 0.3)
        return guidance_from_motion(m.astype(np.float32), s.shutter_deg)
    if mode == "direction":  # a global quadrant, no magnitude (like a user override)
        g = empty_guidance(h, w)
        mm = np.median(s.motion_gt.reshape(-1, 2), axis=0).reshape(1, 1, 2).astype(np.float32)
        full = guidance_from_motion(np.broadcast_to(mm, (h, w, 2)).copy(), s.shutter_deg, clean=False)
        g[..., GX] = full[..., GX]
        g[..., GY] = full[..., GY]
        g[..., GVALID] = 1.0
        return g
    raise ValueError(f"unknown guidance mode {mode!r}; known: {', '.join(GUIDANCE_MODES)}")


def pick_mode(rng: np.random.Generator, probs: dict[str, float]) -> str:
    names = list(probs)
    p = np.array([probs[n] for n in names], np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


# --------------------------------------------------------------- torch dataset


class SyntheticStream:
    """Endless iterator of (blurred, guidance, gt, blurred_clean, none_flag) CHW arrays.

    Each worker seeds from (seed, worker id, epoch counter) so runs are
    reproducible for a given worker count.
    """

    def __init__(self, photos: list[Photo], spec: DataSpec, guidance_probs: dict[str, float], seed: int) -> None:
        self.photos = photos
        self.spec = spec
        self.probs = guidance_probs
        self.seed = seed

    def generate(self, rng: np.random.Generator) -> dict[str, np.ndarray | np.float32]:
        s = augment(rng, render_sample(rng, self.photos, self.spec))
        mode = pick_mode(rng, self.probs)
        g = make_guidance(rng, s, mode)
        if mode not in ("none",) and rng.random() < 0.05:  # guidance dropout on a whole sample
            g = empty_guidance(*g.shape[:2])
            mode = "none"
        return {
            "blurred": np.ascontiguousarray(s.blurred.transpose(2, 0, 1)),
            "guidance": np.ascontiguousarray(g.transpose(2, 0, 1)),
            "gt": np.ascontiguousarray(s.gt.transpose(0, 3, 1, 2)),
            "clean": np.ascontiguousarray(s.blurred_clean.transpose(2, 0, 1)),
            "unguided": np.float32(mode == "none"),
            # true motion over the exposure in guidance units (px / MOTION_SCALE), for the motion estimator
            "motion": np.ascontiguousarray(
                (s.motion_gt * np.float32(s.shutter_deg / 360.0 / MOTION_SCALE)).transpose(2, 0, 1)
            ),
        }
