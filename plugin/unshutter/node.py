"""The Deblur-to-Slow-Motion node: the one object every host talks to.

It holds the parameters and turns one source frame (plus its neighbours, for
guidance) into its N sharp sub-frames, in scene-linear light. Reading and
writing files is the job of :mod:`unshutter.pipeline`; hosts that have pixels
in memory (the OFX worker) call :meth:`Node.process` directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from unshutter import color, kernels, memory, retime, sharpen, timing, travel
from unshutter.decomposer.contract import MOTION_SCALE, MVALID, MX, MY
from unshutter.decomposer.runtime import AUTO_TILE, DEFAULT_TILE, MIN_TILE, Decomposer
from unshutter.errors import ParameterError
from unshutter.guidance import bridge, encode, flow
from unshutter.guidance.motion_pass import MotionPass, check_conventions, parse_channels
from unshutter.guidance.overrides import Overrides, load_overrides, neighbour_match

GUIDANCE_MODES = ("neighbors", "none", "left", "right", "up", "down", "reverse")
QUALITIES = ("full", "draft")


PASS_CONVENTIONS = ("motion_pass_y", "motion_pass_points", "motion_pass_units")
"""How a motion pass is to be read: they mean something only with a pass (:meth:`NodeParams.check_pass_options`)."""

FOLLOW_MAX = 2.0
"""``follow`` above 1 follows the motion past the flow's consistency too, up to everywhere at 2."""


@dataclass
class NodeParams:
    """Everything an artist can set on the node."""

    factor: int = 7
    shutter: float = 360.0
    guidance: str = "neighbors"
    reverse: bool = False
    overrides: str | None = None
    tile: int = DEFAULT_TILE
    quality: str = "full"
    threshold: float = 0.5
    timing: str = "even"
    follow: float = 1.25
    motion: tuple[float, float] | None = None  # whole-frame vector, px per exposure at full resolution
    motion_pass: str | None = None  # motion-vector pass file pattern (guidance.motion_pass), px per frame
    motion_pass_channels: str | None = None  # "X,Y" channel names; None: guidance.motion_pass.CHANNEL_SEARCH
    motion_pass_y: str = "up"  # the pass's y direction: up (Nuke, Blender) or down (image rows)
    motion_pass_points: str = "auto"  # forward, backward, or auto (by channel name)
    motion_pass_units: str = "px"  # px at the pass's resolution, or normalised to its frame: ndc (-1..1), uv (0..1)

    def validate(self) -> None:
        retime.check_params(self.factor, self.shutter)
        timing.check_timing(self.timing)
        if not 0.0 <= self.follow <= FOLLOW_MAX:  # also refuses NaN
            raise ParameterError(f"--follow {self.follow}: must be between 0 and {FOLLOW_MAX:g}")
        if self.guidance not in GUIDANCE_MODES:
            raise ParameterError(f"--guidance {self.guidance!r}: choose one of {', '.join(GUIDANCE_MODES)}")
        if self.quality not in QUALITIES:
            raise ParameterError(f"--quality {self.quality!r}: choose full or draft")
        if isinstance(self.factor, bool):  # True is an int to Python, not a factor to anyone
            raise ParameterError(f"--factor {self.factor}: must be an integer from 1 to {retime.MAX_FACTOR}")
        if not (0.0 <= self.threshold < float("inf")):  # also refuses NaN, which passes `< 0`
            raise ParameterError(f"--threshold {self.threshold}: must be a finite number >= 0")
        if (
            isinstance(self.tile, bool)
            or not isinstance(self.tile, (int, np.integer))
            or (self.tile != AUTO_TILE and self.tile < MIN_TILE)
        ):
            raise ParameterError(
                f"--tile {self.tile}: must be 0 (automatic) or a whole number of at least {MIN_TILE} px"
            )
        if self.motion is not None:
            from unshutter.guidance.tracks import parse_vector

            try:
                self.motion = parse_vector(",".join(repr(float(v)) for v in self.motion))
            except (TypeError, ValueError) as exc:
                raise ParameterError(
                    str(exc) if "--motion" in str(exc) else f"--motion {self.motion!r}: expected DX,DY"
                ) from None
        if self.motion_pass is not None or self.motion_pass_channels:
            self.motion_pass_spec()
        if self.overrides and not Path(self.overrides).is_file():
            raise ParameterError(f"--overrides {self.overrides}: file not found")

    @property
    def has_motion_pass(self) -> bool:
        """Whether a motion pass is given (a blank pattern is none)."""
        return self.motion_pass is not None and bool(str(self.motion_pass).strip())

    def check_pass_options(self, has_pass: bool | None = None, alternative: str = "") -> None:
        """Refuse a convention of the motion pass set away from its default with no pass to describe
        (``has_pass``: whether one is given, by default ``motion_pass``): it would change only the run's
        signature, so a resume is refused or a render redone for nothing, and the artist who forgot
        ``--motion-pass`` is not told. Called where a person sets the options (the CLI, a batch spec, a
        timeline), not by :meth:`validate`: the OFX worker sends its Vectors conventions whether or not a
        Vectors clip is connected. ``alternative``: another way to give a pass, for the message."""
        if has_pass is None:
            has_pass = self.has_motion_pass
        if has_pass:
            return
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in PASS_CONVENTIONS and value != f.default:
                raise ParameterError(
                    f"--{f.name.replace('_', '-')} {value}: give --motion-pass too (the pass it describes){alternative}"
                )

    def motion_pass_spec(self) -> MotionPass | None:
        """The motion-vector pass these parameters name, checked (ParameterError naming the flag); None without."""
        channels = parse_channels(self.motion_pass_channels)
        check_conventions(self.motion_pass_y, self.motion_pass_points, self.motion_pass_units)
        if not self.has_motion_pass:
            if channels is not None:
                raise ParameterError(
                    f"--motion-pass-channels {self.motion_pass_channels}: give --motion-pass too (the pass to read them from)"
                )
            return None
        if self.motion is not None:
            raise ParameterError(
                f"--motion-pass {self.motion_pass}: give one motion, the pass (per pixel) or --motion (one vector)"
            )
        return MotionPass(
            str(self.motion_pass), channels, self.motion_pass_y, self.motion_pass_points, self.motion_pass_units
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FrameResult:
    """The sub-frames of one source frame and how its guidance came about."""

    subframes: np.ndarray  # [N, H, W, 3] scene-linear
    guidance: np.ndarray  # [H, W, 6] float16 (signs and flags exact, motion to < 0.05 px)
    guidance_source: str
    info: dict[str, Any] = field(default_factory=dict)
    motion: np.ndarray | None = None  # [H, W, 2] px per frame interval where flow or an override gave it
    schedule: timing.Schedule | None = None
    follow: np.ndarray | None = None  # [H, W] float16 follow weight: which motion wins where two land (travel.Warper)
    carried: retime.Carried | None = None  # what the neighbours' outputs blend toward (360 degrees)
    blurred: np.ndarray | None = None  # [H, W, 3] the source frame, scene-linear, while ``carried`` is set
    warper: travel.Warper | None = None  # what the outputs followed the motion with, while ``carried`` is set


@dataclass
class Prepared:
    """A source frame ready to decompose (:meth:`Node.prepare`): its encoding and guidance."""

    frame: int
    cur: np.ndarray  # [H, W, 3] scene-linear
    scale: float  # exposure scale of the network encoding
    enc: np.ndarray | None  # [H, W, 3] network encoding; None once taken
    guidance: np.ndarray  # [H, W, 6] float16
    source: str  # where the guidance came from
    trust: np.ndarray | None  # [H, W] in [0, 1], or None

    def take_encoding(self) -> np.ndarray:
        """The encoding, dropped from here (it is freed once decomposed: a frame's worth at 4K)."""
        enc, self.enc = self.enc, None
        assert enc is not None, "Node.finish: this frame was finished already"
        return enc


def neighbours_needed(params: NodeParams, size: tuple[int, int] | None = None) -> tuple[bool, bool]:
    """Whether the outputs of a frame of ``size`` (height, width) read the previous and the next frame's
    decompositions (:meth:`Node.settle`): both at 360 degrees while the outputs follow the motion (frames up to
    ``retime.BLEND_PIXELS``), the next one below 360 (the closed-shutter gap)."""
    sched = timing.schedule(params.factor, params.shutter, params.timing)
    blend = retime.blends(sched, size) and params.follow > 0
    return blend, blend or sched.gap > 0


def _grays(
    cur: np.ndarray, prev: np.ndarray | None, nxt: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, list[str]]:
    """The frame and its neighbours in grey for the flow, a neighbour across a cut dropped, and the cuts found.

    Shape: [H, W, 3] network encoding (a neighbour may come as its grey already, [H, W] uint8) -> [H, W] uint8 each"""
    gc = flow.to_gray8(cur)
    gp = _gray8(prev) if prev is not None else None
    gn = _gray8(nxt) if nxt is not None else None
    cuts = []
    if gp is not None and flow.is_cut(gp, gc):
        gp = None
        cuts.append("cut-before")
    if gn is not None and flow.is_cut(gc, gn):
        gn = None
        cuts.append("cut-after")
    return gc, gp, gn, cuts


def _gray8(frame: np.ndarray) -> np.ndarray:
    """A network-encoded frame in grey for the flow, or the grey itself. Shape: [H, W, 3] or [H, W] -> [H, W] uint8"""
    return frame if frame.ndim == 2 else flow.to_gray8(frame)


def _ranked(follow: np.ndarray | None, agreement: np.ndarray) -> np.ndarray:
    """Which motion wins where two land in the gap: the frame's follow weight, or the gap flow's agreement
    where that is higher. Shape: [H, W] float16 or None, [H, W] float32 -> [H, W] float16"""
    if follow is None:
        return agreement.astype(np.float16)
    return np.maximum(follow, agreement.astype(np.float16))


class Node:
    """Decompose source frames into sub-frames with the node's parameters."""

    def __init__(
        self,
        params: NodeParams,
        decomposer: Decomposer | None = None,
        model_path: str | None = None,
        device: str = "auto",
        overrides: Overrides | None = None,
    ) -> None:
        """``overrides``: ``params.overrides`` already loaded (a farm task loads it with its path
        mapping); by default the node loads it."""
        params.validate()
        self.params = params
        if overrides is None and params.overrides:
            overrides = load_overrides(params.overrides)
        self.overrides: Overrides | None = overrides if params.overrides else None
        self.motion_pass: MotionPass | None = params.motion_pass_spec()
        if self.overrides is not None and self.overrides.uses_node_pass() and self.motion_pass is None:
            raise ParameterError(
                f"{params.overrides}: a region takes its motion from the motion pass (motion_pass: true): "
                "give --motion-pass"
            )
        self.decomposer = decomposer or Decomposer(model_path, device=device)
        self.render_scale: tuple[float, float] = (1.0, 1.0)  # frames rendered at this (x, y) of full resolution

    # ------------------------------------------------------------ guidance
    def guidance_for(
        self,
        frame: int,
        cur: np.ndarray,
        prev: np.ndarray | None,
        nxt: np.ndarray | None,
        matte: np.ndarray | None = None,
        matte_direction: str | tuple[float, float] | None = None,
        trust_out: dict[str, np.ndarray] | None = None,
        vectors: np.ndarray | None = None,
    ) -> tuple[np.ndarray, str]:
        """Guidance for ``frame`` from its network-encoded neighbours and the overrides.

        ``matte`` [H, W] with ``matte_direction`` is a host-supplied region (the
        OFX Guide clip) applied after the override file: a direction name, or a
        motion vector (dx, dy) in px per exposure at full resolution, which
        replaces the motion there with a feathered edge like an override region.
        ``trust_out``, when given, receives ``"trust"``: [H, W] in [0, 1], how far
        the motion can be trusted (flow consistency; 1 where an override or the
        matte set it, as far as a warp along that motion holds and the neighbours bear it out),
        when the flow or the artist's motion could be checked.
        ``vectors`` [H, W, 2] is a host-supplied motion-vector pass (the OFX Vectors clip) already in the
        node's terms, px per frame interval at this frame's size, x right, y down; it wins over
        ``--motion-pass`` and is used like it.

        Shape:
            cur, prev, nxt: [H, W, 3] network encoding (``prev`` and ``nxt`` also as their grey for the flow,
            ``flow.to_gray8``: [H, W] uint8) -> [H, W, 6]
        """
        p = self.params
        h, w = cur.shape[:2]
        mode = p.guidance
        grays: tuple[np.ndarray, np.ndarray | None, np.ndarray | None, list[str]] | None = None
        # the pass's motion per frame interval at this frame's size (a proxy render's too: scaled by size)
        field = vectors
        if field is None and self.motion_pass is not None:
            field = self.motion_pass.motion(frame, h, w)
        if p.motion is not None:  # the artist's vector replaces any guidance mode; no flow needed
            (dx, dy), (sx, sy) = p.motion, self.render_scale
            g = encode.guidance_from_vector(h, w, (dx * sx, dy * sy), p.threshold)
            source = f"motion({dx:g},{dy:g})"
        elif field is not None:  # the artist's per-pixel motion, likewise
            g = encode.guidance_from_motion(field, p.shutter, p.threshold)
            named = self.motion_pass.path(frame).name if vectors is None and self.motion_pass is not None else "vectors"
            source = f"motion-pass({named})"
        elif mode in ("neighbors", "reverse"):
            grays = _grays(cur, prev, nxt)
            gc, gp, gn, cuts = grays
            motion, used, trust = flow.neighbor_motion(gp, gc, gn)
            if trust_out is not None and trust is not None:
                trust_out["trust"] = trust
            if motion is None:
                g, source = encode.empty_guidance(h, w), "none (no neighbour)"
            else:
                g = encode.guidance_from_motion(motion, p.shutter, p.threshold)
                source = f"neighbors:{used}"
            if cuts:
                source += f" [{','.join(cuts)}]"
            if mode == "reverse":
                g, source = encode.reverse(g), source + " reversed"
        elif mode == "none":
            g, source = encode.empty_guidance(h, w), "none"
        else:
            g, source = encode.guidance_from_direction(h, w, mode), mode
        if p.reverse:
            g, source = encode.reverse(g), source + " +reverse"
        # the artist's whole-frame vector, all of it the artist's motion: checked against the neighbours if any
        drawn = (p.motion is not None or field is not None) and (prev is not None or nxt is not None)
        edits = drawn or self.overrides is not None or (matte is not None and bool(matte_direction))
        # only an edit changes the motion from here on (without one the check below found nothing: 47 ms per 720p frame)
        before = g[..., MX : MY + 1].copy() if trust_out is not None and edits else None
        if self.overrides is not None:
            g, used_ov = self.overrides.apply(g, frame, threshold=p.threshold, shutter=p.shutter, node_pass=field)
            if used_ov:
                source += " +overrides(" + ",".join(used_ov) + ")"
        if matte is not None and isinstance(matte_direction, tuple):
            from unshutter.guidance.overrides import DEFAULT_FEATHER, feather_mask

            (dx, dy), (sx, sy) = matte_direction, self.render_scale
            soft = feather_mask((matte >= 0.5).astype(np.float32), DEFAULT_FEATHER * 0.5 * (sx + sy))
            encode.apply_motion(g, soft, (dx * sx, dy * sy), p.threshold)
            source += f" +matte(motion {dx:g},{dy:g})"
        elif matte is not None and isinstance(matte_direction, str) and matte_direction:
            encode.apply_direction(g, matte, encode.DIRECTIONS[matte_direction])
            source += f" +matte({matte_direction})"
        if before is not None and trust_out is not None:
            # the artist's motion is trusted as given, except where a warp along it would cross onto another
            # motion (a band at a region's edge as wide as the motion; see travel.warp_consistency) and where the
            # neighbours contradict it (a railing in front of the car drawn over; overrides.neighbour_match)
            now = np.asarray(g[..., MX : MY + 1], np.float32)
            changed = (np.abs(now - before).max(axis=-1) > 1e-6) | drawn
            if changed.any():
                held = travel.warp_consistency(now * np.float32(MOTION_SCALE))
                gc, gp, gn, _ = grays if grays is not None else _grays(cur, prev, nxt)
                per_interval = now * np.float32(MOTION_SCALE * 360.0 / p.shutter)
                match = neighbour_match(per_interval, gc, gp, gn)
                if match is not None:
                    held *= match
                trust_out["trust"] = np.where(changed, held, trust_out.get("trust", np.float32(1.0)))
        return g, source

    # ------------------------------------------------------------ process
    def process(
        self,
        frame: int,
        cur: np.ndarray,
        prev: np.ndarray | None = None,
        nxt: np.ndarray | None = None,
        matte: np.ndarray | None = None,
        matte_direction: str | tuple[float, float] | None = None,
        abort: Callable[[], bool] | None = None,
        on_stage: Callable[[str], None] | None = None,
        progress: Callable[[int, int], None] | None = None,
        vectors: np.ndarray | None = None,
    ) -> FrameResult:
        """One source frame in scene-linear RGB -> its N sub-frames (:meth:`prepare`, then :meth:`finish`).

        ``on_stage`` is called with "flow", "decompose" and "resample" as each
        stage ends (``unshutter bench speed`` times and measures the node this way).
        ``abort`` and ``progress(done, total)`` go to the decomposer, which polls
        and reports them tile by tile (the OFX worker drives the host's progress
        bar and its cancel with them).

        Shape:
            cur, prev, nxt: [H, W, 3] scene-linear float32 -> FrameResult.subframes [N, H, W, 3]
        """
        prep = self.prepare(frame, cur, prev, nxt, matte, matte_direction, vectors)
        del prev, nxt  # the neighbours are not needed any more (the caller may still hold them)
        if on_stage is not None:
            on_stage("flow")
        return self.finish(prep, abort, on_stage, progress)

    def prepare(
        self,
        frame: int,
        cur: np.ndarray,
        prev: np.ndarray | None = None,
        nxt: np.ndarray | None = None,
        matte: np.ndarray | None = None,
        matte_direction: str | tuple[float, float] | None = None,
        vectors: np.ndarray | None = None,
    ) -> Prepared:
        """The first half of :meth:`process`: exposure, network encoding and guidance (the flow).

        Separate so a render loop can prepare the next frame while this one is
        decomposed (:mod:`unshutter.render.source`); it only reads the node.
        """
        scale = color.exposure_scale(cur)
        enc = color.to_network(cur, scale)
        pass_motion = self.motion_pass is not None or vectors is not None
        if self.params.motion is None and (pass_motion or self.params.guidance in ("neighbors", "reverse")):
            # the flow reads the neighbours in grey only: each encoding is freed as soon as its grey is made,
            # not held through the flow (two frames' worth of float32 at 4K, 190 MiB of the flow's peak)
            side = [flow.to_gray8(color.to_network(x, scale)) if x is not None else None for x in (prev, nxt)]
        else:
            side = [color.to_network(x, scale) if x is not None else None for x in (prev, nxt)]
        trust: dict[str, np.ndarray] = {}
        g, source = self.guidance_for(frame, enc, side[0], side[1], matte, matte_direction, trust, vectors)
        del side
        # half the memory at 4K; tiles go to the network as float32. The processor converts (F16C): numpy took
        # 25 times longer for motion components that become half subnormals (100 ms for the bench's 720p pan)
        g = kernels.to_half(np.ascontiguousarray(g)) if g.dtype == np.float32 else g.astype(np.float16)
        return Prepared(frame, cur, scale, enc, g, source, trust.get("trust"))

    def finish(
        self,
        prep: Prepared,
        abort: Callable[[], bool] | None = None,
        on_stage: Callable[[str], None] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> FrameResult:
        """The second half of :meth:`process`: decomposition and resampling (``on_stage``: "decompose",
        "resample"). Consumes ``prep`` (its encoding is freed once decomposed)."""
        p = self.params
        cur, scale, g = prep.cur, prep.scale, prep.guidance
        stage = on_stage or (lambda name: None)
        sub = self._decompose(prep.take_encoding(), g, scale, abort, progress)
        stage("decompose")
        sched = self.schedule()
        motion, weight = self.motion_of(g, prep.trust)
        memory.trim()  # large frames: what the conversions freed goes back before the resampling's peak (4K)
        mids: list[np.ndarray] = []
        warpers: list[travel.Warper] = []  # its landings serve the blend again (Node.settle)
        prep.trust = None  # in the weight now (a frame's worth of float32 at 4K less in the resampling)
        # a frame with nothing above 1 is display-referred (or dim): its outputs stay within [0, 1]
        ceiling = 1.0 if float(cur.max()) <= 1.0 else None
        out = retime.retime(
            sub,
            cur,
            p.factor,
            reuse=True,
            sched=sched,
            motion=motion,
            follow_weight=weight,
            ceiling=ceiling,
            deblur=sharpen.ITERATIONS if p.quality == "full" else 0,  # a draft skips the deconvolution
            mid_out=mids if retime.blends(sched, cur.shape[:2]) else None,
            warper_out=warpers,
        )
        stage("resample")
        held = weight.astype(np.float16) if weight is not None and sched.gap > 0 else None  # for fill_gap
        carried = None
        if mids and motion is not None and weight is not None and weight.any():
            carried = retime.Carried(mids[0], motion, weight.astype(np.float16))  # float32: HDR highlights past 65504
        del mids
        kept = warpers[0] if carried is not None and warpers else None
        return FrameResult(
            out, g, prep.source, {"exposure_scale": scale}, motion, sched, held, carried, cur if carried else None, kept
        )

    def schedule(self) -> timing.Schedule:
        return timing.schedule(self.params.factor, self.params.shutter, self.params.timing)

    def needs_next(self, size: tuple[int, int] | None = None) -> bool:
        """True when the outputs of a frame of ``size`` (height, width) wait for the next frame's decomposition
        (:meth:`settle`)."""
        return neighbours_needed(self.params, size)[1]

    def needs_previous(self, size: tuple[int, int] | None = None) -> bool:
        """True when the outputs of a frame of ``size`` also read the previous frame's decomposition (:meth:`settle`)."""
        return neighbours_needed(self.params, size)[0]

    def settle(self, res: FrameResult, before: retime.Carried | None, nxt: FrameResult | None) -> None:
        """Finish ``res``'s outputs once its neighbours are decomposed (in place).

        At 360 degrees its outputs blend toward the previous and next frames' carried mid-exposure
        frames (``before`` is the previous frame's :attr:`FrameResult.carried`); below, its closed-shutter
        outputs are interpolated toward the next frame's first (:meth:`fill_gap`). Neither crosses a cut.
        """
        own = res.carried
        followed, res.warper = res.warper, None
        if own is not None and res.blurred is not None and res.schedule is not None:
            scale = res.info.get("exposure_scale", 1.0)
            mine = own.gray(scale)

            def joined(other: retime.Carried | None) -> retime.Carried | None:
                if other is None:
                    return None
                return None if flow.is_cut(mine, other.gray(scale)) else other

            after = nxt.carried if nxt is not None else None
            blurred = res.blurred
            ceiling = 1.0 if float(blurred.max()) <= 1.0 else None
            retime.blend_neighbours(
                res.subframes, blurred, res.schedule, own, joined(before), joined(after), ceiling, followed
            )
        self.fill_gap(res, nxt)

    def motion_of(self, g: np.ndarray, trust: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Motion per frame interval and the follow weight from the guidance; (None, None) without any.

        The weight is ``follow`` where the motion is known and trusted (``trust``,
        from the flow's forward/backward consistency): following a wrong motion
        smears what the decomposer got right. ``follow`` above 1 raises the
        weight past the trust, to 1 wherever the motion is known at 2: more
        motion and detail, at the cost of content carried the wrong way where
        the flow is wrong (MODEL_CARD.md, "How much the trust weight holds back").

        Shape:
            g: [H, W, 6], trust: [H, W] -> [H, W, 2], [H, W]
        """
        valid = np.asarray(g[..., MVALID], np.float32)
        if not valid.any():
            return None, None
        per_interval = np.float32(MOTION_SCALE * 360.0 / self.params.shutter)
        motion = np.asarray(g[..., MX : MY + 1], np.float32) * per_interval
        motion *= valid[..., None]
        f = self.params.follow
        if f <= 1.0 or trust is None:
            weight = valid * np.float32(min(f, 1.0))
            if trust is not None:
                weight *= trust
        else:  # past 1: toward following everywhere, the flow's consistency or not (2)
            weight = valid * (trust + np.float32(f - 1.0) * (np.float32(1.0) - trust))
        return motion, weight

    def fill_gap(self, res: FrameResult, nxt: FrameResult | None) -> None:
        """Interpolate ``res``'s closed-shutter outputs toward the next frame's first output (in place).

        Each end travels along the flow measured between the two sharp ends where it holds
        (:func:`unshutter.guidance.bridge.gap_motion`), else along its own frame's motion. Without
        ``nxt``, or when ``nxt`` is across a hard cut, they stay carried forward along ``res``'s own
        motion (a cross-fade into another shot would be a visible dissolve).
        """
        sched = res.schedule
        if nxt is None or sched is None or sched.gap == 0:
            return
        scale = res.info.get("exposure_scale", 1.0)
        last = flow.to_gray8(color.to_network(res.subframes[sched.inside - 1], scale))
        first = flow.to_gray8(color.to_network(nxt.subframes[0], scale))
        if flow.is_cut(last, first):
            res.guidance_source += " [gap not interpolated: cut]"
            return
        span = 1.0 + sched.times[0] - sched.times[sched.inside - 1]
        m_last, m_first, agree_last, agree_first = bridge.gap_motion(last, first, span, res.motion, nxt.motion)
        retime.fill_gap(
            res.subframes,
            sched,
            m_last,
            nxt.subframes[0],
            m_first,
            _ranked(res.follow, agree_last),
            _ranked(nxt.follow, agree_first),
            scale,
        )

    def _decompose(
        self,
        enc: np.ndarray,
        g: np.ndarray,
        scale: float,
        abort: Callable[[], bool] | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Sub-frames in scene-linear (``scale``: the frame's exposure scale).

        Shape: [H, W, 3] network encoding, [H, W, 6] -> [K, H, W, 3]"""
        h, w = enc.shape[:2]
        if self.params.quality == "draft" and min(h, w) >= 32:
            hh, ww = (h + 1) // 2, (w + 1) // 2
            enc_s = cv2.resize(enc, (ww, hh), interpolation=cv2.INTER_AREA)
            g_s = cv2.resize(np.asarray(g, np.float32), (ww, hh), interpolation=cv2.INTER_NEAREST)
            g_s[..., MX] *= 0.5
            g_s[..., MY] *= 0.5
            sub_s = self.decomposer(enc_s, np.ascontiguousarray(g_s), self.params.tile, abort, progress)
            out = np.empty((sub_s.shape[0], h, w, 3), np.float32)
            for k in range(sub_s.shape[0]):
                delta = cv2.resize(sub_s[k] - enc_s, (w, h), interpolation=cv2.INTER_LINEAR)
                out[k] = color.from_network(enc + delta, scale)
            return out
        return self.decomposer(enc, g, self.params.tile, abort, progress, linear_scale=scale)
