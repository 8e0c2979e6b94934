"""``unshutter worker``: the long-lived process the OpenFX plugin renders through.

The plugin (ofx_bridge/) starts one worker on its first render and keeps it.
They talk over a local stream socket -- normally one end of a socketpair the
plugin hands over as ``--fd N``; ``--socket PATH`` listens on a Unix socket
instead (for debugging a worker by hand). Pixels never go through the socket:
the plugin puts them in a POSIX shared-memory segment and sends its name.

Protocol (version 1): every message is a 4-byte little-endian length followed
by that many bytes of UTF-8 JSON. Requests carry ``op``:

- ``hello`` -> ``{"ok": true, "protocol": 1, "pid": ..., "version": ...}``
- ``render`` -> the sub-frame ``k`` of source ``frame``. Fields: ``shm`` (the
  segment's name), ``width``, ``height``, byte offsets ``cur``, ``prev``,
  ``next``, ``matte`` (null when absent) and ``output``, ``matte_direction``,
  ``params`` (the node's parameters, plus ``colorspace`` and
  ``render_scale``, below). Inputs are float32 top-down RGB
  [H, W, 3] (matte [H, W]); the reply's sub-frame is written at ``output`` in
  the same layout. The segment starts with a 64-byte header of
  little-endian uint32 words: at byte 0 the abort flag the plugin sets when
  the host aborts or its progress bar is cancelled (polled between tiles);
  at byte 4 the tiles decomposed so far and at byte 8 the frame's tile count,
  which the worker writes after each tile (a frame in one tile counts as one)
  and the plugin polls to move the host's progress bar; the rest is reserved
  (zero). A cached sub-frame leaves the counts at 0.
  With even timing below 360 degrees, the outputs of a frame that fall in
  the closed-shutter gap (``k`` from the schedule's ``inside`` count on) are
  interpolated toward the next frame's first output, so their request also
  carries ``next2`` (the source two frames on, which the next frame's
  guidance reads; null past the clip's end) and ``next_matte`` (the Guide
  matte at the next frame, or null). A request without the ``next2`` key
  (a plugin older than even timing) gets them carried forward instead.
  At 360 degrees, while the outputs follow the motion (``follow`` > 0), every
  output blends toward the previous and next frames' decompositions
  (``Node.settle``), so its request carries ``next2`` and ``next_matte`` as
  above and ``prev2`` (the source two frames back, null before the clip's
  start) and ``prev_matte`` (the Guide matte at the previous frame, or null);
  a request without them leaves that side unblended.
  ``vectors`` (optional, null when absent): the OFX Vectors clip, a
  motion-vector pass as float32 top-down [H, W, 2] (the clip's R, G): per
  frame, in px at full resolution (scaled here by ``render_scale``) or, as
  ``motion_pass_units`` says, normalised to the frame (``ndc``: -1..1,
  ``uv``: 0..1 across it; px = v * side / 2 or v * side at the size sent),
  y and sign as the ``motion_pass_y`` and ``motion_pass_points`` parameters
  say (``auto`` is forward: a clip has no channel names); requests that carry
  ``next2`` / ``prev2`` also carry ``next_vectors`` / ``prev_vectors``.
  ``clip`` (optional): ``[first, last]``, the source clip's frame range;
  with it, a reply adds ``warning`` (one line naming the override file)
  when override ranges miss the clip altogether.
  Reply: ``{"ok": true, "cached": bool, "guidance": ...}`` or
  ``{"ok": false, "kind": "aborted"|"error", "error": "one line"}``. An
  abort inside a tiled decomposition adds ``tiles_done`` and ``tiles`` (how
  many of the frame's tiles were decomposed before it stopped).
- ``purge`` drops the decomposition cache; ``quit`` ends the worker.

Two render parameters are the worker's own, not the node's:

- ``colorspace``: how the host's RGB values are encoded, ``linear`` (the
  default), ``srgb`` or ``rec709`` (the plugin resolves its *Auto* choice
  from the image's bit depth). Encoded inputs are decoded to scene-linear
  with the transfer kernels before :meth:`Node.process`, so the reblur
  constraint holds in linear light, and the sub-frames are encoded back the
  same way.
- ``render_scale``: ``[x, y]``, the host's render scale (default ``[1, 1]``).
  Override-file polygons and mattes are drawn at full resolution; they are
  scaled to the smaller proxy frame.

Every source frame is decomposed once: its decomposition (scene-linear, before
any gap filling) is cached, keyed by the parameters, the frame number, a digest
of the input pixels and the stat of every override, matte and labelme file that
decides the frame's guidance, so the N output frames the host asks for one by
one come from one decomposition, the next frame's decomposition made for a gap
is the one its own outputs use, and an edited matte is never served from the
cache. Interpolated gap outputs are cached beside them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import mmap
import os
import socket
import struct
import sys
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import unshutter
from unshutter import color
from unshutter.errors import InputError, ParameterError, UnshutterError
from unshutter.guidance.encode import DIRECTIONS

if TYPE_CHECKING:
    from unshutter.decomposer.runtime import Decomposer

log = logging.getLogger("unshutter.worker")

PROTOCOL = 1
MAX_MESSAGE = 1 << 20
HEADER_BYTES = 64  # uint32 words: abort flag at 0, tiles done at 4, tiles at 8; the rest reserved
ABORT_AT, TILES_AT = 0, 4  # byte offsets in the header (ofx_bridge/src/worker_client.hpp has the same)
PARAM_KEYS = (
    "factor",
    "shutter",
    "guidance",
    "reverse",
    "overrides",
    "tile",
    "quality",
    "threshold",
    "timing",
    "follow",
    "motion",
    "motion_pass_y",
    "motion_pass_points",
    "motion_pass_units",
)
# The protocol's colour names (the OFX plugin's Input colour choices) -> color's fixed curves:
# the plugin's "rec709" is the BT.709 camera curve, color.BT709.
CURVE_OF = {"linear": "linear", "srgb": "srgb", "rec709": color.BT709}
COLORSPACES = tuple(CURVE_OF)
REQUIRED_PARAMS = ("factor", "shutter", "guidance", "reverse", "tile", "quality", "threshold")  # the rest have defaults
MAX_SIDE = 1 << 16  # px; more than any host's frame, and w * h * 3 floats stays a sane size


def _colorspace(params: dict[str, Any]) -> str:
    name = str(params.get("colorspace") or "linear").lower()
    if name not in COLORSPACES:
        raise ParameterError(f"colorspace {name!r}: use one of {', '.join(COLORSPACES)}")
    return name


def _motion(value: Any) -> tuple[float, float] | None:
    """A [dx, dy] motion parameter (px per exposure at full resolution); None or [] for none."""
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return None
    try:
        dx, dy = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"motion {value!r}: expected [dx, dy]") from None
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise ParameterError(f"motion {value!r}: must be finite numbers")
    return dx, dy


def _real(params: dict[str, Any], key: str) -> float:
    """A number of a request's parameters (the node's checks refuse NaN and Inf); ParameterError naming it."""
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{key} {value!r}: expected a number")
    return float(value)


def _whole(params: dict[str, Any], key: str) -> int:
    """A whole number of a request's parameters (2.0 is 2; 2.5, NaN and Inf are refused)."""
    value = _real(params, key)
    if not value.is_integer():
        raise ParameterError(f"{key} {params.get(key)!r}: expected a whole number")
    return int(value)


def _offset(req: dict[str, Any], key: str) -> int | None:
    """A byte offset into the shared segment, or None when the request leaves it out (null)."""
    if req.get(key) is None:
        return None
    value = _whole(req, key)
    if value < 0:
        raise ParameterError(f"{key} {value}: a negative offset")
    return value


def _clip_range(value: Any) -> tuple[int, int] | None:
    """The request's ``clip``: the source clip's first and last frame as the host sees them (None when absent)."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or value[0] > value[1]
    ):
        raise ParameterError(f"clip {value!r}: expected [first, last] source frames")
    return value[0], value[1]


def _check_pixels(frame: int, name: str, a: np.ndarray | None) -> None:
    """The host's pixels, checked as a clip's frames are: finite and within what the arithmetic holds."""
    from unshutter.io.clip import MAX_VALUE

    if a is None or a.size == 0:
        return
    if not np.isfinite(a).all():
        raise InputError(f"frame {frame}: the {name} image contains NaN or Inf values")
    if float(np.abs(a).max()) > MAX_VALUE:
        raise InputError(f"frame {frame}: the {name} image has values beyond +-{MAX_VALUE:g}")


def _render_scale(params: dict[str, Any]) -> tuple[float, float]:
    value = params.get("render_scale")
    if value is None:
        return 1.0, 1.0
    try:
        sx, sy = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"render_scale {value!r}: expected [x, y]") from None
    if not (0.0 < sx < float("inf") and 0.0 < sy < float("inf")):
        raise ParameterError(f"render_scale {value!r}: must be positive")
    return sx, sy


def host_vectors(v: np.ndarray, params: Any, scale: tuple[float, float]) -> np.ndarray:
    """The host's Vectors clip in the node's terms: x right, y down, pointing forward, px at the frame's size.

    The clip holds px per frame at full resolution (the host scales the picture at a proxy render scale,
    not the numbers in it), or vectors normalised to the frame (``motion_pass_units`` ndc or uv), which
    the frame's size at this render scale turns into px; ``motion_pass_y`` and ``motion_pass_points``
    say its other conventions (``auto``: forward). Shape: [H, W, 2] -> [H, W, 2] float32
    """
    from unshutter.guidance.motion_pass import px_per_unit  # not at import: it loads OpenCV

    h, w = v.shape[:2]
    units = params.motion_pass_units
    kx, ky = scale if units == "px" else px_per_unit(units, w, h)
    sign = -1.0 if params.motion_pass_points == "backward" else 1.0
    out = np.empty_like(v, dtype=np.float32)
    out[..., 0] = v[..., 0] * np.float32(sign * kx)
    out[..., 1] = v[..., 1] * np.float32(sign * ky * (-1.0 if params.motion_pass_y == "up" else 1.0))
    return out


def to_linear(rgb: np.ndarray | None, colorspace: str) -> np.ndarray | None:
    """Host-encoded RGB -> scene-linear (any shape; a new array unless already linear)."""
    return None if rgb is None else color.decode(rgb, CURVE_OF[colorspace])


def from_linear(rgb: np.ndarray, colorspace: str) -> np.ndarray:
    """Scene-linear RGB -> the host's encoding (the inverse of :func:`to_linear`)."""
    return color.encode(rgb, CURVE_OF[colorspace])


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="serve renders to the OpenFX plugin (started by the plugin)",
        description="Long-lived render process for the OpenFX plugin: a local socket for requests, "
        "shared memory for pixels, one node and a decomposition cache.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="an inherited, connected stream socket (what the plugin passes)")
    where.add_argument(
        "--socket", metavar="PATH", help="listen on this Unix socket path and serve one client at a time"
    )
    p.add_argument(
        "--model", metavar="ONNX", help="decomposer model (default: the shipped one, int8 on a CPU, float32 on a GPU)"
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default=os.environ.get("UNSHUTTER_DEVICE", "auto"),
        help="execution provider (default auto, or $UNSHUTTER_DEVICE)",
    )
    p.add_argument(
        "--cache-mb",
        type=int,
        default=int(os.environ.get("UNSHUTTER_WORKER_CACHE_MB", "2048")),
        help="memory for cached decompositions in MiB (default 2048; the latest is always kept)",
    )
    p.set_defaults(func=main)


# ------------------------------------------------------------------ framing
def recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv_message(conn: socket.socket) -> dict[str, Any] | None:
    """One request, or None when the peer closed the connection."""
    head = recv_exact(conn, 4)
    if head is None:
        return None
    (n,) = struct.unpack("<I", head)
    if n > MAX_MESSAGE:
        raise ValueError(f"message of {n} bytes is too long")
    body = recv_exact(conn, n)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def send_message(conn: socket.socket, msg: dict[str, Any]) -> None:
    body = json.dumps(msg).encode("utf-8")
    conn.sendall(struct.pack("<I", len(body)) + body)


# ------------------------------------------------------------------ shared memory
class SharedSegment:
    """A POSIX shared-memory segment created by the plugin, mapped read-write."""

    def __init__(self, name: Any) -> None:
        if not isinstance(name, str) or not name.lstrip("/") or "/" in name.lstrip("/"):
            raise ParameterError(f"shm {name!r}: not a shared-memory name")
        name = name.lstrip("/")
        try:
            fd = os.open(f"/dev/shm/{name}", os.O_RDWR)
        except OSError as exc:
            raise InputError(f"shared memory {name!r}: {exc.strerror or exc}") from None
        try:
            size = os.fstat(fd).st_size
            self.map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.size = size

    def _check(self, offset: int, nbytes: int) -> None:
        if offset < HEADER_BYTES or offset + nbytes > self.size:
            raise ParameterError(f"shared-memory block at {offset} ({nbytes} bytes) outside the segment ({self.size})")

    def read(self, offset: int | None, shape: tuple[int, ...]) -> np.ndarray | None:
        """A float32 copy of the block at ``offset`` (no view keeps the mapping busy)."""
        if offset is None:
            return None
        count = int(np.prod(shape))
        self._check(offset, 4 * count)
        return np.frombuffer(self.map[offset : offset + 4 * count], np.float32).reshape(shape).copy()

    def write(self, offset: int, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array, np.float32).tobytes()
        self._check(offset, len(data))
        self.map[offset : offset + len(data)] = data

    def aborted(self) -> bool:
        return struct.unpack_from("<I", self.map, ABORT_AT)[0] != 0

    def tile_progress(self, done: int, total: int) -> None:
        """Publish ``done`` of ``total`` tiles: the plugin turns them into the host's progress bar."""
        struct.pack_into("<II", self.map, TILES_AT, done, total)

    def close(self) -> None:
        self.map.close()


# ------------------------------------------------------------------ the service
def _file_stamp(path: str | Path | None) -> tuple[int, int, int] | None:
    """An edited override, matte or labelme file must not hit cached results: key on its stat.

    The worker runs beside the host and sees the artist's own files, so
    (mtime, size, inode) is enough, and a cached sub-frame costs one stat per
    file instead of reading mattes that may be as large as the frame. (Farm
    renders, which see copies at mapped paths, compare bytes instead.)
    """
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _stamps(paths: list[str] | list[Path]) -> tuple:
    return tuple(_file_stamp(p) for p in paths)


def _labelme_stamps(node: Any) -> tuple:
    """The stat of the labelme files the node's override polygons were read from, when it was made."""
    return _stamps(node.overrides.labelme_files) if node.overrides is not None else ()


@dataclass
class _Inputs:
    """One source frame of a request and what its guidance reads (host-encoded, as in shared memory)."""

    frame: int
    cur: np.ndarray
    prev: np.ndarray | None
    nxt: np.ndarray | None
    matte: np.ndarray | None
    vectors: np.ndarray | None = None  # [H, W, 2] px per frame interval at this size, x right, y down


def _nbytes(value: Any) -> int:
    """Memory held by a cache entry: a FrameResult's arrays or a (gap outputs, source) pair."""
    if isinstance(value, tuple):
        return int(value[0].nbytes)
    carried = value.carried
    extra = (carried.mid, carried.weight) if carried is not None else ()
    held = sum(int(a.nbytes) for a in (value.subframes, value.guidance, value.motion, *extra) if a is not None)
    return held + (value.warper.nbytes if value.warper is not None else 0)  # its landings, for the blend


class Worker:
    """The node(s), the decomposer and the decomposition cache."""

    def __init__(self, model: str | None, device: str, cache_bytes: int) -> None:
        self.model, self.device, self.cache_bytes = model, device, cache_bytes
        self._decomposer: Decomposer | None = None
        self._nodes: OrderedDict[tuple, tuple[Any, tuple]] = OrderedDict()  # node, its labelme files' stamps
        # decompositions (FrameResult, scene-linear, as the node made them) and outputs settled with their
        # neighbours ((array [N, H, W, 3], guidance source)), least recently used first
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self.decompositions = 0

    def node(self, params: dict[str, Any], scale: tuple[float, float] = (1.0, 1.0)):
        """The node for these parameters at this render scale (its overrides scaled to it)."""
        from unshutter.decomposer.runtime import Decomposer
        from unshutter.node import Node, NodeParams

        p = NodeParams(
            factor=_whole(params, "factor"),
            shutter=_real(params, "shutter"),
            guidance=str(params["guidance"]),
            reverse=bool(params["reverse"]),
            overrides=params.get("overrides") or None,
            tile=_whole(params, "tile"),
            quality=str(params["quality"]),
            threshold=_real(params, "threshold"),
            # a plugin older than these parameters sends neither: the node's defaults
            timing=str(params.get("timing") or "even"),
            follow=_real(params, "follow") if "follow" in params else NodeParams.follow,
            motion=_motion(params.get("motion")),
            motion_pass_y=str(params.get("motion_pass_y") or "up"),
            motion_pass_points=str(params.get("motion_pass_points") or "auto"),
            motion_pass_units=str(params.get("motion_pass_units") or "px"),
        )
        p.validate()  # NaN and Inf too: JSON from the plugin may carry them
        key = tuple(getattr(p, k) for k in PARAM_KEYS) + (_file_stamp(p.overrides), scale)
        if key in self._nodes:
            node, labelme = self._nodes[key]
            # polygons are read from labelme files when the override file is loaded: an edited one reloads it
            if _labelme_stamps(node) == labelme:
                self._nodes.move_to_end(key)
                return key, node
            del self._nodes[key]
        if self._decomposer is None:  # loaded once, shared by every parameter set
            self._decomposer = Decomposer(self.model, device=self.device)
        node = Node(p, decomposer=self._decomposer)
        node.render_scale = scale  # --motion and matte vectors are full-resolution px too
        if node.overrides is not None:  # polygons and mattes are full-resolution; the frame is at `scale`
            node.overrides = node.overrides.at_scale(*scale)
        self._nodes[key] = (node, _labelme_stamps(node))
        while len(self._nodes) > 4:
            self._nodes.popitem(last=False)
        return key, node

    def hello(self) -> dict[str, Any]:
        return {"ok": True, "protocol": PROTOCOL, "pid": os.getpid(), "version": unshutter.__version__}

    def render(self, req: dict[str, Any]) -> dict[str, Any]:
        w, h, k, frame = (_whole(req, key) for key in ("width", "height", "k", "frame"))
        if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
            raise ParameterError(f"frame size {w}x{h}: each side must be 1 to {MAX_SIDE} px")
        given = req.get("params")
        if not isinstance(given, dict):
            raise ParameterError(f"params {given!r}: expected an object")
        missing = [key for key in REQUIRED_PARAMS if key not in given]
        if missing:
            raise ParameterError(f"params.{missing[0]}: missing")
        params = {key: given[key] for key in PARAM_KEYS if key in given}
        colorspace = _colorspace(given)
        clip = _clip_range(req.get("clip"))
        pkey, node = self.node(params, _render_scale(given))
        if not 0 <= k < node.params.factor:
            raise ParameterError(f"sub-frame k {k}: outside 0..{node.params.factor - 1}")
        direction = req.get("matte_direction") or None
        if direction is not None and direction not in DIRECTIONS:
            raise ParameterError(f"matte_direction {direction!r}: use one of {', '.join(DIRECTIONS)}")
        offsets = {
            key: _offset(req, key)
            for key in (
                *("cur", "prev", "next", "matte", "output", "next2", "next_matte", "prev2", "prev_matte"),
                *("vectors", "next_vectors", "prev_vectors"),
            )
        }
        if offsets["cur"] is None or offsets["output"] is None:
            raise ParameterError("cur and output: the source frame's and the reply's offsets are required")
        sched = node.schedule()
        seg = SharedSegment(req.get("shm"))
        try:
            cur = seg.read(offsets["cur"], (h, w, 3))
            prev = seg.read(offsets["prev"], (h, w, 3))
            nxt = seg.read(offsets["next"], (h, w, 3))
            matte = seg.read(offsets["matte"], (h, w))
            for name, a in (("source", cur), ("previous", prev), ("next", nxt), ("matte", matte)):
                _check_pixels(frame, name, a)
            matte_motion = _motion(req.get("matte_motion"))
            if matte_motion is not None:  # a vector beside the Guide matte wins over its direction
                direction = matte_motion
            assert cur is not None  # its offset is required (checked above)

            def vectors(key: str, at: int) -> np.ndarray | None:
                v = seg.read(offsets[key], (h, w, 2))
                _check_pixels(at, key.replace("_", " "), v)
                return None if v is None else host_vectors(v, node.params, node.render_scale)

            this = _Inputs(frame, cur, prev, nxt, matte, vectors("vectors", frame))
            # A closed-shutter output (even timing below 360 degrees) is interpolated toward the next
            # frame's first output: the next frame is decomposed too, with the frame after it for its
            # guidance, as `unshutter run` does. A plugin older than the gap sends no "next2" at all:
            # its gap outputs stay carried forward along the frame's own motion.
            # At 360 degrees every output also blends toward the previous and next frames' decompositions.
            after = before = None
            blend = node.needs_previous((h, w))
            if (k >= sched.inside or blend) and nxt is not None and "next2" in req:
                next2 = seg.read(offsets["next2"], (h, w, 3))
                next_matte = seg.read(offsets["next_matte"], (h, w))
                for name, a in (("frame after next", next2), ("next matte", next_matte)):
                    _check_pixels(frame, name, a)
                after = _Inputs(frame + 1, nxt, cur, next2, next_matte, vectors("next_vectors", frame + 1))
            if blend and prev is not None and "prev2" in req:
                prev2 = seg.read(offsets["prev2"], (h, w, 3))
                prev_matte = seg.read(offsets["prev_matte"], (h, w))
                for name, a in (("frame before previous", prev2), ("previous matte", prev_matte)):
                    _check_pixels(frame, name, a)
                before = _Inputs(frame - 1, prev, prev2, cur, prev_matte, vectors("prev_vectors", frame - 1))
            count = self.decompositions
            sub, source = self._subframe(node, (pkey, colorspace, w, h, direction), k, this, after, before, seg)
            seg.write(offsets["output"], from_linear(sub, colorspace))
        finally:
            seg.close()
        cached = self.decompositions == count
        reply = {"ok": True, "cached": cached, "guidance": source, "decompositions": self.decompositions}
        if clip is not None and node.overrides is not None:
            warning = node.overrides.outside_warning(str(node.params.overrides), *clip)
            if warning:
                reply["warning"] = warning
        return reply

    def _key(self, node: Any, common: tuple, inputs: _Inputs) -> tuple:
        """What decides a frame's decomposition: the parameters, the pixels and the files its guidance reads."""
        digest = hashlib.blake2b(digest_size=16)
        for a in (inputs.cur, inputs.prev, inputs.nxt, inputs.matte, inputs.vectors):
            digest.update(b"-" if a is None else a.tobytes())
        # the mattes and labelme files that decide this frame's guidance, as they are now
        files = _stamps(node.overrides.files_read(inputs.frame)) if node.overrides is not None else ()
        return ("decomposition", *common, inputs.frame, files, digest.hexdigest())

    def _subframe(
        self,
        node: Any,
        common: tuple,
        k: int,
        this: _Inputs,
        after: _Inputs | None,
        before: _Inputs | None,
        seg: SharedSegment,
    ) -> tuple[np.ndarray, str]:
        """Sub-frame ``k`` of ``this`` frame in scene-linear light and its guidance's description, settled
        with the neighbours given (``Node.settle``, as `unshutter run` does).

        Shape: -> [H, W, 3]
        """
        key = self._key(node, common, this)
        if after is None and before is None:
            res = self._decomposed(key, node, common, this, seg, (0, 1))
            return res.subframes[k], res.guidance_source
        frames = (before, this, after)
        keys = [self._key(node, common, x) if x is not None else None for x in frames]
        settled_key = ("settled", *keys)
        if settled_key in self._cache:
            self._cache.move_to_end(settled_key)
            subs, source = self._cache[settled_key]
        else:
            # the progress bar covers every decomposition the request makes
            todo = [kk for kk in keys if kk is not None and kk not in self._cache]
            results = [
                self._decomposed(kk, node, common, x, seg, (todo.index(kk), len(todo)) if kk in todo else (0, 1))
                if x is not None and kk is not None
                else None
                for kk, x in zip(keys, frames)
            ]
            res_before, res, res_after = results
            assert res is not None  # this frame's own decomposition
            # settle works in place: on a copy, so the cached decomposition stays the frame's own
            settled = replace(res, subframes=res.subframes.copy())
            node.settle(settled, res_before.carried if res_before is not None else None, res_after)
            subs, source = settled.subframes, settled.guidance_source
            del settled, results, res_before, res, res_after
            self._store(settled_key, (subs, source))
        return subs[k], source

    def _decomposed(
        self, key: tuple, node: Any, common: tuple, inputs: _Inputs, seg: SharedSegment, part: tuple[int, int]
    ) -> Any:
        """The frame's FrameResult in scene-linear light, before any gap filling; decomposed once.

        ``part`` = (i, n): this decomposition is the i-th of n in the request, for the progress bar.
        """
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        colorspace, direction = common[1], common[4]
        t0 = time.monotonic()
        cur, prev, nxt = (to_linear(a, colorspace) for a in (inputs.cur, inputs.prev, inputs.nxt))
        i, n = part

        def progress(done: int, total: int) -> None:
            seg.tile_progress(i * total + done, n * total)

        res = node.process(
            inputs.frame,
            cur,
            prev,
            nxt,
            inputs.matte,
            direction,
            abort=seg.aborted,
            progress=progress,
            vectors=inputs.vectors,
        )
        self.decompositions += 1
        log.info("frame %d decomposed in %.2fs (%s)", inputs.frame, time.monotonic() - t0, res.guidance_source)
        self._store(key, res)
        return res

    def _store(self, key: tuple, value: Any) -> None:
        self._cache[key] = value
        total = sum(_nbytes(v) for v in self._cache.values())
        while len(self._cache) > 1 and total > self.cache_bytes:
            _, old = self._cache.popitem(last=False)
            total -= _nbytes(old)

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        try:
            if op == "hello":
                return self.hello()
            if op == "render":
                return self.render(req)
            if op == "purge":
                self._cache.clear()
                return {"ok": True}
            return {"ok": False, "kind": "error", "error": f"unknown request {op!r}"}
        except InterruptedError as exc:
            return _aborted_reply(exc)
        except UnshutterError as exc:
            return {"ok": False, "kind": "error", "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        except Exception as exc:  # a bug or a bad request: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            first = str(exc).splitlines()[0] if str(exc) else ""
            return {"ok": False, "kind": "error", "error": f"internal error: {type(exc).__name__}: {first}"}


def _aborted_reply(exc: InterruptedError) -> dict[str, Any]:
    """The "aborted" reply; with the tile counts when known, so the host's log shows the worker stopped early."""
    from unshutter.decomposer.runtime import DecompositionAborted

    reply: dict[str, Any] = {"ok": False, "kind": "aborted", "error": "render aborted by the host"}
    if isinstance(exc, DecompositionAborted):
        reply.update(tiles_done=exc.done, tiles=exc.total)
    return reply


def serve(conn: socket.socket, worker: Worker) -> bool:
    """Answer requests on ``conn`` until it closes (False) or asks to quit (True)."""
    with conn:
        while True:
            try:
                req = recv_message(conn)
            except (OSError, ValueError) as exc:
                log.warning("bad request stream: %s", exc)
                return False
            if req is None:
                return False
            if not isinstance(req, dict):
                req = {"op": None}  # answered as an unknown request
            if req.get("op") == "quit":
                send_message(conn, {"ok": True})
                return True
            try:
                send_message(conn, worker.handle(req))
            except OSError:
                return False


def main(args: argparse.Namespace) -> int:
    worker = Worker(args.model, args.device, max(0, args.cache_mb) << 20)
    if args.fd is not None:
        conn = socket.socket(fileno=args.fd)
        serve(conn, worker)
        return 0
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(args.socket)
        srv.listen(1)
        print(f"unshutter worker {os.getpid()} listening on {args.socket}", file=sys.stderr, flush=True)
        try:
            while True:
                conn, _ = srv.accept()
                if serve(conn, worker):
                    break
        finally:
            os.unlink(args.socket)
    return 0
