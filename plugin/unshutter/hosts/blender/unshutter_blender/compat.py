"""The sequencer API across Blender 3.4 to 5.0, by feature detection.

Blender 4.4 renamed the strip type ``Sequence`` to ``Strip`` (and every
``...Sequence`` subclass to ``...Strip``) and gave the editor and meta strips
``strips`` / ``strips_all`` beside the old ``sequences`` / ``sequences_all``;
Blender 5.0 removed the old names. Blender 5.0 also keeps properties defined
with ``bpy.props`` apart from custom properties, so ``"unshutter" in
strip.keys()`` no longer sees the add-on's settings, and its sequencer
edits the workspace's own scene (``context.sequencer_scene``), which need not
be the window's. Every call here asks the object what it has instead of
comparing version numbers.
"""

import bpy


def scene(context):
    """The scene the sequencer shows: the workspace's sequencer scene (5.0+) when it has one, else the
    window's scene (None when there is neither)."""
    return getattr(context, "sequencer_scene", None) or context.scene


def editor(context):
    """The sequence editor of ``scene(context)``, or None."""
    sc = scene(context)
    return sc.sequence_editor if sc is not None else None


def strip_type():
    """The RNA type every strip derives from: ``bpy.types.Strip`` (4.4+), else ``bpy.types.Sequence``."""
    return getattr(bpy.types, "Strip", None) or bpy.types.Sequence


def all_strips(ed):
    """Every strip of the sequence editor ``ed``, inside meta strips too."""
    return ed.strips_all if hasattr(ed, "strips_all") else ed.sequences_all


def children(container):
    """The strips directly in ``container``: the sequence editor's top level or a meta strip's."""
    return container.strips if hasattr(container, "strips") else container.sequences


def has_property(strip, name: str) -> bool:
    """Whether the ``bpy.props`` property ``name`` was ever written on ``strip`` (saved with it)."""
    return strip.is_property_set(name)
