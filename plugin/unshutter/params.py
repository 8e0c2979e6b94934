"""The node's parameters, declared once: name, type, range, default, help, and the name each host
gives it.

Every host spells the parameters out in its own language: the CLI's flags (``cli/run.py``), the
farm's batch schema (``schemas/batch.schema.json``), the Blender add-on's properties
(``hosts/blender/unshutter_blender/props.py``) and the OpenFX plugin's table
(``ofx_bridge/src/plugin.cpp``). ``tests/test_params.py`` reads each of them and checks it against
this table, so a host that drifts fails a test. Where a host deliberately differs, the difference
is written here, in :data:`HOST_DIFFERENCES`, with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from collections.abc import Mapping
from typing import Any

# The choices live beside the code that acts on them; the table names them.
from unshutter.decomposer.runtime import DEFAULT_TILE, MIN_TILE
from unshutter.guidance.motion_pass import POINTS, UNITS, Y_CONVENTIONS
from unshutter.node import GUIDANCE_MODES, QUALITIES
from unshutter.retime import MAX_FACTOR
from unshutter.timing import TIMINGS

HOSTS = ("cli", "farm", "blender", "ofx")


@dataclass(frozen=True)
class Param:
    """One node parameter. ``lo``/``hi`` bound numbers (``lo_open``: ``lo`` itself is refused)."""

    name: str  # the NodeParams field
    kind: str  # int, float, bool, choice, path, string, vector
    default: Any
    help: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] | None = None
    cli: str | None = None  # flag of `unshutter run`
    farm: str | None = None  # key of a shot in a batch spec
    blender: str | None = None  # property of the add-on's strip settings
    ofx: str | None = None  # OFX parameter id

    def host_name(self, host: str) -> str | None:
        return getattr(self, host)


PARAMS: tuple[Param, ...] = (
    Param(
        "factor",
        "int",
        7,
        "sub-frames per source frame (1 = deblur only)",
        lo=1,
        hi=MAX_FACTOR,
        cli="--factor",
        farm="factor",
        blender="factor",
        ofx="factor",
    ),
    Param(
        "shutter",
        "float",
        360.0,
        "shutter angle of the source in degrees",
        lo=0.0,
        hi=360.0,
        lo_open=True,
        cli="--shutter",
        farm="shutter",
        blender="shutter",
        ofx="shutterAngle",
    ),
    Param(
        "guidance",
        "choice",
        "neighbors",
        "where the motion direction comes from",
        choices=GUIDANCE_MODES,
        cli="--guidance",
        farm="guidance",
        blender="guidance",
        ofx="guidance",
    ),
    Param(
        "reverse",
        "bool",
        False,
        "reverse the time order of the whole shot",
        cli="--reverse",
        blender="reverse",
        ofx="reverse",
    ),
    Param(
        "overrides",
        "path",
        None,
        "per-shot override file (YAML/JSON, or labelme JSON)",
        cli="--overrides",
        farm="overrides",
        blender="overrides",
        ofx="overrideFile",
    ),
    Param(
        "tile",
        "int",
        DEFAULT_TILE,
        "largest tile side for large frames, px (0: automatic)",
        lo=MIN_TILE,
        cli="--tile",
        ofx="tileSize",
    ),
    Param(
        "quality",
        "choice",
        "full",
        "draft decomposes at half resolution and skips the deblurring along the motion",
        choices=QUALITIES,
        cli="--quality",
        ofx="quality",
    ),
    Param(
        "threshold",
        "float",
        0.5,
        "static threshold in px per exposure",
        lo=0.0,
        cli="--threshold",
        ofx="staticThreshold",
    ),
    Param(
        "timing",
        "choice",
        "even",
        "where the output frames sit in time",
        choices=TIMINGS,
        cli="--timing",
        farm="timing",
        blender="timing",
        ofx="timing",
    ),
    Param(
        "follow",
        "float",
        1.25,
        "how closely sub-frames follow the estimated motion",
        lo=0.0,
        hi=2.0,
        cli="--follow",
        farm="follow",
        blender="follow",
        ofx="followMotion",
    ),
    Param(
        "motion",
        "vector",
        None,
        "whole-frame motion vector, px per exposure at full resolution",
        cli="--motion",
        farm="motion",
    ),
    Param(
        "motion_pass",
        "path",
        None,
        "motion-vector pass, one image per frame (px per frame); replaces the flow as the motion",
        cli="--motion-pass",
        farm="motion_pass",
        blender="motion_pass",
    ),
    Param(
        "motion_pass_channels",
        "string",
        None,
        "the pass's two vector channels X,Y (default: forward.u,forward.v, backward.u,backward.v, Vector.Z,Vector.W)",
        cli="--motion-pass-channels",
        farm="motion_pass_channels",
        blender="motion_pass_channels",
    ),
    Param(
        "motion_pass_y",
        "choice",
        "up",
        "the pass's y direction: up (Nuke, Blender) or down (image rows)",
        choices=Y_CONVENTIONS,
        cli="--motion-pass-y",
        farm="motion_pass_y",
        blender="motion_pass_y",
        ofx="vectorsY",
    ),
    Param(
        "motion_pass_points",
        "choice",
        "auto",
        "which way the pass's vectors point: forward (to the next frame), backward, auto (by channel name)",
        choices=POINTS,
        cli="--motion-pass-points",
        farm="motion_pass_points",
        blender="motion_pass_points",
        ofx="vectorsPoints",
    ),
    Param(
        "motion_pass_units",
        "choice",
        "px",
        "the pass's units: px (at its resolution), or normalised to its frame, ndc (-1..1) or uv (0..1)",
        choices=UNITS,
        cli="--motion-pass-units",
        farm="motion_pass_units",
        blender="motion_pass_units",
        ofx="vectorsUnits",
    ),
)

BY_NAME = {p.name: p for p in PARAMS}

# (host, parameter) -> the attributes that host gives the parameter differently, and why.
# These are disagreements found when the table was written (issue 19), kept so that saved OFX
# projects and Blender files open as before; each one is a candidate for unifying.
HOST_DIFFERENCES: dict[tuple[str, str], dict[str, Any]] = {
    # OFX 1.0 shipped factor 2-16, default 4 (a retimer of 1 is not a retime to OFX hosts).
    ("ofx", "factor"): {"lo": 2, "default": 4},
    # OFX and Blender sliders stop at a 1 degree shutter; the engine takes any angle above 0.
    ("ofx", "shutter"): {"lo": 1.0, "lo_open": False},
    ("blender", "shutter"): {"lo": 1.0, "lo_open": False},
    # OFX has no "reverse" guidance choice: its Reverse checkbox does it.
    ("ofx", "guidance"): {"choices": GUIDANCE_MODES[:-1]},
    # The OFX tile and threshold sliders need an upper end; the engine has none.
    # The OFX tile slider keeps its 768 px default (saved projects render as before) and its floor;
    # the engine's default 0 lets the runtime choose (whole frames up to 2048x1080).
    ("ofx", "tile"): {"hi": 16384, "default": 768},
    ("ofx", "threshold"): {"hi": 100.0},
    # The OFX Vectors input is a clip, without channel names to tell the direction by: forward unless told.
    ("ofx", "motion_pass_points"): {"choices": ("forward", "backward"), "default": "forward"},
    # A Blender string property holds "" for none.
    ("blender", "motion_pass_channels"): {"default": ""},
    # The farm schema leaves the default of every key to the engine.
}


# Parameters added after renders existed -> the value those renders had in effect (the engine's behaviour
# before the parameter). At that value a parameter stays out of every key that names earlier renders (the run
# signature of render.resume, the timeline's media folder, the Blender add-on's output folder, whose
# engine.LEGACY_DEFAULTS repeats this table), so they resume and are found again; any other value is another
# key. A new parameter goes here with the behaviour the engine had without it.
LEGACY_DEFAULTS: dict[str, Any] = {
    "motion_pass_units": "px",  # ac65893: passes were read in px before
}


def keyed(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` (by NodeParams name) for a key: without the parameters at their :data:`LEGACY_DEFAULTS`."""
    return {k: v for k, v in params.items() if k not in LEGACY_DEFAULTS or v != LEGACY_DEFAULTS[k]}


def expected(host: str, p: Param) -> Param:
    """What ``host`` should declare for ``p``: the table, with the host's written differences."""
    return replace(p, **HOST_DIFFERENCES.get((host, p.name), {}))
