"""The sequencer sidebar panel (Unshutter tab) and the Strip menu entry."""

import bpy

from . import compat, preferences, props


class SEQUENCER_PT_unshutter(bpy.types.Panel):
    """Settings of the active strip and the button that (re-)runs it."""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Unshutter"
    bl_label = "Deblur to Slow Motion"

    @classmethod
    def poll(cls, context):
        ed = compat.editor(context)
        strip = ed.active_strip if ed else None
        return strip is not None and strip.type in {"IMAGE", "MOVIE"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        strip = compat.editor(context).active_strip
        st = strip.unshutter
        if st.role == "RESULT":
            layout.label(text=f"Slow motion of {st.source}", icon="SEQ_STRIP_DUPLICATE")
        elif st.role == "SOURCE":
            layout.label(text=f"Slow motion in {st.result}", icon="SEQ_STRIP_DUPLICATE")
        col = layout.column()
        for name in props.SETTINGS:
            col.prop(st, name)
        label = {"text": "Re-run"} if st.role != "NONE" else {}
        op = layout.operator("sequencer.unshutter_slowmo", icon="RENDER_ANIMATION", **label)
        for name in props.SETTINGS:
            setattr(op, name, props.plain(name, getattr(st, name)))
        exe, where = preferences.find_engine(context)
        if exe is None:
            layout.label(text="Engine not found: see the add-on preferences", icon="ERROR")


def menu_entry(self, context):
    self.layout.separator()
    self.layout.operator("sequencer.unshutter_slowmo", icon="RENDER_ANIMATION")
