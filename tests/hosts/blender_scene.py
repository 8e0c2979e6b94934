"""Runs inside ``blender -b --factory-startup --python blender_scene.py -- CONFIG.json``.

Enables the installed add-on, builds a scene with one blurred image-sequence
strip, runs ``sequencer.unshutter_slowmo`` and writes what happened to the
config's ``result`` path as JSON; the pytest side checks it. Not a test
module itself (Blender's Python has no pytest and no numpy).
"""

import hashlib
import importlib
import json
import os
import sys
import traceback
import types

import bpy  # first: as a module (PyPI bpy) it puts Blender's own modules on sys.path

import addon_utils  # noqa: E402

cfg = json.load(open(sys.argv[sys.argv.index("--") + 1]))
out = {"ok": False}
ADDON = cfg.get("module", "unshutter_blender")  # an extension's is bl_ext.<repository>.unshutter_blender


def addon(name):
    """The add-on's module ``name`` (``links``, ``operators``...), whichever way it was installed."""
    return importlib.import_module(f"{ADDON}.{name}")


# The sequencer API by feature, as the add-on's ``compat`` does (this script runs before the add-on is enabled).
STRIP = getattr(bpy.types, "Strip", None) or bpy.types.Sequence  # renamed in 4.4


def all_strips(ed):
    return ed.strips_all if hasattr(ed, "strips_all") else ed.sequences_all  # sequences_all gone in 5.0


def seq_scene():
    """The scene the sequencer shows: 5.0's workspace sequencer scene, else the window's (as the add-on)."""
    return getattr(bpy.context, "sequencer_scene", None) or bpy.context.scene


def top(ed):
    return ed.strips if hasattr(ed, "strips") else ed.sequences


def new_effect(ed, kind, channel, start, source):
    """An effect strip reading ``source``: its input is ``input1`` from 4.4 on, ``seq1`` before."""
    params = top(ed).bl_rna.functions["new_effect"].parameters.keys()
    key = "input1" if "input1" in params else "seq1"
    return top(ed).new_effect(kind.lower(), kind, channel, start, **{key: source})


def settings_of(s):
    """The add-on's settings written on strip ``s`` (enums by name), None when it has none."""
    if not s.is_property_set("unshutter"):
        return None
    st = s.unshutter
    return {k: _plain(getattr(st, k)) for k in st.bl_rna.properties.keys() if k != "rna_type" and st.is_property_set(k)}


def _plain(value):
    """Blender arrays (the motion vector) as lists, for the JSON result."""
    return [round(float(v), 4) for v in value] if hasattr(value, "__len__") and not isinstance(value, str) else value


def strip_info(s):
    return {
        "name": s.name,
        "type": s.type,
        "filepath": bpy.path.abspath(s.filepath) if s.type == "MOVIE" else "",
        "channel": s.channel,
        "start": s.frame_final_start,
        "duration": s.frame_final_duration,
        "mute": s.mute,
        "directory": bpy.path.abspath(s.directory) if s.type == "IMAGE" else "",
        "files": [e.filename for e in s.elements] if s.type == "IMAGE" else [],
        "settings": settings_of(s),
        "inputs": [i.name for i in (getattr(s, "input_1", None), getattr(s, "input_2", None)) if i is not None],
        "trims": [s.frame_offset_start, s.frame_offset_end],
        "lock": s.lock,
        "blend": [s.blend_type, round(s.blend_alpha, 4)],
        "modifiers": [[m.name, m.type] for m in getattr(s, "modifiers", ())],
        "transform": [s.transform.offset_x, s.transform.offset_y] if hasattr(s, "transform") else None,
        "crop": s.crop.min_x if hasattr(s, "crop") else None,
        "meta": s.parent_meta().name if s.parent_meta() is not None else None,
        # the add-on's and no stray ones (a run's marks are removed when it ends); 5.0 lists bpy.props apart
        "id_props": sorted(set(s.keys()) | ({"unshutter"} if s.is_property_set("unshutter") else set())),
    }


def timeline():
    ed = seq_scene().sequence_editor
    return sorted((strip_info(s) for s in all_strips(ed)), key=lambda d: d["name"])


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


def during_run(edit):
    """What the artist does while a modal run goes on (config ``during``): ``rename`` strips
    ({old name: new name}), ``duplicate`` one ([name, channel of the copy]), ``save`` a copy of the file
    there (a path), ``unmark`` the strips as an undo past the run's start does (true), ``run`` the
    operator again ([{"on": strip, "operator": {...}}], recorded); ``after_start``: all that once the
    engine has reported its start (it holds its claim on the output frames then)."""
    ed = seq_scene().sequence_editor
    if edit.get("unmark"):
        links = addon("links")
        for s in all_strips(ed):
            if links.RUN in s:
                del s[links.RUN]
    for old, new in edit.get("rename", {}).items():
        all_strips(ed)[old].name = new
    active = ed.active_strip
    if "duplicate" in edit:
        duplicate(*edit["duplicate"])
        select_only(active)
    record = {}
    if "save" in edit:  # as Ctrl+S mid-run, the file keeping the run's marks; this session's file path stays
        bpy.ops.wm.save_as_mainfile(filepath=edit["save"], copy=True)
        record["saved"] = timeline()
    record["runs"] = [run_again(attempt) for attempt in edit.get("run", [])]
    ed.active_strip = active
    return record


def run_again(attempt):
    """The operator run again on the strip ``attempt["on"]`` while the modal run goes on."""
    ed = seq_scene().sequence_editor
    ed.active_strip = all_strips(ed)[attempt["on"]]
    before = timeline()
    try:
        res, error = sorted(bpy.ops.sequencer.unshutter_slowmo(**attempt.get("operator", {}))), ""
    except RuntimeError as exc:  # an ERROR report raises here
        res, error = ["ERROR"], str(exc)
    return {"result": res, "error": error, "unchanged": timeline() == before}


def drive_modal(mode, settings, during=None):
    """Run the operator's modal code path with fake TIMER/ESC events: 'finish', 'cancel' (Esc once frames
    are written), 'escape' (Esc at once) or 'abandon' (Blender ends the operator: its ``cancel``). Every
    setting is explicit; ``during``: edits made once the engine is running (see ``during_run``)."""
    import time
    import types

    operators = addon("operators")
    Op = operators.SEQUENCER_OT_unshutter_slowmo
    reports = []
    op = types.SimpleNamespace(
        **settings,
        _job=None,
        _timer=None,
        properties=types.SimpleNamespace(is_property_set=lambda name, ghost=True: True),
        report=lambda kind, msg: reports.append([sorted(kind)[0], msg]),
    )
    for name, fn in vars(Op).items():  # its methods, bound to the stand-in
        if isinstance(fn, types.FunctionType):
            setattr(op, name, fn.__get__(op))
    ctx = types.SimpleNamespace(
        scene=seq_scene(),
        preferences=bpy.context.preferences,
        window_manager=FakeWindowManager(),
        workspace=FakeWorkspace(),
        window=None,
    )
    state = {"start": sorted(op._start_modal(ctx))}
    job = op._job
    if during:
        if during.get("after_start"):
            t_end = time.monotonic() + 120
            while not job.run.total and not job.run.finished and time.monotonic() < t_end:
                job.run.poll(0.05)
        state["during"] = during_run(during)
    timer = types.SimpleNamespace(type="TIMER", value="NOTHING")
    esc = types.SimpleNamespace(type="ESC", value="PRESS")
    deadline = time.monotonic() + 300
    ticks = 0
    while time.monotonic() < deadline:
        if mode == "cancel" and op._job.run.frame_outputs:
            state["folder_before_cancel"] = len(os.listdir(op._job.run.output_folder))
            res = op.modal(ctx, esc)
        elif mode == "escape":
            res = op.modal(ctx, esc)
        elif mode == "abandon":
            res = op.cancel(ctx) or {"CANCELLED"}
        else:
            res = op.modal(ctx, timer)
        ticks += 1
        if res != {"PASS_THROUGH"}:
            break
        time.sleep(0.05)
    state.update(
        result=sorted(res),
        ticks=ticks,
        reports=reports,
        wm=ctx.window_manager.calls[:3],
        wm_last=ctx.window_manager.calls[-2:],
        status=[ctx.workspace.status[0], ctx.workspace.status[-1]],
        folder=job.run.output_folder,
        folder_exists=os.path.isdir(job.run.output_folder),
        returncode=job.run.proc.returncode,
    )
    return state


def owner(data):
    """``"<strip>.unshutter"`` when ``data`` is a strip's Unshutter settings, else the type of ``data``."""
    for strip in all_strips(seq_scene().sequence_editor):
        if strip.unshutter.as_pointer() == data.as_pointer():
            return f"{strip.name}.unshutter"
    return type(data).__name__


class RecordingLayout:
    """Stands in for ``UILayout`` (background mode draws no UI): records what a panel's ``draw`` asks for."""

    def __init__(self, log):
        self.log = log

    def __getattr__(self, name):  # use_property_split etc. are plain attributes on a real layout
        if name in ("column", "row", "box", "split"):
            return lambda *a, **k: self
        if name == "prop":
            return lambda data, prop, **k: self.log.append(["prop", owner(data), prop])
        if name == "operator":

            def operator(idname, **k):
                op = types.SimpleNamespace()
                self.log.append(["operator", idname, k.get("text"), op])
                return op

            return operator
        return lambda *a, **k: self.log.append([name, k.get("text")])


def draw_panel():
    """The sidebar panel on the active strip: where it lives, whether it shows, what it draws."""
    Panel = bpy.types.SEQUENCER_PT_unshutter
    log = []
    fake = types.SimpleNamespace(layout=RecordingLayout(log))
    Panel.draw(fake, bpy.context)
    return {
        "where": [Panel.bl_space_type, Panel.bl_region_type, Panel.bl_category],
        "poll": Panel.poll(bpy.context),
        "props": [entry[1:] for entry in log if entry[0] == "prop"],
        "labels": [entry[1] for entry in log if entry[0] == "label"],
        "buttons": [[e[1], e[2], dict(vars(e[3]))] for e in log if e[0] == "operator"],
    }


def edit_result(strip, edit):
    """What an artist does to the slow-motion strip between runs (config ``reruns[i].edit``)."""
    ed = seq_scene().sequence_editor
    for b in edit.get("blockers", []):  # other strips in the way: [name, channel, frame]
        top(ed).new_image(
            b[0], bpy.path.abspath(strip.directory) + strip.elements[0].filename, b[1], b[2], fit_method="ORIGINAL"
        )
    if "channel" in edit:
        strip.channel = edit["channel"]
    for e in edit.get("effects", []):  # effect strips reading it: [type, channel(, {attribute: value})]
        fx = new_effect(ed, e[0], e[1], strip.frame_final_start, strip)
        for attr, value in (e[2] if len(e) > 2 else {}).items():
            setattr(fx, attr, value)
    for m in edit.get("modifiers", []):  # [name, type]
        strip.modifiers.new(m[0], m[1])
    if "trims" in edit:  # with the handles, as in the UI: the effect strips over it follow
        head, tail = edit["trims"]
        strip.frame_final_start = int(strip.frame_start) + head
        strip.frame_final_end = int(strip.frame_start) + strip.frame_duration - tail
    for name in ("blend_type", "blend_alpha", "lock"):
        if name in edit:
            setattr(strip, name, edit[name])
    if "name" in edit:
        strip.name = edit["name"]
    if "offset_x" in edit:
        strip.transform.offset_x = edit["offset_x"]
    if "crop_min_x" in edit:
        strip.crop.min_x = edit["crop_min_x"]


def wrap_in_metas(strip, depth):
    """Put ``strip`` in a meta strip (Make Meta Strip), that one in another, ``depth`` times, at the top
    level; returns the meta strips' names, outermost first."""
    ed = seq_scene().sequence_editor
    names, inner = [], strip
    for _ in range(depth):
        select_only(inner)
        assert bpy.ops.sequencer.meta_make() == {"FINISHED"}
        inner = ed.active_strip
        names.insert(0, inner.name)
    return names


def select_only(strip):
    for s in all_strips(seq_scene().sequence_editor):
        s.select = s == strip
    seq_scene().sequence_editor.active_strip = strip


def build_proxy(strip, spec):
    """Enable and build a proxy on ``strip`` as an artist does (config ``reruns[i].edit.proxy``): the sizes
    ``spec["sizes"]``, stored per strip (``storage`` "strip"), in a custom folder ("custom"), or in the
    project's folder ("project"); ``off`` disables it again after the build. Returns ``{file: md5}``."""
    ed = seq_scene().sequence_editor
    strip.use_proxy = True
    for size in (25, 50, 75, 100):
        setattr(strip.proxy, f"build_{size}", size in spec["sizes"])
    strip.proxy.quality = spec.get("quality", strip.proxy.quality)
    if spec["storage"] == "custom":
        strip.proxy.use_proxy_custom_directory = True
        strip.proxy.directory = spec["directory"]
    elif spec["storage"] == "project":
        ed.proxy_storage = "PROJECT"
        ed.proxy_dir = spec["directory"]
    select_only(strip)
    shown = ed.meta_stack[-1] if len(ed.meta_stack) else None
    ed.display_stack(strip.parent_meta())  # the artist enters its meta strip, if any, to build it
    assert bpy.ops.sequencer.rebuild_proxy() == {"FINISHED"}
    ed.display_stack(shown)
    select_only(strip)
    root = spec["directory"] if spec["storage"] != "strip" else bpy.path.abspath(strip.directory) + "BL_proxy"
    built = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            built[path] = hashlib.md5(open(path, "rb").read()).hexdigest()
    if spec.get("off"):
        strip.use_proxy = False
    return built


def duplicate(name, channel):
    """Shift+D on the strip ``name`` with the sequencer's own operator (it copies custom properties), then
    the copy moved to ``channel``; returns the copy's name."""
    ed = seq_scene().sequence_editor
    select_only(all_strips(ed)[name])
    window = bpy.context.window_manager.windows[0]
    area = window.screen.areas[0]
    area.type = "SEQUENCE_EDITOR"
    region = next(r for r in area.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, screen=window.screen, area=area, region=region):
        assert bpy.ops.sequencer.duplicate() == {"FINISHED"}
    copy = ed.active_strip
    assert copy.name != name
    copy.channel = channel
    return copy.name


def rerun_steps(steps):
    """Edit the result strip and other strips, re-run the operator on the result or on the strip named by
    ``on`` (undoably), record; optionally undo/redo, render a frame."""
    ed = seq_scene().sequence_editor
    done = []
    for step in steps:
        result = ed.active_strip
        edit = step.get("edit", {})
        edit_result(result, edit)
        record = {}
        if "meta" in edit:  # nested meta strips around the result: their names, outermost first
            record["metas"] = wrap_in_metas(result, edit["meta"])
        if "proxy" in edit:
            record["proxy_built"] = build_proxy(result, edit["proxy"])
        if "view" in edit:  # the artist enters the meta strips around the result (Tab) this many levels deep
            chain, meta = [], result.parent_meta()
            while meta is not None:
                chain.insert(0, meta)
                meta = meta.parent_meta()
            ed.display_stack(chain[edit["view"] - 1] if edit["view"] else None)
        if "duplicate" in edit:  # [strip name, channel of the copy]
            record["duplicate"] = duplicate(*edit["duplicate"])
        if edit.get("forget_links"):  # as an older version left them: no id on the strips
            for s in all_strips(ed):
                if s.is_property_set("unshutter"):
                    s.unshutter.property_unset("link")
        for name, attrs in edit.get("strips", {}).items():  # other strips: {name: {attribute: value}}
            for attr, value in attrs.items():
                setattr(all_strips(ed)[name], attr, value)
        pointer = result.as_pointer()
        if step.get("on"):
            ed.active_strip = all_strips(ed)["blurred" if step["on"] == "source" else step["on"]]
        if "modal" in step:  # interactively, with every setting given and the edits ``during`` the run
            record["modal"] = drive_modal(
                step["modal"].get("mode", "finish"), step["operator"], step["modal"].get("during")
            )
            res = record["modal"]["result"]
        else:
            bpy.ops.ed.undo_push(message="before Unshutter re-run")
            try:  # undo=True: pushes an undo step as a run from the UI does
                res = sorted(bpy.ops.sequencer.unshutter_slowmo("EXEC_DEFAULT", True, **step.get("operator", {})))
            except RuntimeError as exc:
                res = ["ERROR", str(exc)]
        record.update(
            result=res,
            active=ed.active_strip.name,
            timeline=timeline(),
            same_strip=ed.active_strip.as_pointer() == pointer,
            running=sorted(running_links()),
            meta_stack=[m.name for m in ed.meta_stack],
        )
        if step.get("render"):
            frame = ed.active_strip.frame_final_start
            seq_scene().frame_set(frame)
            seq_scene().render.filepath = os.path.join(step["render"], f"render_{frame:04d}.png")
            bpy.ops.render.render(write_still=True)
            record["rendered"] = seq_scene().render.filepath
        if step.get("undo"):
            bpy.ops.ed.undo()
            record["undone"] = timeline()
            bpy.ops.ed.redo()
            record["redone"] = timeline()
            ed = seq_scene().sequence_editor  # undo replaced the data: look everything up again
        done.append(record)
    return done


def running_links():
    """The ids of the runs the add-on counts as going on in this session."""
    return list(addon("links")._running)


def settings_with_remembered_values(strip):
    """The operator's settings for ``strip`` when every argument is a value Blender remembered from the
    last run (invoked from the Strip menu: the values are "ghosts", not given explicitly). Only the UI
    makes ghosts, so ``properties`` stands in for the operator's in background mode."""
    operators = addon("operators")
    remembered = {
        "factor": 5,
        "guidance": "LEFT",
        "reverse": True,
        "overrides": "",
        "use_motion": True,
        "motion": (3.0, 1.0),
        "shutter": 90.0,
        "output_dir": "//elsewhere/",
    }
    op = types.SimpleNamespace(
        **remembered, properties=types.SimpleNamespace(is_property_set=lambda name, ghost=True: ghost)
    )
    return operators.SEQUENCER_OT_unshutter_slowmo._settings(op, strip, strip)


def build_scene():
    """The scene of the config: render settings and one blurred strip (``files``), made active."""
    scene = seq_scene()
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
        src = top(ed).new_movie("blurred", files[0], cfg.get("channel", 2), cfg.get("start", 1), fit_method="ORIGINAL")
    else:
        src = top(ed).new_image("blurred", files[0], cfg.get("channel", 2), cfg.get("start", 1), fit_method="ORIGINAL")
        for f in files[1:]:
            src.elements.append(os.path.basename(f))
    if cfg.get("trim"):
        src.frame_offset_start, src.frame_offset_end = cfg["trim"]
    if cfg.get("speed_factor"):
        src.speed_factor = cfg["speed_factor"]
    if cfg.get("blocker"):  # a strip already on the channel above
        top(ed).new_image(
            "blocker",
            files[0] if not files[0].endswith(".mp4") else cfg["blocker"],
            src.channel + 1,
            src.frame_final_start + 1,
            fit_method="ORIGINAL",
        )
    for e in cfg.get("effects", []):  # effect strips over the source: [type, channel]
        new_effect(ed, e[0], e[1], src.frame_final_start, src)
    ed.active_strip = src
    scene.frame_start = src.frame_final_start
    workspace = bpy.context.workspace
    if workspace is not None and hasattr(workspace, "sequencer_scene"):  # 5.0: the sequencer shows this scene
        workspace.sequencer_scene = scene
        if cfg.get("other_window_scene"):  # ...while the window shows another one
            bpy.context.window.scene = bpy.data.scenes.new("other")
    return ed


try:
    if cfg.get("install_zip"):  # Preferences > Add-ons > Install...
        out["install_zip"] = sorted(bpy.ops.preferences.addon_install(filepath=cfg["install_zip"]))
    if cfg.get("install_extension"):  # Preferences > Get Extensions > Install from Disk (Blender 4.2+)
        out["install_extension"] = sorted(
            bpy.ops.extensions.package_install_files(
                filepath=cfg["install_extension"], repo="user_default", enable_on_install=True
            )
        )
        out["enabled_after_install"] = ADDON in bpy.context.preferences.addons
    mod = addon_utils.enable(ADDON, default_set=True, handle_error=None)
    out["addon"] = getattr(mod, "__file__", None)
    addon_prefs = addon("preferences")

    out["engine"] = list(addon_prefs.find_engine())
    if "engine_preference" in cfg:
        addon_prefs.get().engine_path = cfg["engine_preference"]
        out["engine_with_preference"] = list(addon_prefs.find_engine())
    if "threads_preference" in cfg:
        addon_prefs.get().threads = cfg["threads_preference"]
    if cfg.get("open"):  # a file saved by another Blender session: no first run, only the ``reruns``
        bpy.ops.wm.open_mainfile(filepath=cfg["open"])
        ed = seq_scene().sequence_editor
    else:
        ed = build_scene()
    scene = seq_scene()
    out["before"] = timeline()
    if cfg.get("open"):
        out["result"] = ["FINISHED"]  # the file's runs went through in the session that saved it
    elif cfg.get("modal"):  # the first run interactive
        out["modal"] = drive_modal(cfg["modal"], cfg["operator_modal"], cfg.get("during"))
        out["result"] = out["modal"]["result"]
    else:
        try:
            res = bpy.ops.sequencer.unshutter_slowmo(**cfg.get("operator", {}))
            out["result"] = sorted(res)
        except RuntimeError as exc:  # an ERROR report raises here
            out["result"] = ["ERROR"]
            out["error"] = str(exc)
    out["after"] = timeline()
    if cfg.get("rerun") and out["result"] == ["FINISHED"]:
        ed.active_strip = all_strips(ed)[ed.active_strip.name]
        res = bpy.ops.sequencer.unshutter_slowmo("INVOKE_DEFAULT")  # settings come from the strip
        out["rerun"] = sorted(res)
        out["after_rerun"] = timeline()
    if cfg.get("reruns") and out["result"] == ["FINISHED"]:
        out["reruns"] = rerun_steps(cfg["reruns"])
    if cfg.get("render") and out["result"] == ["FINISHED"]:
        new = ed.active_strip
        scene.frame_start = new.frame_final_start
        scene.frame_end = new.frame_final_end - 1
        scene.render.filepath = os.path.join(cfg["render"], "render_####")
        bpy.ops.render.render(animation=True)
        out["rendered"] = sorted(os.listdir(cfg["render"]))
    if cfg.get("rerun_source") and out["result"] == ["FINISHED"]:
        ed.active_strip = all_strips(ed)["blurred"]
        out["rerun_source"] = sorted(bpy.ops.sequencer.unshutter_slowmo(**cfg["rerun_source"]))
        out["after_rerun_source"] = timeline()
    if cfg.get("ghost") and out["result"] == ["FINISHED"]:
        out["ghost"] = settings_with_remembered_values(ed.active_strip)
    if cfg.get("panel"):
        out["panel"] = draw_panel()
    if cfg.get("toggle"):  # register/unregister are symmetric

        def registered():
            return hasattr(STRIP, "unshutter") and hasattr(bpy.types, "SEQUENCER_OT_unshutter_slowmo")

        state = {"registered": registered()}
        addon_utils.disable(ADDON, default_set=True, handle_error=None)
        state["unregistered"] = registered()
        addon_utils.enable(ADDON, default_set=True, handle_error=None)
        state["re_registered"] = registered()
        out["toggle"] = state
    out["ok"] = True
except Exception:
    out["traceback"] = traceback.format_exc()
with open(cfg["result"], "w") as fh:
    json.dump(out, fh, indent=2)
