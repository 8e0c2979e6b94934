"""Per-shot guidance overrides from a sidecar file (YAML/JSON, or labelme JSON).

Overrides win over flow guidance. Order of application for a frame:
flow (or ``--guidance``) -> shot ``direction`` -> shot ``reverse`` -> shot
``motion`` -> each region in file order (motion vectors and regions state
true directions, so ``reverse`` does not flip them).

A region with only a ``direction`` forces the quadrant and keeps the flow's
motion size. A region with a motion vector (``motion: [dx, dy]``, or
``direction`` plus ``length``, in px per exposure at full resolution, each
optionally keyframed ``{frame: value}``) replaces the flow there, blended
over a feathered edge (``feather`` px, default :data:`DEFAULT_FEATHER`);
with ``keep_flow_detail`` it moves the flow's mean over the region to the
vector and keeps the flow's variation inside (:func:`shift_motion`).

Files are bounded (:data:`MAX_FILE_BYTES`, :data:`MAX_REGIONS`,
:data:`MAX_VERTICES`) and every number must be finite: a hostile file gets a
one-line error, not a runaway run.

Polygons and mattes are given at the shot's full resolution. A frame that is
rendered smaller (an OpenFX host's proxy render scale) is handled by
:meth:`Overrides.apply`'s ``scale``: polygons are scaled per axis and mattes
are resized to the frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import cv2
import numpy as np
import yaml

from unshutter.decomposer.contract import LABEL_TO_SIGNS, STATIC_THRESHOLD_PX
from unshutter.errors import InputError, OverrideError
from unshutter.guidance import encode
from unshutter.guidance.motion_pass import MotionPass
from unshutter.guidance.residual import residual_along
from unshutter.guidance.tracks import MotionTrack, track_from

if TYPE_CHECKING:
    from unshutter.io.sequence import SequencePattern


MAX_FILE_BYTES = 16 << 20
"""Largest override or labelme file read (a hand-drawn shot needs kilobytes)."""
MAX_REGIONS = 20_000
"""Most regions (or labelme shapes) in one override file."""
MAX_VERTICES = 1_000_000
"""Most polygon vertices in one override file, its labelme files included."""
MAX_COORDINATE = 1_000_000.0
"""Largest polygon coordinate magnitude, in px (the schema says the same)."""
DEFAULT_FEATHER = 8.0
"""Soft edge of a motion-vector region, in px at full resolution (0: hard edge)."""
MANY_REGIONS = 8
"""Above this many regions applied on a frame, the guidance log counts them instead of naming each."""
MATCH_WINDOW = 9
"""Side (px) of the box :func:`neighbour_match` averages the residuals over (that of the flow's trust)."""
MATCH_REL = 0.25
"""A neighbour matched along the motion with this fraction of the change at rest left over: half the trust."""
MATCH_FLOOR = 2.0
"""Grey levels of residual that count as a match whatever the change at rest (flat or nearly still pixels)."""


def _parse_frames(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value, value
    text = str(value).replace(" ", "")
    head, sep, tail = text[1:].partition("-")
    a = int(text[0] + head)
    b = int(tail) if sep else a
    return (a, b) if a <= b else (b, a)


def _signs(direction: Any) -> tuple[float, float]:
    if isinstance(direction, int):
        sx, sy = LABEL_TO_SIGNS[direction]
        return float(sx), float(sy)
    return encode.DIRECTIONS[direction]


@dataclass
class Region:
    signs: tuple[float, float]
    frames: tuple[int, int] | None
    polygons: list[np.ndarray] = field(default_factory=list)  # each [P, 2] pixels
    matte: str | None = None  # sequence spec, resolved relative to the override file
    invert: bool = False
    name: str = ""
    motion: MotionTrack | None = None  # px per exposure at full resolution; None: direction only
    feather: float = DEFAULT_FEATHER  # px at full resolution, for motion regions
    whole_frame: bool = False  # no polygon or matte: every pixel
    keep_flow_detail: bool = False  # a motion region over known motion moves its mean to the vector (shift_motion)
    motion_pass: MotionPass | bool | None = None  # per-pixel motion from a pass; True: the node's (--motion-pass)

    def active(self, frame: int) -> bool:
        return self.frames is None or self.frames[0] <= frame <= self.frames[1]

    def matte_path(self, frame: int) -> Path | None:
        """The matte file this region reads on ``frame`` (None without a matte)."""
        if self.matte is None:
            return None
        pat = _matte_pattern(self.matte)
        return Path(self.matte) if pat is None else pat.path(frame)

    def mask(self, frame: int, h: int, w: int, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
        """The region on a frame rendered at ``scale`` (x, y) of full resolution.

        Shape: -> [H, W] float32 in {0, 1}.
        """
        m = np.zeros((h, w), np.float32)
        if self.whole_frame:
            m[:] = 1.0
        if self.polygons:
            cv2.fillPoly(m, self._points(scale), 1.0)
        path = self.matte_path(frame)
        if path is not None:
            m = np.maximum(m, _matte(path, frame, h, w, self.name, scale))
        if self.invert:
            m = 1.0 - m
        return m

    def _points(self, scale: tuple[float, float], origin: tuple[int, int] = (0, 0)) -> list[np.ndarray]:
        """The polygons in this frame's pixels (``scale`` x, y), relative to ``origin`` (x, y)."""
        factor = np.asarray(scale, np.float64)  # full-resolution pixels -> this frame's pixels
        shift = np.asarray(origin, np.float64)
        return [(np.round(p * factor) - shift).astype(np.int32) for p in self.polygons]

    def coverage(
        self, frame: int, h: int, w: int, scale: tuple[float, float] = (1.0, 1.0)
    ) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """Where the region lies on the frame: a window and its weights, None when it misses the frame.

        Polygon-only regions are drawn in their bounding box, so thousands
        of small regions cost what their area costs. Motion regions get a
        feathered edge (weights fall from 1 to 0 across it; 0.5 on the drawn
        outline); direction-only regions are hard {0, 1}.

        Shape: -> ((rows, cols), [h', w'] float32 in [0, 1])
        """
        soft = (self.motion is not None or bool(self.motion_pass)) and self.feather > 0
        radius = self.feather * 0.5 * (scale[0] + scale[1]) if soft else 0.0
        pad = int(np.ceil(1.5 * radius)) + 1 if soft else 0
        if self.polygons and self.matte is None and not self.invert and not self.whole_frame:
            pts_full = self._points(scale)
            lo = np.min([p.min(axis=0) for p in pts_full], axis=0) - pad
            hi = np.max([p.max(axis=0) for p in pts_full], axis=0) + pad + 1
            x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
            x1, y1 = min(int(hi[0]), w), min(int(hi[1]), h)
            if x0 >= x1 or y0 >= y1:
                return None
            m = np.zeros((y1 - y0, x1 - x0), np.float32)
            cv2.fillPoly(m, [p - np.array([x0, y0], np.int32) for p in pts_full], 1.0)
            window = (slice(y0, y1), slice(x0, x1))
        else:
            m = self.mask(frame, h, w, scale)
            window = (slice(0, h), slice(0, w))
        if soft and not self.whole_frame:
            m = feather_mask(m, radius)
        if not m.any():
            return None
        return window, m


def feather_mask(m: np.ndarray, radius: float) -> np.ndarray:
    """A {0, 1} mask with a soft edge ``radius`` px wide on each side of its outline (0.5 on it).

    A Gaussian of sigma radius/2 on the mask: weights reach ~1 and ~0 at
    ``radius`` inside and outside. Shape: [H, W] -> [H, W] float32.
    """
    sigma = max(radius, 1e-3) * 0.5
    return cv2.GaussianBlur(m, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def neighbour_match(
    motion: np.ndarray, cur: np.ndarray, prev: np.ndarray | None, nxt: np.ndarray | None
) -> np.ndarray | None:
    """How far the neighbouring frames bear out a motion an artist gave, per pixel: 1 to 0; None without neighbours.

    The node carries its sub-frames along the motion as far as it trusts it.
    An override's vector is right for the thing the artist drew, but a drawn
    region also holds what does not move with it: a railing in front of the
    car, background the car uncovers, parts of a smooth motion field that one
    vector does not fit. Carried along the vector those smear (``unshutter
    bench vectors``: 0.6 dB lost on bikes' drawn objects). Where the motion is
    right, a neighbour moved back along it matches the frame better than it
    does at rest; so the residual along the motion (the better neighbour, mean
    over a box) is weighed against the change at rest: trust 1 / (1 + (r /
    tau)^2) with tau = max(:data:`MATCH_FLOOR`, :data:`MATCH_REL` x the
    change at rest), the evidence the flow's own trust weighs too.

    Shape: motion [H, W, 2] px per frame interval, cur, prev, nxt [H, W] uint8 -> [H, W] float32
    """
    others = [(n, s) for n, s in ((nxt, 1.0), (prev, -1.0)) if n is not None]
    if not others:
        return None
    c = cur.astype(np.float32)
    along: np.ndarray | None = None
    rest = np.zeros(cur.shape, np.float32)
    for n, sign in others:
        r = residual_along(c, n, motion, sign, MATCH_WINDOW)
        along = r if along is None else np.minimum(along, r)
        rest += np.abs(c - n.astype(np.float32))
    assert along is not None
    rest = cv2.blur(rest * np.float32(1.0 / len(others)), (MATCH_WINDOW, MATCH_WINDOW))
    tau = np.maximum(np.float32(MATCH_FLOOR), np.float32(MATCH_REL) * rest)
    along /= tau
    return (np.float32(1.0) / (np.float32(1.0) + along * along)).astype(np.float32)


@lru_cache(maxsize=256)
def _matte_pattern(spec: str) -> SequencePattern | None:
    """The sequence pattern of a matte spec, None for a single file.

    Parsed once per spec (pure string work): signatures and masks ask for every frame.
    """
    from unshutter.io import sequence

    if not sequence.is_sequence_spec(spec):
        return None
    return sequence.parse_pattern(spec)[0]


def _unscaled(scale: tuple[float, float]) -> bool:
    return abs(scale[0] - 1.0) < 1e-9 and abs(scale[1] - 1.0) < 1e-9


def _matte(path: Path, frame: int, h: int, w: int, name: str, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """A region's matte for ``frame``, as a {0, 1} mask of the frame's size.

    At full resolution the matte must have the frame's size. At a render
    scale below or above 1 it must have the full-resolution size (the
    frame's size divided by the scale, give or take a pixel of rounding) and
    is resized to the frame.
    """
    from unshutter.io.image_file import read_image

    if not path.exists():
        raise OverrideError(f"{path}: matte for region {name or '?'} missing at frame {frame}")
    pixels, meta = read_image(path)
    names = [n.upper() for n in meta.channel_names]
    chan = names.index("A") if "A" in names else 0
    plane = np.ascontiguousarray(pixels[..., chan], np.float32)
    if (meta.width, meta.height) == (w, h):
        return (plane >= 0.5).astype(np.float32)
    sx, sy = scale
    if _unscaled(scale) or abs(meta.width * sx - w) > 1.0 or abs(meta.height * sy - h) > 1.0:
        at = "" if _unscaled(scale) else f" at render scale {sx:g}x{sy:g}"
        raise OverrideError(f"{path}: matte is {meta.width}x{meta.height}, frame is {w}x{h}{at}")
    shrink = w < meta.width or h < meta.height
    plane = cv2.resize(plane, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return (plane >= 0.5).astype(np.float32)


@dataclass
class Overrides:
    """A validated override file, applied per frame by :meth:`apply`."""

    source: str
    reverse: bool = False
    reverse_frames: tuple[int, int] | None = None
    direction: tuple[float, float] | None = None
    direction_frames: tuple[int, int] | None = None
    regions: list[Region] = field(default_factory=list)
    labelme_files: list[str] = field(default_factory=list)  # read for the regions' polygons, as resolved
    motion: Region | None = None  # the shot's whole-frame motion vector

    scale: tuple[float, float] = (1.0, 1.0)  # the default render scale of :meth:`apply`

    def apply(
        self,
        g: np.ndarray,
        frame: int,
        scale: tuple[float, float] | None = None,
        threshold: float = STATIC_THRESHOLD_PX,
        shutter: float = 360.0,
        node_pass: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Apply to guidance ``g`` [H, W, 6] of ``frame``; returns it and what was applied.

        ``node_pass`` [H, W, 2] is the node's motion pass on this frame (px per frame interval at g's size),
        which regions with ``motion_pass: true`` take inside their shape; ``shutter`` (degrees) turns a
        pass's motion per frame interval into motion per exposure.

        ``scale`` (x, y) is the frame's size relative to the full resolution
        the file's polygons, mattes and motion vectors are given at (an
        OpenFX proxy render at half size: ``(0.5, 0.5)``); None uses
        :attr:`scale`. ``threshold`` (px per exposure) is the node's static
        threshold, which decides the quadrant of a short vector.
        """
        sx, sy = self.scale if scale is None else scale
        if not (sx > 0 and sy > 0 and np.isfinite(sx) and np.isfinite(sy)):
            raise ValueError(f"render scale must be positive, got {sx!r}x{sy!r}")
        sc = (float(sx), float(sy))
        h, w = g.shape[:2]
        used: list[str] = []
        if self.direction is not None and _within(frame, self.direction_frames):
            encode.apply_direction(g, np.ones((h, w), np.float32), self.direction)
            used.append("direction")
        if self.reverse and _within(frame, self.reverse_frames):
            g = encode.reverse(g)
            used.append("reverse")
        if self.motion is not None and _apply_region(g, self.motion, frame, sc, threshold):
            used.append("motion")
        expo = np.float32(shutter / 360.0)
        passes: dict[object, np.ndarray] = {}

        def field(r: Region) -> np.ndarray:
            """The region's pass on this frame, px per exposure at g's size (read once per frame and pass)."""
            key: object = "node" if r.motion_pass is True else r.motion_pass
            if key not in passes:
                if r.motion_pass is True:
                    if node_pass is None:
                        raise OverrideError(f"{self.source}: region {r.name}: motion_pass: true needs --motion-pass")
                    passes[key] = node_pass * expo
                else:
                    assert isinstance(r.motion_pass, MotionPass)
                    passes[key] = r.motion_pass.motion(frame, h, w) * expo
            return passes[key]

        names = [
            f"region:{r.name or i}"
            for i, r in enumerate(self.regions)
            if _apply_region(g, r, frame, sc, threshold, field if r.motion_pass else None)
        ]
        used += names if len(names) <= MANY_REGIONS else [f"{len(names)} regions"]
        return g, used

    def files_read(self, frame: int) -> list[Path]:
        """Every file besides the override file itself that decides ``frame``'s guidance.

        The labelme files the polygons came from, then the mattes of the
        regions active on ``frame``. Render signatures hash them, so editing a
        matte re-renders the frames it covers.
        """
        files = [Path(p) for p in self.labelme_files]
        for r in self.regions:
            path = r.matte_path(frame) if r.active(frame) else None
            if path is not None:
                files.append(path)
            if isinstance(r.motion_pass, MotionPass) and r.active(frame):
                files.append(r.motion_pass.path(frame))
        return files

    def uses_node_pass(self) -> bool:
        """Whether a region takes the node's motion pass (``motion_pass: true``)."""
        return any(r.motion_pass is True for r in self.regions)

    def outside(self, first: int, last: int) -> list[tuple[str, tuple[int, int]]]:
        """The overrides whose frame range misses source frames ``first``-``last`` entirely: (what, range).

        They change nothing on that clip; most often the range was written in
        output frame numbers or for another cut of the shot.
        """
        named: list[tuple[str, tuple[int, int] | None]] = []
        if self.reverse:
            named.append(("reverse", self.reverse_frames))
        if self.direction is not None:
            named.append(("direction", self.direction_frames))
        if self.motion is not None:
            named.append(("motion", self.motion.frames))
        named += [(f"region {r.name}", r.frames) for r in self.regions]
        return [(what, rng) for what, rng in named if rng is not None and (rng[1] < first or rng[0] > last)]

    def outside_every(self, ranges: list[tuple[int, int]]) -> list[tuple[str, tuple[int, int]]]:
        """The overrides whose frame range misses every one of ``ranges`` (first, last): (what, range).

        One override file given for several clips (``unshutter timeline``)
        may well miss some of them; one that misses them all changes nothing.
        """
        if not ranges:
            return []
        missed = [set(self.outside(a, b)) for a, b in ranges]
        return [item for item in self.outside(*ranges[0]) if all(item in m for m in missed)]

    def outside_warning(self, path: str | Path, first: int, last: int) -> str | None:
        """The one-line warning every host shows when some ranges miss source frames ``first``-``last``; else None.

        ``path`` names the override file in it. Hosts prefix it their own way
        (``unshutter: warning:`` on a terminal, a warning report in Blender,
        a persistent warning message in an OpenFX host).
        """
        missed = self.outside(first, last)
        if not missed:
            return None
        ranges = ", ".join(f"{what} {a}-{b}" for what, (a, b) in missed)
        return (
            f"{path}: {ranges} outside the clip's source frames {first}-{last}: "
            "no effect (override frames are source frame numbers)"
        )

    def at_scale(self, sx: float, sy: float) -> Overrides:
        """The same overrides, applied by default to frames rendered at scale (``sx``, ``sy``)."""
        return replace(self, scale=(float(sx), float(sy)))


def _within(frame: int, rng: tuple[int, int] | None) -> bool:
    return rng is None or rng[0] <= frame <= rng[1]


def _apply_region(
    g: np.ndarray,
    r: Region,
    frame: int,
    scale: tuple[float, float],
    threshold: float,
    field: Callable[[Region], np.ndarray] | None = None,
) -> bool:
    """Apply one region to ``g`` [H, W, 6] in place; False when it is inactive or off the frame.

    ``field(r)``: a pass region's motion, [H, W, 2] px per exposure at g's size."""
    if not r.active(frame):
        return False
    h, w = g.shape[:2]
    cov = r.coverage(frame, h, w, scale)
    if cov is None:
        return False
    (rows, cols), weight = cov
    if field is not None:
        encode.apply_motion(g[rows, cols], weight, field(r)[rows, cols], threshold)
    elif r.motion is None:
        encode.apply_direction(g[rows, cols], weight, r.signs)
    else:
        dx, dy = r.motion.at(frame)
        vector = (dx * scale[0], dy * scale[1])
        if r.keep_flow_detail:
            shift_motion(g[rows, cols], weight, vector, threshold)
        else:
            encode.apply_motion(g[rows, cols], weight, vector, threshold)
    return True


def shift_motion(g: np.ndarray, weight: np.ndarray, vector: tuple[float, float], threshold: float) -> None:
    """Move the known motion's mean over the region to ``vector``, keeping its variation (in place).

    A region's ``keep_flow_detail``. The flow often gets an object's motion
    wrong as a whole (too short, or reversed) while its variation inside
    the object (a car's perspective, a turning wheel, the parts of a smooth
    field) is real, and the network uses that variation: the motion becomes
    ``old + weight * (vector - mean)``, the mean taken over the drawn region
    (``weight`` >= 0.5) where the size is known. Where it is not (no
    guidance, a direction only) the vector takes the pixels as
    :func:`encode.apply_motion` does.

    Shape: g [H, W, 6], weight [H, W] in [0, 1]; ``vector`` px per exposure at this frame's resolution
    """
    from unshutter import kernels
    from unshutter.decomposer.contract import GVALID, GX, GY, MOTION_SCALE, MVALID, MX, MY

    known = g[..., MVALID] >= 0.5
    inside = known & (weight >= 0.5)
    if inside.any():
        old = np.asarray(g[..., MX : MY + 1], np.float32)  # [H, W, 2] in MOTION_SCALE units
        delta = np.asarray(vector, np.float32) / np.float32(MOTION_SCALE) - old[inside].mean(axis=0)
        sel = known & (weight > 0)
        new = old[sel] + weight[sel][:, None].astype(np.float32) * delta  # [S, 2]
        signs = kernels.quantize_motion(np.ascontiguousarray(new[None] * np.float32(MOTION_SCALE)), threshold)[0]
        g[sel, GX] = signs[:, 0]
        g[sel, GY] = signs[:, 1]
        g[sel, GVALID] = 1.0
        g[sel, MX] = new[:, 0]
        g[sel, MY] = new[:, 1]
        g[sel, MVALID] = 1.0
        weight = np.where(known, np.float32(0.0), weight)  # the pixels without a size are left to the vector
    encode.apply_motion(g, weight, vector, threshold)


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("unshutter").joinpath("schemas/overrides.schema.json").read_text()
    return json.loads(text)


def _error_path(err: Any) -> str:
    return _format_path(err.absolute_path)


def _best_error(errors: list[Any]) -> Any:
    import jsonschema

    return jsonschema.exceptions.best_match(errors)


def load_overrides(path: str | Path, locate: Callable[[str], str] | None = None) -> Overrides:
    """Read and validate an override file; errors name the file and the field.

    ``locate`` turns a matte or labelme name as written in the file into the
    path to read (a farm task resolves it against where the file was submitted
    and applies the session's path mapping); by default a relative name is
    relative to the file's folder.
    """
    path = Path(path)
    data = _read_document(path, str(path))
    if isinstance(data, dict) and "shapes" in data:
        return _from_labelme(path, data)
    if not isinstance(data, dict):
        raise OverrideError(f"{path}: override file must hold a mapping at the top level")
    regions = data.get("regions")
    if isinstance(regions, list) and len(regions) > MAX_REGIONS:
        raise OverrideError(f"{path}: regions: {len(regions)} regions, more than the limit of {MAX_REGIONS}")
    lean, polygons = _take_polygons(data)
    _validate(str(path), lean, _schema())
    ov = Overrides(str(path))
    rev = data.get("reverse", False)
    if isinstance(rev, dict):
        ov.reverse, ov.reverse_frames = True, _parse_frames(rev["frames"])
    else:
        ov.reverse = bool(rev)
    d = data.get("direction")
    if isinstance(d, dict):
        ov.direction, ov.direction_frames = _signs(d["value"]), _parse_frames(d.get("frames"))
    elif d is not None:
        ov.direction = _signs(d)
    m = data.get("motion")
    if m is not None:
        value, frames = (m["value"], m.get("frames")) if isinstance(m, dict) and "value" in m else (m, None)
        whole = track_from(motion=value)
        ov.motion = Region(_vector_signs(whole), _parse_frames(frames), name="motion", motion=whole, whole_frame=True)
    vertices = 0
    for i, r in enumerate(data.get("regions", [])):
        name = r.get("name", str(i))
        polys = list(polygons.get(i, []))
        matte = _locate(path, r["matte"], locate) if "matte" in r else None
        if "labelme" in r:
            lm = Path(_locate(path, r["labelme"], locate))
            ov.labelme_files.append(str(lm))
            polys += _labelme_polygons(lm, f"{path}: regions[{i}].labelme: {lm}")
        vertices += sum(len(p) for p in polys)
        if vertices > MAX_VERTICES:
            raise OverrideError(
                f"{path}: regions[{i}]: {vertices} polygon vertices so far, more than the limit of {MAX_VERTICES}"
            )
        track = None
        mpass = _region_pass(path, i, r.get("motion_pass"), locate)
        if "motion" in r:
            track = track_from(motion=r["motion"])
        elif "length" in r:
            if _signs(r["direction"]) == (0.0, 0.0):
                raise OverrideError(
                    f"{path}: regions[{i}].length: a static region has no length (drop it, or give a moving direction)"
                )
            track = track_from(direction=r["direction"], length=r["length"])
        if r.get("keep_flow_detail") and (track is None or mpass is not None):
            raise OverrideError(
                f"{path}: regions[{i}].keep_flow_detail: only a region with a motion vector (motion, or direction "
                "and length) keeps the flow's detail"
            )
        if mpass is None:
            signs = _vector_signs(track) if track is not None else _signs(r["direction"])
        else:
            signs = (0.0, 0.0)  # per pixel, from the pass

        ov.regions.append(
            Region(
                signs,
                _parse_frames(r.get("frames")),
                polys,
                matte,
                bool(r.get("invert", False)),
                name,
                track,
                float(r.get("feather", DEFAULT_FEATHER)),
                keep_flow_detail=bool(r.get("keep_flow_detail", False)),
                motion_pass=mpass,
            )
        )
    return ov


def _region_pass(path: Path, i: int, value: Any, locate: Callable[[str], str] | None) -> MotionPass | bool | None:
    """A region's ``motion_pass``: True (the node's pass), or its own pass (a file pattern relative to the
    override file, or ``{file, channels, y, points, units}``); None without. Errors name the field."""
    if value is None or value is False:
        return None
    if value is True:
        return True
    from unshutter.errors import ParameterError

    where = f"{path}: regions[{i}].motion_pass"
    spec = value if isinstance(value, dict) else {"file": value}
    channels = spec.get("channels")
    try:
        return MotionPass(
            _locate(path, spec["file"], locate),
            (str(channels[0]), str(channels[1])) if channels else None,
            spec.get("y", "up"),
            spec.get("points", "auto"),
            spec.get("units", "px"),
            where,
        )
    except ParameterError as exc:
        raise OverrideError(str(exc)) from None


_STAND_IN = [[0, 0], [0, 0], [0, 0]]


def _clean_polygon(poly: Any) -> np.ndarray | None:
    """``poly`` as [P, 2] float64 if it is plainly valid (what the schema would pass), else None."""
    if not (isinstance(poly, list) and len(poly) >= 3):
        return None
    num = (int, float)
    if not all(type(v) is list and len(v) == 2 and type(v[0]) in num and type(v[1]) in num for v in poly):
        return None
    arr = np.asarray(poly, np.float64)
    return arr if float(np.abs(arr).max()) <= MAX_COORDINATE else None


def _take_polygons(data: dict[str, Any]) -> tuple[dict[str, Any], dict[int, list[np.ndarray]]]:
    """The regions' plainly valid polygons as arrays, and ``data`` with small stand-ins in their place.

    JSON Schema checks each vertex in Python, a few hundred microseconds per
    region; the arrays are checked here in bulk and the schema still
    validates the rest (and reports, naming the vertex, whatever is not
    plainly valid). Shape: -> {region index: [[P, 2], ...]}.
    """
    regions = data.get("regions")
    if not isinstance(regions, list):
        return data, {}
    out: dict[int, list[np.ndarray]] = {}
    lean = []
    for i, r in enumerate(regions):
        if not isinstance(r, dict):
            lean.append(r)
            continue
        r = dict(r)
        polys: list[np.ndarray] = []
        if "polygon" in r and (arr := _clean_polygon(r["polygon"])) is not None:
            polys.append(arr)
            r["polygon"] = _STAND_IN
        if isinstance(r.get("polygons"), list):
            arrs = [_clean_polygon(p) for p in r["polygons"]]
            if r["polygons"] and all(a is not None for a in arrs):
                polys += arrs  # type: ignore[arg-type]
                r["polygons"] = [_STAND_IN]
        if isinstance(r.get("name"), str):
            r["name"] = ""
        out[i] = polys
        lean.append(r)
    return {**data, "regions": lean}, out


def _unique_regions(data: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """``data`` with each distinct (lean) region once, and the file index of each one kept.

    Thousands of regions that differ only in their polygons validate as one.
    """
    regions = data.get("regions")
    if not isinstance(regions, list):
        return data, []
    seen: dict[str, int] = {}
    for i, r in enumerate(regions):
        seen.setdefault(json.dumps(r, sort_keys=True, default=str), i)
    index = list(seen.values())
    return {**data, "regions": [regions[i] for i in index]}, index


def _vector_signs(track: MotionTrack) -> tuple[float, float]:
    """The quadrant of a track's first key (:meth:`Overrides.apply` quantises each frame's vector itself)."""
    return encode.vector_signs(*track.values[0])


def _read_document(path: Path, where: str) -> Any:
    """The parsed YAML/JSON of an override or labelme file, bounded in size and with finite numbers only.

    ``where`` starts every error message (the file, or the field that named it).
    """
    try:
        if not path.is_file():
            raise OverrideError(f"{where}: not found, or not a regular file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise OverrideError(
                f"{where}: {size / 1e6:.1f} MB, more than the limit of "
                f"{MAX_FILE_BYTES / 1e6:.0f} MB for an override file"
            )
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise OverrideError(f"{where}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise OverrideError(f"{where}: more than the limit of {MAX_FILE_BYTES / 1e6:.0f} MB for an override file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OverrideError(f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    try:
        data = yaml.safe_load(text) if is_yaml else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OverrideError(f"{where}: not valid {'YAML' if is_yaml else 'JSON'} ({first})") from None
    data = _frame_keys_as_text(data)
    bad = _first_non_finite(data, [])
    if bad is not None:
        at, value = bad
        raise OverrideError(f"{where}: {_format_path(at)}: {value} is not a finite number")
    return data


def _frame_keys_as_text(data: Any) -> Any:
    """YAML reads ``1001: [40, 0]`` with an int key; keyframes are validated (and JSON written) as text keys."""
    if isinstance(data, dict):
        return {
            (str(k) if isinstance(k, int) and not isinstance(k, bool) else k): _frame_keys_as_text(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_frame_keys_as_text(v) for v in data]
    return data


def _first_non_finite(data: Any, at: list[Any]) -> tuple[list[Any], float] | None:
    """The path and value of the first NaN or infinity in a parsed document (JSON and YAML both allow them)."""
    if isinstance(data, float):
        return None if np.isfinite(data) else (at, data)
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return None
    for k, v in items:
        if isinstance(v, (dict, list, float)):
            hit = _first_non_finite(v, at + [k])
            if hit is not None:
                return hit
    return None


def _format_path(parts: Any) -> str:
    out: list[str] = []
    for p in parts:
        out.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p)))
    return "".join(out) or "(top level)"


@lru_cache(maxsize=4)
def _validator(schema_text: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(schema_text))


def _validate(where: str, data: Any, schema: dict[str, Any]) -> None:
    index: list[int] = []
    if schema is _schema():
        data, index = _unique_regions(data)
    errors = list(_validator(json.dumps(schema, sort_keys=True)).iter_errors(data))
    if errors:
        err = _best_error(errors)
        at = list(err.absolute_path)
        if index and len(at) >= 2 and at[0] == "regions" and isinstance(at[1], int):
            at[1] = index[at[1]]  # back to the region's place in the file
        raise OverrideError(f"{where}: {_format_path(at)}: {err.message}")


_COORDINATE = {"type": "number", "minimum": -MAX_COORDINATE, "maximum": MAX_COORDINATE}
LABELME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["shapes"],
    "properties": {
        "shapes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": ["string", "integer"]},
                    "shape_type": {"type": ["string", "null"]},
                    "points": {
                        "type": "array",
                        "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": _COORDINATE},
                    },
                },
            },
        }
    },
}
"""What Unshutter reads of a labelme file (labelme writes more; the rest is ignored)."""


def _labelme_data(path: Path, where: str) -> dict[str, Any]:
    return _check_labelme(where, _read_document(path, where))


def _check_labelme(where: str, data: Any) -> dict[str, Any]:
    """``data`` if it is a labelme document within the limits; errors start with ``where``."""
    shapes = data.get("shapes") if isinstance(data, dict) else None
    if isinstance(shapes, list) and len(shapes) > MAX_REGIONS:
        raise OverrideError(f"{where}: shapes: {len(shapes)} shapes, more than the limit of {MAX_REGIONS}")
    _validate(where, data, LABELME_SCHEMA)
    return data


def _labelme_polygons(path: Path, where: str) -> list[np.ndarray]:
    """The polygons of a labelme file named by a region (labels are ignored: the region gives the motion)."""
    data = _labelme_data(path, where)
    polys = []
    for i, shape in enumerate(data["shapes"]):
        if (shape.get("shape_type") or "polygon") != "polygon":
            continue
        pts = np.asarray(shape.get("points", []), np.float64).reshape(-1, 2)
        if len(pts) < 3:
            raise OverrideError(f"{where}: shapes[{i}].points: need at least 3 points")
        polys.append(pts)
    return polys


def _locate(path: Path, name: str, locate: Callable[[str], str] | None) -> str:
    """The path to read for a matte or labelme ``name`` written in override file ``path``."""
    if locate is not None:
        return locate(name)
    p = Path(name)
    return str(p if p.is_absolute() else path.parent / p)


def _labelme_motion(label: str) -> tuple[float, float] | None:
    """A labelme label that gives a vector: ``40,0`` / ``motion 40 0`` (dx, dy) or ``right 40`` (direction, length)."""
    from unshutter.guidance.tracks import MAX_MOTION_PX, parse_vector, unit_of

    text = label.removeprefix("motion").strip(" :=")
    try:
        return parse_vector(text, "label")
    except ValueError:
        pass
    head, _, tail = text.rpartition(" ")
    unit = unit_of(head.strip())
    try:
        length = float(tail)
    except ValueError:
        return None
    if unit is None or not (0 <= length <= MAX_MOTION_PX):
        return None
    return unit[0] * length, unit[1] * length


def _from_labelme(path: Path, data: dict[str, Any]) -> Overrides:
    """labelme JSON: each polygon's label is a direction name or a label 0-4 (direction only),
    or a motion vector: ``40,0`` (dx, dy) or ``right 40`` (direction and length), px per exposure."""
    data = _check_labelme(str(path), data)
    ov = Overrides(str(path))
    vertices = 0
    for i, shape in enumerate(data["shapes"]):
        label = str(shape.get("label", "")).strip().lower()
        track = None
        if label.isdigit() and int(label) in LABEL_TO_SIGNS:
            signs = _signs(int(label))
        elif label in encode.DIRECTIONS:
            signs = encode.DIRECTIONS[label]
        elif (vec := _labelme_motion(label)) is not None:
            track = MotionTrack.constant(*vec)
            signs = _vector_signs(track)
        else:
            raise OverrideError(
                f"{path}: shapes[{i}].label: {label!r} is not a direction (0-4, left, right, up, down, static...) "
                "or a motion vector ('40,0' or 'right 40')"
            )
        if (shape.get("shape_type") or "polygon") not in ("polygon", "rectangle"):
            raise OverrideError(f"{path}: shapes[{i}].shape_type: only polygon and rectangle are supported")
        pts = np.asarray(shape.get("points", []), np.float64).reshape(-1, 2)
        if shape.get("shape_type") == "rectangle" and len(pts) == 2:
            (x0, y0), (x1, y1) = pts
            pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
        if len(pts) < 3:
            raise OverrideError(f"{path}: shapes[{i}].points: need at least 3 points")
        vertices += len(pts)
        if vertices > MAX_VERTICES:
            raise OverrideError(
                f"{path}: shapes[{i}]: {vertices} polygon vertices so far, more than the limit of {MAX_VERTICES}"
            )
        ov.regions.append(Region(signs, None, [pts], None, False, f"{label}{i}", track))
    return ov


__all__ = ["InputError", "OverrideError", "Overrides", "Region", "load_overrides", "neighbour_match"]
