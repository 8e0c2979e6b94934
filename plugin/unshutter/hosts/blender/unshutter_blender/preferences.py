"""Add-on preferences: where the Unshutter engine is."""

import bpy
from bpy.props import IntProperty, StringProperty

from . import engine


def get(context=None):
    """These preferences, or None when the add-on is not enabled under its package name."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


def threads(context=None) -> int:
    """The Threads preference (0: all cores, the engine's default)."""
    prefs = get(context)
    return int(prefs.threads) if prefs is not None else 0


def find_engine(context=None) -> tuple:
    """(executable or None, where it came from), using the preference first."""
    prefs = get(context)
    preferred = bpy.path.abspath(prefs.engine_path) if prefs and prefs.engine_path else ""
    blend_dir = bpy.path.abspath("//") if bpy.data.filepath else None
    return engine.find_executable(preferred, blend_dir)


class UnshutterPreferences(bpy.types.AddonPreferences):
    """Global settings of the add-on."""

    bl_idname = __package__

    engine_path: StringProperty(
        name="Engine executable",
        subtype="FILE_PATH",
        default="",
        description=(
            "The 'unshutter' command (e.g. /path/to/project/.venv/bin/unshutter). Empty: "
            f"{engine.ENV_VAR}, the one that installed the add-on, PATH, then a .venv nearby"
        ),
    )

    threads: IntProperty(
        name="Threads",
        default=0,
        min=0,
        max=1024,
        description=(
            "Threads each run may use (ONNX Runtime, OpenCV, native kernels). 0: all cores; "
            "lower it to keep Blender responsive, or when other renders share the machine"
        ),
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "engine_path")
        layout.prop(self, "threads")
        exe, where = find_engine(context)
        row = layout.row()
        if exe:
            row.label(text=f"Using {exe} ({where})", icon="CHECKMARK")
        else:
            row.label(text=engine.not_found_message(), icon="ERROR")
