"""Relink the chosen clips of an OpenTimelineIO timeline to new slow-motion media.

For every selected video clip whose media is an image sequence or a movie:

1. map the clip's source range (media time) to the engine's frame numbers;
2. run the node on those frames (plus handles the adjacent transitions need);
   the engine reads the neighbouring frames it needs for guidance itself,
   because it is given the whole media with ``frames`` set to the range;
3. relink the clip to an :class:`ImageSequenceReference` of the new frames at
   the media's own rate, so the source range is N times longer in frames and
   the clip plays N times slower (the new media keeps the source media's
   timecode at its first frame); later items move down the track. The old
   reference stays in the clip under the media-reference key
   ``unshutter_source``; clip markers are moved with the picture;
4. record the run in ``clip.metadata["unshutter"]``.

A clip that cannot be processed (missing media, an unsupported reference, a
speed effect already on it, an engine error) is reported by name and left
as it was. Unselected clips, gaps, transitions, track and timeline markers
and all other metadata pass through untouched.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlparse

import opentimelineio as otio

import unshutter
from unshutter.errors import InputError, OutputError, ParameterError, UnshutterError
from unshutter.io import movie, sequence
from unshutter.node import Node, NodeParams
from unshutter.params import keyed
from unshutter.pipeline import RunConfig, RunResult, run
from unshutter.render.numbering import numbering

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
IMAGE_EXTS = (".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg")
OUT_FORMATS = ("exr", "dpx", "tif", "png")
SOURCE_KEY = "unshutter_source"  # media-reference key that keeps the original media
MOTION_PASS_KEY = "motion_pass"  # media-reference key of a clip's own motion-vector pass
PASS_TOKENS = {"clip": "the clip's name", "media": "its media's name"}  # filled in --motion-pass per clip


@dataclass
class TimelineConfig:
    """What ``unshutter timeline`` was asked to do."""

    params: NodeParams
    media_dir: Path
    clips: list[str] | None = None  # clip names; None = every video clip
    format: str | None = None  # output image format; default: the input's (png for movies)
    handles: int = 0  # extra source frames on each side
    model: str | None = None
    device: str = "auto"


@dataclass
class ClipReport:
    """What happened to one selected clip."""

    name: str
    track: str
    status: str  # "processed" | "skipped"
    reason: str = ""
    output: str = ""
    frames: tuple[int, int] | None = None
    written: int = 0
    details: dict[str, Any] = field(default_factory=dict)


class Unprocessable(Exception):
    """This clip is reported and left unchanged."""


# ------------------------------------------------------------------ files
def read_timeline(path: str | Path, rate: float = 24.0) -> otio.schema.Timeline:
    """An .otio/.otioz/.otiod file or a CMX 3600 EDL (``rate`` is the EDL's frame rate)."""
    p = Path(path)
    if not p.is_file() and not p.is_dir():
        raise InputError(f"{p}: timeline file not found")
    try:
        if p.suffix.lower() == ".edl":
            obj = otio.adapters.read_from_file(str(p), adapter_name="cmx_3600", rate=rate)
        else:
            obj = otio.adapters.read_from_file(str(p))
    except otio.exceptions.NoKnownAdapterForExtensionError:
        raise InputError(
            f"{p}: no OpenTimelineIO adapter reads {p.suffix or 'this file'} "
            "(for EDLs: pip install otio-cmx3600-adapter)"
        ) from None
    except Exception as exc:  # adapters raise all kinds of errors for malformed files
        raise InputError(
            f"{p}: cannot read the timeline ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    if isinstance(obj, otio.schema.SerializableCollection):
        timelines = list(obj.find_children(descended_from_type=otio.schema.Timeline, shallow_search=True))
        if len(timelines) != 1:
            raise InputError(f"{p}: holds {len(timelines)} timelines; give a file with one")
        obj = timelines[0]
    if not isinstance(obj, otio.schema.Timeline):
        raise InputError(f"{p}: not a timeline ({type(obj).__name__})")
    return obj


def write_timeline(timeline: otio.schema.Timeline, path: str | Path) -> None:
    """Write through a temporary beside ``path`` (any adapter by extension), then rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.stem}.unshutter-tmp{os.getpid()}{p.suffix}")
    try:
        otio.adapters.write_to_file(timeline, str(tmp))
        os.replace(tmp, p)
    except otio.exceptions.NoKnownAdapterForExtensionError:
        raise ParameterError(f"-o {p}: no OpenTimelineIO adapter writes {p.suffix or 'this file'}") from None
    except OSError as exc:
        raise OutputError(f"{p}: cannot write the timeline ({exc.strerror or exc})") from None
    except Exception as exc:  # an adapter that cannot express something (e.g. image sequences in an EDL)
        raise OutputError(
            f"{p}: the {p.suffix} adapter cannot write this timeline "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); use .otio"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------ media
@dataclass
class Media:
    """A clip's media as the engine sees it, and how media time maps to engine frames."""

    spec: str  # engine input
    kind: str  # "sequence" | "movie"
    rate: float
    first: int  # first engine frame
    last: int
    to_frame: Callable[[otio.opentime.RationalTime], float]
    to_time: Callable[[int], float]  # engine frame -> media time in frames at ``rate`` (to_frame's inverse)
    url_style: str  # "uri" | "path"
    stem: str
    prefix: str
    suffix: str


def url_to_path(url: str) -> tuple[str, str]:
    """(local path, "uri"|"path"); raises Unprocessable for remote URLs."""
    if not url:
        raise Unprocessable("missing media (empty URL)")
    parsed = urlparse(url)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        if parsed.scheme == "file":
            return unquote(parsed.path), "uri"
        return url, "path"
    raise Unprocessable(f"unsupported media URL {url!r} (only local files)")


def _frames_of(t: otio.opentime.RationalTime, rate: float) -> float:
    return t.value_rescaled_to(rate)


def media_for(clip: otio.schema.Clip) -> Media:
    """The engine's view of ``clip``'s media, or Unprocessable with the reason."""
    ref = clip.media_reference
    avail = ref.available_range if ref is not None else None
    if ref is None or isinstance(ref, otio.schema.MissingReference):
        raise Unprocessable("missing media (no media reference)")
    if isinstance(ref, otio.schema.ImageSequenceReference):
        if ref.frame_step != 1:
            raise Unprocessable(f"unsupported image sequence: frame step {ref.frame_step}")
        base, style = url_to_path(ref.target_url_base)
        pat = sequence.SequencePattern(Path(base), ref.name_prefix, max(1, ref.frame_zero_padding), ref.name_suffix)
        rate = float(ref.rate)
        frames = pat.scan()
        if not frames:
            raise Unprocessable(f"missing media ({pat.display()}: no frames)")
        a_start = _frames_of(avail.start_time, rate) if avail is not None else 0.0
        start = ref.start_frame
        spec = str(pat.dirname / f"{pat.prefix}%0{pat.padding}d{pat.suffix}")
        return Media(
            spec,
            "sequence",
            rate,
            frames[0],
            frames[-1],
            lambda t: start + _frames_of(t, rate) - a_start,
            lambda f: f - start + a_start,
            style,
            pat.prefix.rstrip("._-") or "frames",
            pat.prefix,
            pat.suffix,
        )
    if isinstance(ref, otio.schema.ExternalReference):
        path, style = url_to_path(ref.target_url)
        rate = (
            float(avail.start_time.rate)
            if avail is not None
            else float(clip.source_range.start_time.rate if clip.source_range else 24.0)
        )
        suffix = Path(path).suffix.lower()
        if suffix in movie.MOVIE_EXTS and not sequence.is_sequence_spec(path):
            if not Path(path).is_file():
                raise Unprocessable(f"missing media ({path})")
            try:
                _, _, count, mrate = movie.probe(Path(path))
            except InputError as exc:
                raise Unprocessable(str(exc)) from None
            rate = float(avail.start_time.rate) if avail is not None else float(mrate)
            a_start = _frames_of(avail.start_time, rate) if avail is not None else 0.0
            return Media(
                path,
                "movie",
                rate,
                0,
                count - 1,
                lambda t: _frames_of(t, rate) - a_start,
                lambda f: f + a_start,
                style,
                Path(path).stem,
                Path(path).stem + ".",
                ".png",
            )
        if suffix in IMAGE_EXTS or sequence.is_sequence_spec(path):
            try:
                pat, explicit = sequence.parse_pattern(path)
            except ParameterError as exc:
                raise Unprocessable(f"unsupported media {path}: {exc}") from None
            frames = explicit if explicit else pat.scan()
            frames = [f for f in frames if pat.path(f).exists()]
            if not frames:
                raise Unprocessable(f"missing media ({path})")
            first = frames[0]
            if avail is not None:
                a_start = _frames_of(avail.start_time, rate)
                to_frame = lambda t: first + _frames_of(t, rate) - a_start  # noqa: E731
                to_time = lambda f: f - first + a_start  # noqa: E731
            else:  # EDL convention: the source timecode is the frame number
                to_frame = lambda t: _frames_of(t, rate)  # noqa: E731
                to_time = lambda f: float(f)  # noqa: E731
            spec = str(pat.dirname / f"{pat.prefix}%0{pat.padding}d{pat.suffix}")
            return Media(
                spec,
                "sequence",
                rate,
                first,
                frames[-1],
                to_frame,
                to_time,
                style,
                pat.prefix.rstrip("._-") or "frames",
                pat.prefix,
                pat.suffix,
            )
        raise Unprocessable(f"unsupported media {path} (not an image sequence or a movie)")
    raise Unprocessable(f"unsupported media reference ({type(ref).__name__})")


# ------------------------------------------------------------------ selection
def video_clips(timeline: otio.schema.Timeline) -> list[tuple[otio.schema.Clip, otio.schema.Track]]:
    """Every clip on a video track (nested stacks included), in timeline order."""
    found = []
    for clip in timeline.find_clips():
        parent = clip.parent()
        while parent is not None and not isinstance(parent, otio.schema.Track):
            parent = parent.parent()
        if parent is not None and parent.kind == otio.schema.TrackKind.Video:
            found.append((clip, parent))
    return found


def _neighbour_transitions(clip: otio.schema.Clip) -> tuple[Any, Any]:
    parent = clip.parent()
    if parent is None:
        return None, None
    items = list(parent)
    i = next(k for k, it in enumerate(items) if it is clip)
    before = items[i - 1] if i > 0 and isinstance(items[i - 1], otio.schema.Transition) else None
    after = items[i + 1] if i + 1 < len(items) and isinstance(items[i + 1], otio.schema.Transition) else None
    return before, after


def _speed_effect(clip: otio.schema.Clip) -> str | None:
    for eff in clip.effects:
        if isinstance(eff, otio.schema.TimeEffect):
            return type(eff).__name__
    return None


# ------------------------------------------------------------------ the job
def settings_key(spec: str, params: NodeParams, fmt: str) -> str:
    """Six hex digits: one output folder per media, node settings and format (re-runs reuse it; parameters
    at their legacy defaults stay out, so folders made before they existed are found again)."""
    d = keyed(params.to_dict())
    if params.overrides and Path(params.overrides).is_file():
        d["overrides_sha"] = hashlib.sha1(Path(params.overrides).read_bytes()).hexdigest()
    blob = json.dumps({"input": spec, "params": d, "format": fmt}, sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:6]


def retime_timeline(
    timeline: otio.schema.Timeline,
    cfg: TimelineConfig,
    log: Callable[[str], None] | None = None,
    node: Node | None = None,
) -> list[ClipReport]:
    """Process the selected clips of ``timeline`` in place; returns one report per selected clip."""
    say = log or (lambda _m: None)
    cfg.params.validate()
    if cfg.handles < 0:
        raise ParameterError(f"--handles {cfg.handles}: must be >= 0")
    if cfg.format is not None and cfg.format.lower().lstrip(".") not in OUT_FORMATS:
        raise ParameterError(f"--format {cfg.format}: choose one of {', '.join(OUT_FORMATS)}")
    candidates = video_clips(timeline)
    if cfg.clips is not None:
        names = {c.name for c, _ in candidates}
        unknown = [n for n in cfg.clips if n not in names]
        if unknown:
            raise ParameterError(f"--clips: no video clip named {', '.join(repr(n) for n in unknown)} in the timeline")
        candidates = [(c, t) for c, t in candidates if c.name in cfg.clips]
    own_pass = any(MOTION_PASS_KEY in c.media_references() for c, _ in candidates)
    cfg.params.check_pass_options(
        cfg.params.has_motion_pass or own_pass, f", or choose clips with their own {MOTION_PASS_KEY!r} reference"
    )
    resolved: dict[int, Media | Unprocessable] = {}
    _check_pass_pattern(cfg.params.motion_pass, [c for c, _ in candidates], resolved)
    reports = []
    for clip, track in candidates:
        try:
            if node is None:
                node = Node(cfg.params, model_path=cfg.model, device=cfg.device)
            rep = _process(clip, track, cfg, node, say, resolved)
        except Unprocessable as exc:
            rep = ClipReport(clip.name, track.name, "skipped", str(exc))
        except UnshutterError as exc:
            rep = ClipReport(clip.name, track.name, "skipped", f"engine: {exc}")
        if rep.status == "skipped":
            say(f"skipped clip {clip.name!r} on {track.name!r}: {rep.reason}")
        else:
            assert rep.frames is not None  # a processed clip has its frames
            say(
                f"processed clip {clip.name!r} on {track.name!r}: frames {rep.frames[0]}-{rep.frames[1]} "
                f"-> {rep.output} ({rep.written} written)"
            )
        reports.append(rep)
    _warn_overrides_outside(cfg, node, reports, say)
    return reports


def _resolve(clip: otio.schema.Clip, resolved: dict[int, Media | Unprocessable]) -> Media:
    """:func:`media_for` once per clip (it scans a sequence's folder or probes a movie), its answer
    or its Unprocessable kept in ``resolved`` for the clip's later steps."""
    got = resolved.get(id(clip))
    if got is None:
        try:
            got = media_for(clip)
        except Unprocessable as exc:
            got = exc
        resolved[id(clip)] = got
    if isinstance(got, Unprocessable):
        raise got
    return got


def _check_pass_pattern(
    pattern: str | None, clips: list[otio.schema.Clip], resolved: dict[int, Media | Unprocessable]
) -> None:
    """Before any rendering: a ``--motion-pass`` without tokens names one pass, which fits one media.

    Clips of different media (different shots) have different vectors: read
    under one name, each would be retimed along another shot's motion. The
    media resolved here are kept in ``resolved`` for the clips' runs.
    """
    if not pattern:
        return
    tokens = set(re.findall(r"\{(\w*)\}", pattern))
    unknown = sorted(tokens - set(PASS_TOKENS))
    if unknown:
        known = ", ".join(f"{{{t}}} ({what})" for t, what in PASS_TOKENS.items())
        raise ParameterError(f"--motion-pass {pattern}: unknown {{{unknown[0]}}}; use {known}")
    if tokens:
        return
    specs = set()
    for clip in clips:
        if MOTION_PASS_KEY in clip.media_references():
            continue
        try:
            specs.add(_resolve(clip, resolved).spec)
        except Unprocessable:
            continue  # reported as skipped when its turn comes
    if len(specs) > 1:
        raise ParameterError(
            f"--motion-pass {pattern}: one pass for clips of {len(specs)} different media; "
            "name each clip's pass with {media} or {clip} in the pattern, or choose clips with --clips"
        )


def clip_motion_pass(clip: otio.schema.Clip, media: Media, pattern: str | None) -> str | None:
    """The motion-vector pass ``clip``'s run reads: its own media reference under MOTION_PASS_KEY, else
    ``pattern`` (``--motion-pass``) with {clip} and {media} filled in. Its files are numbered like the media's frames."""
    ref = clip.media_references().get(MOTION_PASS_KEY)
    if ref is None:
        if not pattern:
            return None
        return pattern.replace("{clip}", clip.name).replace("{media}", media.stem)
    if isinstance(ref, otio.schema.ImageSequenceReference):
        base, _ = url_to_path(ref.target_url_base)
        padding = "#" * max(1, ref.frame_zero_padding)
        return str(Path(base) / f"{ref.name_prefix}{padding}{ref.name_suffix}")
    if isinstance(ref, otio.schema.ExternalReference):
        return url_to_path(ref.target_url)[0]
    raise Unprocessable(f"unsupported motion-pass reference ({type(ref).__name__}) under {MOTION_PASS_KEY!r}")


def _warn_overrides_outside(
    cfg: TimelineConfig, node: Node | None, reports: list[ClipReport], say: Callable[[str], None]
) -> None:
    """One line when override ranges miss the source frames of every processed clip: they changed nothing.

    The one override file applies to each selected clip's own source frames;
    missing some clips is expected (it was written for one), missing all is not.
    """
    done = [(r.name, tuple(r.details["processed_frames"])) for r in reports if r.status == "processed"]
    if node is None or node.overrides is None or not done:
        return
    missed = node.overrides.outside_every([rng for _, rng in done])
    if missed:
        ranges = ", ".join(f"{what} {a}-{b}" for what, (a, b) in missed)
        clips = ", ".join(f"{name} {a}-{b}" for name, (a, b) in done)
        say(
            f"warning: {cfg.params.overrides}: {ranges} outside the source frames of every clip processed "
            f"({clips}): no effect (override frames are source frame numbers)"
        )


@dataclass
class _Range:
    """A clip's source range in engine frames, and the frames processed for it."""

    s: int  # first source frame the clip shows
    e: int  # last
    lo: int  # first frame processed (with handles)
    hi: int  # last
    short: list[str]  # transition handles the media cannot give, for the report


def _process(
    clip: otio.schema.Clip,
    track: otio.schema.Track,
    cfg: TimelineConfig,
    node: Node,
    say: Callable[[str], None],
    resolved: dict[int, Media | Unprocessable],
) -> ClipReport:
    effect = _speed_effect(clip)
    if effect:
        raise Unprocessable(f"has a speed effect already ({effect})")
    if clip.source_range is None and clip.media_reference.available_range is None:
        raise Unprocessable("no source range and no available range")
    media = _resolve(clip, resolved)
    sr = clip.source_range or clip.media_reference.available_range
    rng = _frame_range(clip, media, sr, cfg)
    params = cfg.params
    mpass = clip_motion_pass(clip, media, params.motion_pass)
    if mpass != params.motion_pass:
        params = replace(params, motion_pass=mpass)
        # the same network and overrides; only the motion the node reads changes
        node = Node(params, decomposer=node.decomposer, overrides=node.overrides)
    fmt, folder, pad = _output_place(media, cfg, params)
    say(f"clip {clip.name!r}: frames {rng.lo}-{rng.hi} of {media.spec} x{params.factor}")
    if mpass:
        say(f"clip {clip.name!r}: motion pass {mpass}")
    result = run(
        RunConfig(
            input=media.spec,
            output=str(folder / f"{media.prefix}{'#' * pad}.{fmt}"),
            params=params,
            frames=(rng.lo, rng.hi),
            format=fmt,
            model=cfg.model,
            device=cfg.device,
        ),
        None,
        node=node,
    )
    assert result.numbering is not None  # a run reports its numbering
    first_out = _relink(clip, media, sr, rng, result, folder, fmt, pad)
    clip.metadata["unshutter"] = _clip_metadata(params, media, sr, rng, result)
    rep = ClipReport(
        clip.name,
        track.name,
        "processed",
        output=result.output,
        frames=(rng.s, rng.e),
        written=result.written,
        details={"processed_frames": [rng.lo, rng.hi], "first_output": first_out},
    )
    if rng.short:
        say(f"clip {clip.name!r}: transition handles {', '.join(rng.short)} (media ends)")
    return rep


def _frame_range(clip: otio.schema.Clip, media: Media, sr: otio.opentime.TimeRange, cfg: TimelineConfig) -> _Range:
    """The source range on whole media frames, widened by the handles the adjacent transitions need
    (in slowed frames), at least ``cfg.handles`` source frames; Unprocessable when off the media."""
    n = cfg.params.factor
    s = media.to_frame(sr.start_time)
    dur = sr.duration.value_rescaled_to(media.rate)
    if abs(s - round(s)) > 1e-6 or abs(dur - round(dur)) > 1e-6:
        raise Unprocessable(f"source range {sr} is not on whole frames of the media rate {media.rate:g}")
    s, dur = int(round(s)), int(round(dur))
    e = s + dur - 1
    if dur < 1 or s < media.first or e > media.last:
        raise Unprocessable(f"source range frames {s}-{e} are outside the media ({media.first}-{media.last})")
    before, after = _neighbour_transitions(clip)
    need_before = before.in_offset.value_rescaled_to(media.rate) if before is not None else 0.0
    need_after = after.out_offset.value_rescaled_to(media.rate) if after is not None else 0.0
    hb = max(cfg.handles, math.ceil(need_before / n))
    ha = max(cfg.handles, math.ceil(need_after / n))
    lo, hi = max(media.first, s - hb), min(media.last, e + ha)
    short = []
    if (s - lo) * n < need_before:
        short.append(f"{need_before - (s - lo) * n:g} frames short before")
    if (hi - e) * n < need_after:
        short.append(f"{need_after - (hi - e) * n:g} frames short after")
    return _Range(s, e, lo, hi, short)


def _output_place(media: Media, cfg: TimelineConfig, params: NodeParams) -> tuple[str, Path, int]:
    """(format, folder, frame padding) of the new media: one folder per media, settings and format."""
    fmt = (cfg.format or media.suffix.lstrip(".")).lower().lstrip(".")
    key = settings_key(media.spec, params, fmt)
    folder = cfg.media_dir.resolve() / f"{media.stem}_x{params.factor}_{key}"
    # an upper bound of any output number of the media
    pad = max(4, len(str(numbering(media.first, media.last, None, params.factor).clip_end())))
    return fmt, folder, pad


def _relink(
    clip: otio.schema.Clip,
    media: Media,
    sr: otio.opentime.TimeRange,
    rng: _Range,
    result: RunResult,
    folder: Path,
    fmt: str,
    pad: int,
) -> int:
    """Point ``clip`` at the new frames (the old reference kept under SOURCE_KEY), N times longer, markers
    moved with the picture; returns the first output number."""
    num = result.numbering
    assert num is not None
    n, rate = num.factor, media.rate
    first_out = num.outputs(rng.lo)[0]
    count_out = (rng.hi - rng.lo + 1) * n
    # The new media's timecode starts where the source media's does: the first sub-frame of the
    # media's first frame has the source's first timecode (86400 = 01:00:00:00 stays 01:00:00:00),
    # and every output file after it counts on by one. Clips sharing the media share the mapping.
    tc = media.to_time(media.first) - num.outputs(media.first)[0]
    new_ref = otio.schema.ImageSequenceReference(
        target_url_base=(folder.as_uri() + "/") if media.url_style == "uri" else str(folder) + os.sep,
        name_prefix=media.prefix,
        name_suffix=f".{fmt}",
        start_frame=first_out,
        frame_step=1,
        rate=rate,
        frame_zero_padding=pad,
        missing_frame_policy=otio.schema.ImageSequenceReference.MissingFramePolicy.error,
        available_range=TR(RT(first_out + tc, rate), RT(count_out, rate)),
        metadata={"unshutter": {"manifest": str(result.manifest), "capture_rate": _num(rate * n)}},
    )
    start = num.outputs(rng.s)[0] + tc
    clip.source_range = TR(RT(start, rate), RT((rng.e - rng.s + 1) * n, rate))
    active = clip.active_media_reference_key
    refs = {k: r.clone() for k, r in clip.media_references().items() if k not in (active, SOURCE_KEY)}
    refs.update({otio.schema.Clip.DEFAULT_MEDIA_KEY: new_ref, SOURCE_KEY: clip.media_reference.clone()})
    clip.set_media_references(refs, otio.schema.Clip.DEFAULT_MEDIA_KEY)
    for m in clip.markers:  # clip markers live in media time: keep them on the same picture
        mr = m.marked_range
        t = media.to_frame(mr.start_time)
        m.marked_range = TR(RT(start + (t - rng.s) * n, rate), RT(mr.duration.value_rescaled_to(rate) * n, rate))
    return first_out


def _clip_metadata(
    params: NodeParams, media: Media, sr: otio.opentime.TimeRange, rng: _Range, result: RunResult
) -> dict[str, Any]:
    """``clip.metadata["unshutter"]``: the settings, the source it came from, the run's output."""
    n = params.factor
    return {
        "version": unshutter.__version__,
        "factor": n,
        "shutter": params.shutter,
        "guidance": params.guidance,
        "reverse": params.reverse,
        "overrides": params.overrides or "",
        "motion": list(params.motion) if params.motion is not None else "",
        "motion_pass": (
            {
                "file": params.motion_pass,
                "channels": params.motion_pass_channels or "",
                "y": params.motion_pass_y,
                "points": params.motion_pass_points,
                "units": params.motion_pass_units,
            }
            if params.motion_pass
            else ""
        ),
        "source": {
            "media": media.spec,
            "media_reference_key": SOURCE_KEY,
            "source_range": {
                "start": _num(sr.start_time.value),
                "duration": _num(sr.duration.value),
                "rate": _num(sr.start_time.rate),
            },
            "frames": [rng.s, rng.e],
        },
        "processed_frames": [rng.lo, rng.hi],
        "output": result.output,
        "manifest": str(result.manifest),
        "capture_rate": _num(media.rate * n),
        "transition_handles_short": "; ".join(rng.short),
    }


def _num(x: float) -> float | int:
    """JSON-friendly number: ints stay ints."""
    f = Fraction(x).limit_denominator(1001)
    return int(f) if f.denominator == 1 else float(x)
