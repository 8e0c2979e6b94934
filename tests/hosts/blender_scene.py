"""Runs inside ``blender -b --factory-startup --python blender_scene.py -- CONFIG.json``.

Enables the installed add-on, builds a scene with one blurred image-sequence
strip, runs ``sequencer.unshutter_slowmo`` and writes what happened to the
config's ``result`` path as JSON; the pytest side checks it. Not a test
module itself (Blender's Python has no pytest and no numpy).
"""
import json
import os
import sys
import traceback

import addon_utils
import bpy

cfg = json.load(open(sys.argv[sys.argv.index("--") + 1]))
out = {"ok": False}


def strip_info(s):
    return {
        "name": s.name, "type": s.type, "filepath": bpy.path.abspath(s.filepath) if s.type == "MOVIE" else "", "channel": s.channel, "start": s.frame_final_start,
        "duration": s.frame_final_duration, "mute": s.mute,
        "directory": bpy.path.abspath(s.directory) if s.type == "IMAGE" else "",
        "files": [e.filename for e in s.elements] if s.type == "IMAGE" else [],
        "settings": s["unshutter"].to_dict() if "unshutter" in s.keys() else None,
    }


def timeline():
    ed = bpy.context.scene.sequence_editor
    return sorted((strip_info(s) for s in ed.sequences_all), key=lambda d: d["name"])


class FakeWindowManager:
    """What the modal operator asks of the window manager, recorded (background mode has no window)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *a, **k: self.calls.append(name) or name


class FakeWorkspace:
    def __init__(self):
        self.status = []

    def status_text_set(self, text):
        self.status.append(text)


def drive_modal(mode):
    """Run the operator's modal code path with fake TIMER/ESC events: 'finish' or 'cancel'."""
    import types
    from unshutter_blender import operators

    Op = operators.SEQUENCER_OT_unshutter_slowmo
    reports = []
    op = types.SimpleNamespace(**cfg["operator_modal"], _job=None, _timer=None,
                               properties=types.SimpleNamespace(is_property_set=lambda name: True),
                               report=lambda kind, msg: reports.append([sorted(kind)[0], msg]))
    for name in ("_settings", "_prepare", "_finish", "_start_modal", "modal", "_status", "_end"):
        setattr(op, name, getattr(Op, name).__get__(op))
    ctx = types.SimpleNamespace(scene=bpy.context.scene, preferences=bpy.context.preferences,
                                window_manager=FakeWindowManager(),
                                workspace=FakeWorkspace(), window=None)
    state = {"start": sorted(op._start_modal(ctx))}
    timer = types.SimpleNamespace(type="TIMER", value="NOTHING")
    esc = types.SimpleNamespace(type="ESC", value="PRESS")
    import time
    deadline = time.monotonic() + 300
    ticks = 0
    while time.monotonic() < deadline:
        if mode == "cancel" and op._job.run.frame_outputs:
            state["folder_before_cancel"] = len(os.listdir(op._job.run.output_folder))
            res = op.modal(ctx, esc)
        else:
            res = op.modal(ctx, timer)
        ticks += 1
        if res != {"PASS_THROUGH"}:
            break
        time.sleep(0.05)
    state.update(result=sorted(res), ticks=ticks, reports=reports, wm=ctx.window_manager.calls[:3],
                 wm_last=ctx.window_manager.calls[-2:], status=[ctx.workspace.status[0], ctx.workspace.status[-1]],
                 folder=op._job.run.output_folder, folder_exists=os.path.isdir(op._job.run.output_folder),
                 returncode=op._job.run.proc.returncode)
    return state


try:
    mod = addon_utils.enable("unshutter_blender", default_set=True, handle_error=None)
    out["addon"] = getattr(mod, "__file__", None)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = cfg["width"], cfg["height"]
    scene.render.resolution_percentage = 100
    scene.render.fps = 24
    scene.render.use_sequencer = True
    scene.render.dither_intensity = 0.0
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    scene.display_settings.display_device = "sRGB"
    scene.sequencer_colorspace_settings.name = "sRGB"
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.color_depth = "8"
    ed = scene.sequence_editor_create()
    files = cfg["files"]
    if files[0].endswith(".mp4"):
        src = ed.sequences.new_movie("blurred", files[0], cfg.get("channel", 2), cfg.get("start", 1),
                                     fit_method="ORIGINAL")
    else:
        src = ed.sequences.new_image("blurred", files[0], cfg.get("channel", 2), cfg.get("start", 1),
                                     fit_method="ORIGINAL")
        for f in files[1:]:
            src.elements.append(os.path.basename(f))
    if cfg.get("trim"):
        src.frame_offset_start, src.frame_offset_end = cfg["trim"]
    if cfg.get("blocker"):  # a strip already on the channel above
        ed.sequences.new_image("blocker", files[0] if not files[0].endswith(".mp4") else cfg["blocker"],
                               src.channel + 1, src.frame_final_start + 1, fit_method="ORIGINAL")
    ed.active_strip = src
    scene.frame_start = src.frame_final_start
    out["before"] = timeline()
    if cfg.get("modal"):
        out["modal"] = drive_modal(cfg["modal"])
        out["after"] = timeline()
    kwargs = cfg.get("operator", {})
    try:
        res = bpy.ops.sequencer.unshutter_slowmo(**kwargs)
        out["result"] = sorted(res)
    except RuntimeError as exc:  # an ERROR report raises here
        out["result"] = ["ERROR"]
        out["error"] = str(exc)
    out["after"] = timeline()
    if cfg.get("rerun") and out["result"] == ["FINISHED"]:
        ed.active_strip = ed.sequences_all[ed.active_strip.name]
        res = bpy.ops.sequencer.unshutter_slowmo("INVOKE_DEFAULT")  # settings come from the strip
        out["rerun"] = sorted(res)
        out["after_rerun"] = timeline()
    if cfg.get("render") and out["result"] == ["FINISHED"]:
        new = ed.active_strip
        scene.frame_start = new.frame_final_start
        scene.frame_end = new.frame_final_end - 1
        scene.render.filepath = os.path.join(cfg["render"], "render_####")
        bpy.ops.render.render(animation=True)
        out["rendered"] = sorted(os.listdir(cfg["render"]))
    if cfg.get("rerun_source") and out["result"] == ["FINISHED"]:
        ed.active_strip = ed.sequences_all["blurred"]
        out["rerun_source"] = sorted(bpy.ops.sequencer.unshutter_slowmo(**cfg["rerun_source"]))
        out["after_rerun_source"] = timeline()
    if cfg.get("toggle"):  # register/unregister are symmetric
        def registered():
            return hasattr(bpy.types.Sequence, "unshutter") and hasattr(bpy.types, "SEQUENCER_OT_unshutter_slowmo")
        state = {"registered": registered()}
        addon_utils.disable("unshutter_blender", default_set=True, handle_error=None)
        state["unregistered"] = registered()
        addon_utils.enable("unshutter_blender", default_set=True, handle_error=None)
        state["re_registered"] = registered()
        out["toggle"] = state
    out["ok"] = True
except Exception:
    out["traceback"] = traceback.format_exc()
with open(cfg["result"], "w") as fh:
    json.dump(out, fh, indent=2)
