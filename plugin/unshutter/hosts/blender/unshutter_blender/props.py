"""Per-strip settings: stored on the strip (its custom property ``unshutter``) so a re-run reuses them."""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, StringProperty

from . import compat

GUIDANCE_ITEMS = (
    ("NEIGHBORS", "Neighbours", "Motion direction from optical flow to the previous and next frames"),
    ("NONE", "None", "No guidance: the model picks an order"),
    ("LEFT", "Left", "Everything moves left"),
    ("RIGHT", "Right", "Everything moves right"),
    ("UP", "Up", "Everything moves up"),
    ("DOWN", "Down", "Everything moves down"),
    ("REVERSE", "Reverse", "Optical flow, time reversed"),
)

TIMING_ITEMS = (
    (
        "EVEN",
        "Even",
        "Output frames at equal steps of 1/N of the frame interval; below 360 degrees those that fall "
        "while the shutter was closed are interpolated toward the next frame",
    ),
    (
        "EXPOSURE",
        "Exposure Only",
        "All N output frames share the exposure (below 360 degrees playback jumps across the closed shutter)",
    ),
)

# The node settings an artist sets; both the operator and the strip settings have them.
SETTINGS = (
    "factor",
    "guidance",
    "reverse",
    "overrides",
    "use_motion",
    "motion",
    "motion_pass",
    "motion_pass_channels",
    "motion_pass_y",
    "motion_pass_points",
    "motion_pass_units",
    "shutter",
    "timing",
    "follow",
    "output_dir",
)

FACTOR = dict(
    name="Factor",
    default=7,
    min=1,
    max=16,
    description="Sharp sub-frames per source frame: the new strip is this many times longer (1 = deblur only)",
)
GUIDANCE = dict(
    name="Guidance",
    items=GUIDANCE_ITEMS,
    default="NEIGHBORS",
    description="Where the motion direction (and so the time order of the sub-frames) comes from",
)
REVERSE = dict(name="Reverse", default=False, description="Reverse the time order of the whole shot")
OVERRIDES = dict(
    name="Overrides",
    default="",
    subtype="FILE_PATH",
    description="Per-shot override file (YAML/JSON or labelme JSON) with directions for regions and frames",
)
USE_MOTION = dict(
    name="Motion Vector",
    default=False,
    description="Give the motion yourself (a still, or where the flow fails): replaces Guidance",
)
MOTION = dict(
    name="Motion",
    default=(0.0, 0.0),
    size=2,
    min=-10000.0,
    max=10000.0,
    precision=1,
    subtype="XYZ",
    description="Motion while the shutter is open, in pixels of the footage: X to the right, Y down "
    "(40, 0 = a 40 px streak to the right)",
)
MOTION_PASS = dict(
    name="Motion Pass",
    default="",
    subtype="FILE_PATH",
    description="A motion-vector pass matched frame for frame with the strip (e.g. //vectors/shot_####.exr, a "
    "render's Vector pass in a multilayer EXR): per-pixel motion in pixels per frame; replaces Guidance and "
    "Motion Vector (unshutter run --motion-pass)",
)
MOTION_PASS_CHANNELS = dict(
    name="Pass Channels",
    default="",
    description="The pass's two vector channels X,Y (empty: the first found of forward.u,forward.v; "
    "backward.u,backward.v; Vector.Z,Vector.W; Vector.X,Vector.Y)",
)
MOTION_PASS_Y_ITEMS = (
    ("UP", "Up", "A positive y moves up the picture (Blender, Nuke: origin at the bottom left)"),
    ("DOWN", "Down", "A positive y moves down the picture (image rows)"),
)
MOTION_PASS_Y = dict(
    name="Pass Y", items=MOTION_PASS_Y_ITEMS, default="UP", description="The motion pass's y direction"
)
MOTION_PASS_POINTS_ITEMS = (
    ("AUTO", "Auto", "By channel name: backward for Blender's Vector pass and Nuke's backward layer, else forward"),
    ("FORWARD", "Forward", "Vectors point where a pixel goes in the next frame"),
    ("BACKWARD", "Backward", "Vectors point against the motion"),
)
MOTION_PASS_POINTS = dict(
    name="Pass Points",
    items=MOTION_PASS_POINTS_ITEMS,
    default="AUTO",
    description="Which way the motion pass's vectors point",
)
MOTION_PASS_UNITS_ITEMS = (
    ("PX", "Pixels", "Pixels per frame at the pass's resolution (Blender, Nuke)"),
    ("NDC", "NDC", "Normalised: -1 to 1 across the pass's frame, x by its width, y by its height"),
    ("UV", "UV", "Normalised: 0 to 1 across the pass's frame, x by its width, y by its height"),
)
MOTION_PASS_UNITS = dict(
    name="Pass Units",
    items=MOTION_PASS_UNITS_ITEMS,
    default="PX",
    description="The motion pass's units: pixels, or normalised to its frame as real-time engines write them",
)
SHUTTER = dict(
    name="Shutter",
    default=360.0,
    min=1.0,
    max=360.0,
    precision=1,
    description="Shutter angle of the source footage in degrees",
)
TIMING = dict(
    name="Timing",
    items=TIMING_ITEMS,
    default="EVEN",
    description="When the N output frames of a source frame are shown (unshutter run --timing)",
)
FOLLOW = dict(
    name="Follow Motion",
    default=1.25,
    min=0.0,
    max=2.0,
    precision=2,
    description="How closely the sub-frames follow the motion estimated from the neighbouring frames: 0 keeps "
    "the decomposer's own, 1 carries the mid-exposure frame along the motion where the flows to the previous "
    "and next frame agree, 2 everywhere (more motion, but wrong where the flow is); 1.25 (the default) a "
    "quarter of the way from 1 to 2 (unshutter run --follow)",
)
OUTPUT_DIR = dict(
    name="Output Folder",
    default="//unshutter/",
    subtype="DIR_PATH",
    description="Where the sub-frames are written (// = beside the .blend file); one sub-folder per strip and settings",
)


class UnshutterStripSettings(bpy.types.PropertyGroup):
    """Unshutter settings and links kept on a source strip and on its slow-motion strip."""

    factor: IntProperty(**FACTOR)
    guidance: EnumProperty(**GUIDANCE)
    reverse: BoolProperty(**REVERSE)
    overrides: StringProperty(**OVERRIDES)
    use_motion: BoolProperty(**USE_MOTION)
    motion: FloatVectorProperty(**MOTION)
    motion_pass: StringProperty(**MOTION_PASS)
    motion_pass_channels: StringProperty(**MOTION_PASS_CHANNELS)
    motion_pass_y: EnumProperty(**MOTION_PASS_Y)
    motion_pass_points: EnumProperty(**MOTION_PASS_POINTS)
    motion_pass_units: EnumProperty(**MOTION_PASS_UNITS)
    shutter: FloatProperty(**SHUTTER)
    timing: EnumProperty(**TIMING)
    follow: FloatProperty(**FOLLOW)
    output_dir: StringProperty(**OUTPUT_DIR)
    role: EnumProperty(
        name="Role",
        default="NONE",
        items=(
            ("NONE", "None", "Not processed yet"),
            ("SOURCE", "Source", "A blurred strip that has a slow-motion strip"),
            ("RESULT", "Result", "The slow-motion strip made from a source strip"),
        ),
    )
    link: StringProperty(
        name="Link",
        description="Id shared by a source strip and its slow-motion strip: "
        "finds one from the other whatever they are named",
    )
    source: StringProperty(name="Source Strip", description="Name of the blurred strip at the last run")
    result: StringProperty(name="Slow-Motion Strip", description="Name of the strip made from this one at the last run")
    output: StringProperty(name="Output", description="Output file pattern of the last run")
    manifest: StringProperty(name="Manifest", description="The engine's manifest of the last run")


def has_settings(strip) -> bool:
    """True when the strip carries Unshutter settings (it was processed before)."""
    return compat.has_property(strip, "unshutter")


def read(settings) -> dict:
    return {name: plain(name, getattr(settings, name)) for name in SETTINGS}


def plain(name: str, value):
    """A setting as plain Python (the motion vector as a tuple, not a Blender array)."""
    return tuple(round(float(v), 4) for v in value) if name == "motion" else value


def write(settings, values: dict) -> None:
    for name in SETTINGS:
        setattr(settings, name, values[name])
