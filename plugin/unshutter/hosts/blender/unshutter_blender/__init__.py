"""Unshutter for Blender's Video Sequence Editor: "Deblur to Slow Motion" on a strip.

The add-on is pure ``bpy``: it runs the Unshutter engine (``unshutter run
--json``) as a subprocess and puts the N-times slower sharp clip on the
channel above the source strip. Install it with ``unshutter blender install``
or ``unshutter blender zip -o unshutter_blender.zip`` and Preferences >
Add-ons > Install.
"""

bl_info = {
    "name": "Unshutter",
    "author": "Unshutter",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Sequencer > Sidebar > Unshutter; Sequencer > Strip > Deblur to Slow Motion",
    "description": "Turn a motion-blurred strip into sharp slow motion (N sub-frames per frame)",
    "category": "Sequencer",
}

if "bpy" in locals():  # F8 / script reload: pick up edited modules
    import importlib

    for _mod in (compat, engine, props, links, proxies, preferences, operators, panel):  # noqa: F821
        importlib.reload(_mod)
else:
    from . import compat, engine, links, operators, panel, preferences, props, proxies

import bpy

classes = (
    props.UnshutterStripSettings,
    preferences.UnshutterPreferences,
    operators.SEQUENCER_OT_unshutter_slowmo,
    panel.SEQUENCER_PT_unshutter,
)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    compat.strip_type().unshutter = bpy.props.PointerProperty(type=props.UnshutterStripSettings)
    bpy.types.SEQUENCER_MT_strip.append(panel.menu_entry)


def unregister() -> None:
    bpy.types.SEQUENCER_MT_strip.remove(panel.menu_entry)
    del compat.strip_type().unshutter
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
