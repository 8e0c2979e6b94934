"""Per-shot guidance overrides from a sidecar file (YAML/JSON, or labelme JSON).

Overrides win over flow guidance. Order of application for a frame:
flow (or ``--guidance``) -> shot ``direction`` -> shot ``reverse`` -> each
region in file order (regions state true directions, so ``reverse`` does not
flip them).

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

from unshutter.decomposer.contract import LABEL_TO_SIGNS
from unshutter.errors import InputError, OverrideError
from unshutter.guidance import encode

if TYPE_CHECKING:
    from unshutter.io.sequence import SequencePattern


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
        if self.polygons:
            factor = np.asarray(scale, np.float32)  # full-resolution pixels -> this frame's pixels
            pts = [np.round(p * factor).astype(np.int32) for p in self.polygons]
            cv2.fillPoly(m, pts, 1.0)
        path = self.matte_path(frame)
        if path is not None:
            m = np.maximum(m, _matte(path, frame, h, w, self.name, scale))
        if self.invert:
            m = 1.0 - m
        return m


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


def _matte(path: Path, frame: int, h: int, w: int, name: str,
           scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
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

    scale: tuple[float, float] = (1.0, 1.0)  # the default render scale of :meth:`apply`

    def apply(self, g: np.ndarray, frame: int,
              scale: tuple[float, float] | None = None) -> tuple[np.ndarray, list[str]]:
        """Apply to guidance ``g`` [H, W, 6] of ``frame``; returns it and what was applied.

        ``scale`` (x, y) is the frame's size relative to the full resolution
        the file's polygons and mattes are drawn at (an OpenFX proxy render
        at half size: ``(0.5, 0.5)``); None uses :attr:`scale`.
        """
        sx, sy = self.scale if scale is None else scale
        if not (sx > 0 and sy > 0 and np.isfinite(sx) and np.isfinite(sy)):
            raise ValueError(f"render scale must be positive, got {sx!r}x{sy!r}")
        h, w = g.shape[:2]
        used: list[str] = []
        if self.direction is not None and _within(frame, self.direction_frames):
            encode.apply_direction(g, np.ones((h, w), np.float32), self.direction)
            used.append("direction")
        if self.reverse and _within(frame, self.reverse_frames):
            g = encode.reverse(g)
            used.append("reverse")
        for i, r in enumerate(self.regions):
            if r.active(frame):
                encode.apply_direction(g, r.mask(frame, h, w, (float(sx), float(sy))), r.signs)
                used.append(f"region:{r.name or i}")
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
        return files

    def at_scale(self, sx: float, sy: float) -> Overrides:
        """The same overrides, applied by default to frames rendered at scale (``sx``, ``sy``)."""
        return replace(self, scale=(float(sx), float(sy)))


def _within(frame: int, rng: tuple[int, int] | None) -> bool:
    return rng is None or rng[0] <= frame <= rng[1]


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("unshutter").joinpath("schemas/overrides.schema.json").read_text()
    return json.loads(text)


def _error_path(err: Any) -> str:
    parts = []
    for p in err.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p)))
    return "".join(parts) or "(top level)"


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
    import jsonschema

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OverrideError(f"{path}: cannot read override file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise OverrideError(f"{path}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'} ({str(exc).splitlines()[0]})") from None
    if isinstance(data, dict) and "shapes" in data:
        return _from_labelme(path, data)
    if not isinstance(data, dict):
        raise OverrideError(f"{path}: override file must hold a mapping at the top level")
    errors = list(jsonschema.Draft202012Validator(_schema()).iter_errors(data))
    if errors:
        err = _best_error(errors)
        raise OverrideError(f"{path}: {_error_path(err)}: {err.message}")
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
    for i, r in enumerate(data.get("regions", [])):
        name = r.get("name", str(i))
        polys = [np.asarray(r["polygon"], np.float32)] if "polygon" in r else []
        polys += [np.asarray(p, np.float32) for p in r.get("polygons", [])]
        matte = _locate(path, r["matte"], locate) if "matte" in r else None
        if "labelme" in r:
            lm = Path(_locate(path, r["labelme"], locate))
            ov.labelme_files.append(str(lm))
            try:
                lm_data = json.loads(lm.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise OverrideError(f"{path}: regions[{i}].labelme: cannot read {lm} ({exc})") from None
            polys += [np.asarray(s["points"], np.float32) for s in lm_data.get("shapes", [])
                      if s.get("shape_type", "polygon") == "polygon"]
        ov.regions.append(Region(_signs(r["direction"]), _parse_frames(r.get("frames")), polys,
                                 matte, bool(r.get("invert", False)), name))
    return ov


def _locate(path: Path, name: str, locate: Callable[[str], str] | None) -> str:
    """The path to read for a matte or labelme ``name`` written in override file ``path``."""
    if locate is not None:
        return locate(name)
    p = Path(name)
    return str(p if p.is_absolute() else path.parent / p)


def _from_labelme(path: Path, data: dict[str, Any]) -> Overrides:
    """labelme JSON: each polygon's label is a direction name or a label 0-4."""
    ov = Overrides(str(path))
    for i, shape in enumerate(data.get("shapes", [])):
        label = str(shape.get("label", "")).strip().lower()
        if label.isdigit() and int(label) in LABEL_TO_SIGNS:
            signs = _signs(int(label))
        elif label in encode.DIRECTIONS:
            signs = encode.DIRECTIONS[label]
        else:
            raise OverrideError(
                f"{path}: shapes[{i}].label: {label!r} is not a direction (0-4, left, right, up, down, static...)"
            )
        if shape.get("shape_type", "polygon") not in ("polygon", "rectangle"):
            raise OverrideError(f"{path}: shapes[{i}].shape_type: only polygon and rectangle are supported")
        pts = np.asarray(shape.get("points", []), np.float32)
        if shape.get("shape_type") == "rectangle" and len(pts) == 2:
            (x0, y0), (x1, y1) = pts
            pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
        if pts.ndim != 2 or len(pts) < 3:
            raise OverrideError(f"{path}: shapes[{i}].points: need at least 3 points")
        ov.regions.append(Region(signs, None, [pts], None, False, f"{label}{i}"))
    return ov


__all__ = ["InputError", "OverrideError", "Overrides", "Region", "load_overrides"]
