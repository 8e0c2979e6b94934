"""``sequencer.unshutter_slowmo``: the active blurred strip -> a sharp strip N times longer.

Interactive use is modal: the engine runs as a subprocess, a timer polls its
JSON lines, progress shows in the status bar, ESC kills the engine and removes
what the run wrote. From scripts and in ``blender -b`` the operator runs to
completion synchronously. The timeline changes only after the engine has
succeeded: a new image strip on the first free channel above the source, at
the source's first frame, N times as long; the source is muted. A re-run
updates the earlier slow-motion strip in place instead (found by the id the
pair shares, see ``links``), so the effect strips reading it, its modifiers,
its proxy sizes and the artist's settings on it, the source's mute included,
survive. The strips are found again by the run's id when the engine is done,
so renaming them during a modal run is harmless. While a run goes on, another
run on its source or result is refused: it would write the same frames into
the same folder (see ``_refuse_if_running``).
"""

import os
from dataclasses import dataclass

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, StringProperty

from . import compat, engine, links, preferences, props, proxies

MAX_CHANNEL = 128


@dataclass
class Job:
    """What one run needs between starting the engine and adding the strip."""

    source: str  # source strip name at the start (the strip is found by its mark when the run is done)
    result: str  # name at the start of the source's earlier result strip, updated in place; or ""
    link: str  # the id source and result share after the run; it marks them while the run lasts
    copies: list  # names of the source's copies that carry its id: unlinked after the run
    notes: list  # for the report
    settings: dict
    frames: int  # visible source frames
    output_spec: str
    run: engine.EngineRun


class SEQUENCER_OT_unshutter_slowmo(bpy.types.Operator):
    """Decompose the active blurred strip into sharp sub-frames: a new strip N times longer above it"""

    bl_idname = "sequencer.unshutter_slowmo"
    bl_label = "Deblur to Slow Motion"
    bl_options = {"REGISTER", "UNDO"}

    factor: IntProperty(**props.FACTOR)
    guidance: EnumProperty(**props.GUIDANCE)
    reverse: BoolProperty(**props.REVERSE)
    overrides: StringProperty(**props.OVERRIDES)
    use_motion: BoolProperty(**props.USE_MOTION)
    motion: FloatVectorProperty(**props.MOTION)
    motion_pass: StringProperty(**props.MOTION_PASS)
    motion_pass_channels: StringProperty(**props.MOTION_PASS_CHANNELS)
    motion_pass_y: EnumProperty(**props.MOTION_PASS_Y)
    motion_pass_points: EnumProperty(**props.MOTION_PASS_POINTS)
    motion_pass_units: EnumProperty(**props.MOTION_PASS_UNITS)
    shutter: FloatProperty(**props.SHUTTER)
    timing: EnumProperty(**props.TIMING)
    follow: FloatProperty(**props.FOLLOW)
    output_dir: StringProperty(**props.OUTPUT_DIR)

    _job = None
    _timer = None

    @classmethod
    def poll(cls, context):
        ed = compat.editor(context)
        strip = ed.active_strip if ed else None
        return strip is not None and strip.type in {"IMAGE", "MOVIE"}

    # ------------------------------------------------------------ preparing
    def _settings(self, strip, stored_on) -> dict:
        """Explicit operator arguments win; otherwise the settings stored on the strip; else the defaults.

        ``ghost=False``: a value Blender only remembered from the last run
        (Strip menu, F3) does not count as explicit, or the settings of the
        strip processed last would override the ones stored on this strip.
        """
        stored = props.read(stored_on.unshutter) if stored_on is not None else None
        values = {}
        for name in props.SETTINGS:
            if stored is not None and not self.properties.is_property_set(name, ghost=False):
                values[name] = stored[name]
            else:
                values[name] = props.plain(name, getattr(self, name))
        return values

    def _prepare(self, context) -> Job:
        ed = compat.editor(context)
        strip = ed.active_strip if ed else None
        if strip is None:
            raise engine.EngineError("select an image-sequence or movie strip")
        stored_on = strip if props.has_settings(strip) else None
        ran_on = strip
        strip, earlier, link, copies, notes = _pair(ed, strip)
        _refuse_if_running(ed, ran_on, strip, earlier, link)
        if strip.type not in {"IMAGE", "MOVIE"}:
            raise engine.EngineError(
                f"{strip.name}: a {strip.type.lower()} strip; select an image-sequence or movie strip"
            )
        speed = float(getattr(strip, "speed_factor", 1.0))
        if abs(speed - 1.0) > 1e-6:  # the strip shows other frames than its length says: refuse, as the OTIO path does
            raise engine.EngineError(
                f"{strip.name}: has a speed factor of {speed:g} already; set it to 1 "
                "(the slow-motion strip does the retiming)"
            )
        speed_effects = sorted(e.name for e in effects_on(ed, strip) if e.type == "SPEED")
        if speed_effects:  # muting the source would leave the Speed effect retiming a muted strip
            names = ", ".join(map(repr, speed_effects))
            raise engine.EngineError(
                f"{strip.name}: the Speed effect strip {names} retimes it already; "
                "remove the Speed effect or run on a strip without one "
                "(the slow-motion strip does the retiming)"
            )
        values = self._settings(strip, stored_on)
        for name in props.SETTINGS:  # reflect what is used in the redo panel
            setattr(self, name, values[name])

        exe, where = preferences.find_engine(context)
        if exe is None:  # a wrong preference is named, not silently replaced by another engine
            raise engine.EngineError(
                engine.not_found_message()
                if where == "not found"
                else f"Unshutter engine not found: {where} (Preferences > Add-ons > Unshutter)"
            )

        n = int(strip.frame_final_duration)
        offset = int(strip.frame_offset_start)
        if strip.type == "IMAGE":
            seq = engine.sequence_from_files(bpy.path.abspath(strip.directory), [e.filename for e in strip.elements])
            first = seq.first + offset
            last = first + n - 1
            if offset < 0 or last > seq.last:
                raise engine.EngineError(
                    f"{strip.name}: the strip holds frames beyond its images; trim it to its images"
                )
            lo = first - 1 if os.path.exists(seq.path(first - 1)) else first  # neighbours for guidance
            hi = last + 1 if os.path.exists(seq.path(last + 1)) else last
            if seq.prefix[-1:].isdigit() or seq.prefix.endswith("-"):
                input_spec = seq.spec  # "shot-1001-1005#" would not parse: let the engine scan the folder
            else:  # only these frames: other gaps in the folder do not matter
                token = "@" * seq.padding if seq.padding != 4 else "#"
                input_spec = os.path.join(seq.directory, f"{seq.prefix}{lo}-{hi}{token}{seq.suffix}")
            out_name, out_suffix = seq.prefix, seq.suffix
            media_dir = seq.directory
        else:
            input_spec = bpy.path.abspath(strip.filepath)
            if not os.path.isfile(input_spec):
                raise engine.EngineError(f"{input_spec}: movie file not found")
            first = offset + int(getattr(strip, "animation_offset_start", 0))
            last = first + n - 1
            out_name, out_suffix = os.path.splitext(os.path.basename(input_spec))[0] + ".", ".png"
            media_dir = os.path.dirname(input_spec)

        base, note = output_base(values["output_dir"] or "//unshutter/", media_dir)
        if note:
            values["output_dir"] = self.output_dir = base  # stored on the strips: a re-run finds these frames
            notes.append(note)
        overrides = bpy.path.abspath(values["overrides"]) if values["overrides"] else ""
        motion_pass = bpy.path.abspath(values["motion_pass"]) if values["motion_pass"] else ""
        pass_options = {
            "motion_pass": motion_pass,
            "motion_pass_channels": values["motion_pass_channels"].strip(),
            "motion_pass_y": values["motion_pass_y"].lower(),
            "motion_pass_points": values["motion_pass_points"].lower(),
            "motion_pass_units": values["motion_pass_units"].lower(),
        }
        guidance = values["guidance"].lower()
        key = engine.settings_key(
            {
                "input": input_spec,
                "frames": [first, last],
                "factor": values["factor"],
                "guidance": guidance,
                "reverse": values["reverse"],
                "shutter": round(values["shutter"], 4),
                "overrides": overrides,
                "timing": values["timing"].lower(),
                "follow": round(values["follow"], 6),
                "overrides_mtime": os.path.getmtime(overrides) if overrides and os.path.exists(overrides) else None,
                **({"motion": list(values["motion"])} if values["use_motion"] and not motion_pass else {}),
                **(pass_options if motion_pass else {}),  # settings_key leaves out legacy defaults
            }
        )
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in strip.name)
        folder = os.path.join(base, f"{safe}_x{values['factor']}_{key}")
        output_spec = os.path.join(folder, f"{out_name}####{out_suffix}")
        cmd = engine.build_command(
            exe,
            input_spec,
            output_spec,
            factor=values["factor"],
            guidance=guidance,
            reverse=values["reverse"],
            overrides=overrides,
            shutter=values["shutter"],
            motion=tuple(values["motion"]) if values["use_motion"] and not motion_pass else None,
            **pass_options,
            timing=values["timing"].lower(),
            follow=values["follow"],
            frames=(first, last),
            threads=preferences.threads(context),
        )
        return Job(strip.name, earlier, link, copies, notes, values, n, output_spec, engine.EngineRun(cmd, folder))

    # ------------------------------------------------------------ finishing
    def _finish(self, context, job: Job) -> set:
        """Add or update the result strip once the engine is done; the run's marks go whatever happens."""
        try:
            return self._apply(context, job)
        finally:
            _unmark(context, job)

    def _apply(self, context, job: Job) -> set:
        failure = job.run.failure()
        if failure is not None:
            self.report({"ERROR"}, f"Unshutter: {failure}")
            return {"CANCELLED"}
        files = engine.output_files(job.output_spec, job.run.frame_outputs)
        expected = job.frames * job.settings["factor"]
        missing = [f for f in files if not os.path.isfile(f)]
        if len(files) != expected or missing:
            self.report({"ERROR"}, f"Unshutter: the engine wrote {len(files) - len(missing)} of {expected} frames")
            return {"CANCELLED"}
        ed = compat.editor(context)
        source = links.source_again(ed, job.link, job.source) if ed else None
        if source is None:
            self.report({"ERROR"}, f"Unshutter: the strip {job.source} was removed while it was processed")
            return {"CANCELLED"}
        result = links.result_again(ed, source, job.link, job.result)  # the artist may have deleted it meanwhile
        proxy_before = None
        if result is None:
            result, notes = add_result_strip(ed, source, files), []
            source.mute = True  # a first run: the result plays; later runs leave the mute to the artist
        else:
            proxy_before = proxies.before_update(ed, result)
            notes = ["updated in place"] + update_result_strip(ed, result, files)
        effects = sorted(e.name for e in effects_on(ed, source))
        for strip, role in ((source, "SOURCE"), (result, "RESULT")):
            props.write(strip.unshutter, job.settings)
            strip.unshutter.role = role
            strip.unshutter.link = job.link
            strip.unshutter.source = source.name
            strip.unshutter.result = result.name
            strip.unshutter.output = job.output_spec
            strip.unshutter.manifest = (job.run.done or {}).get("manifest", "")
        unlinked = links.unlink(ed, job.copies, job.link)
        notes += job.notes + [f"{name} is a copy of {source.name}: unlinked from its result" for name in unlinked]
        for s in compat.all_strips(ed):
            s.select = False
        result.select = True
        ed.active_strip = result
        if proxy_before is not None:
            note = proxies.refresh(ed, result, proxy_before)
            notes += [note] if note else []
        done = job.run.done or {}
        self.report(
            {"INFO"},
            f"Unshutter: {result.name} on channel {result.channel}, {len(files)} frames "
            f"({done.get('written', 0)} written, {done.get('skipped', 0)} reused)"
            + "".join(f"; {note}" for note in notes)
            + (f"; {', '.join(effects)} still apply to the muted {source.name}" if effects else ""),
        )
        for warning in job.run.warnings:  # after the summary: the status bar shows the last report
            self.report({"WARNING"}, f"Unshutter: {warning}")
        return {"FINISHED"}

    # ------------------------------------------------------------ running
    def execute(self, context):
        """Synchronous: scripts, the redo panel and background mode."""
        try:
            job = self._begin(context)
        except engine.EngineError as exc:
            self.report({"ERROR"}, f"Unshutter: {exc}")
            return {"CANCELLED"}

        def log(ev):
            if bpy.app.background and ev.get("event") == "frame":
                print(f"unshutter: frame {ev.get('frame')} ({ev.get('index')}/{ev.get('total')})", flush=True)

        job.run.wait(on_event=log)
        return self._finish(context, job)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        return self._start_modal(context)

    def _begin(self, context) -> Job:
        """Prepare the run, start the engine and mark the strips the run updates (see ``links``)."""
        job = self._prepare(context)
        job.run.start()
        ed = compat.editor(context)
        result = compat.all_strips(ed).get(job.result) if job.result else None
        links.mark(ed, job.link, {"SOURCE": compat.all_strips(ed)[job.source], "RESULT": result})
        return job

    def _start_modal(self, context):
        try:
            job = self._begin(context)
        except engine.EngineError as exc:
            self.report({"ERROR"}, f"Unshutter: {exc}")
            return {"CANCELLED"}
        self._job = job
        wm = context.window_manager
        wm.progress_begin(0, 1000)
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        self._status(context, "starting the engine")
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            removed = job.run.cancel()
            self._end(context)
            _unmark(context, job)
            self.report({"WARNING"}, f"Unshutter: cancelled ({len(removed)} files of this run removed, no strip added)")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        job.run.poll()
        context.window_manager.progress_update(int(job.run.progress * 1000))
        if job.run.total:
            self._status(context, f"frame {job.run.index}/{job.run.total}")
        if not job.run.finished:
            return {"PASS_THROUGH"}
        self._end(context)
        return self._finish(context, job)

    def cancel(self, context) -> None:
        """Blender ends the modal run itself (another file opened, the window closed): the engine is stopped
        and its files removed as with Esc, and the run no longer counts as going on, or the strips of a file
        saved during it would stay refused for the rest of the session."""
        job, self._job = self._job, None
        if job is None:
            return
        job.run.cancel()
        _unmark(context, job)
        self._end(context)

    def _status(self, context, text: str) -> None:
        s = self._job.source if self._job else ""
        context.workspace.status_text_set(f"Unshutter {s}: {text} (x{self.factor})  -  Esc to cancel")

    def _end(self, context) -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)


def output_base(output_dir: str, media_dir: str) -> tuple:
    """``(absolute folder, note or "")``: where a run writes, from the Output Folder setting.

    ``//`` means beside the .blend file. An unsaved file has no folder, so a ``//`` setting falls back to
    the same sub-folder beside the footage (``<media>/unshutter/``): it outlives the session, unlike
    Blender's temporary folder, and is where the artist looks for derived media. The footage's folder
    must be writable; otherwise the artist is asked to save or to choose a folder.
    """
    base = bpy.path.abspath(output_dir)
    if os.path.isabs(base):
        return base, ""
    fallback = os.path.join(os.path.abspath(media_dir), output_dir[2:] if output_dir.startswith("//") else output_dir)
    existing = fallback  # the run creates what is missing below it
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise engine.EngineError(
            f"the output folder {output_dir} is relative to the .blend file, which is not saved, "
            f"and the footage's folder {media_dir} is not writable: save the .blend file "
            "first, or choose an Output Folder"
        )
    fallback = os.path.join(fallback, "")
    return fallback, f"the .blend file is not saved: frames written beside the footage in {fallback}"


def _unmark(context, job: Job) -> None:
    """The run is over (done, failed or cancelled): it no longer goes on and its strips lose their marks."""
    links.unmark(compat.editor(context), job.link)


def _refuse_if_running(ed, ran_on, source, earlier: str, link: str) -> None:
    """Refuse a run on the strips of a run going on in this session (its source, the result it updates, or
    its id): a second engine would write the same frames into the same folder and the first run's end
    would remove the second's marks. The report names the strip it was started on."""
    result = compat.all_strips(ed).get(earlier) if earlier else None
    found = [links.running_on(ed, s) for s in (ran_on, source, result) if s is not None]
    busy = next((b for b in found if b), link if links.running(link) else "")
    if busy:
        raise engine.EngineError(
            f"{ran_on.name}: an Unshutter run on {links.running_source(ed, busy)} is still "
            "going; wait for it or press Esc"
        )


def _pair(ed, strip) -> tuple:
    """``(source, earlier result name or "", link, copies, notes)`` for a run started on ``strip``.

    On a result strip: its source, and the strip itself is updated. On a source: the result it shares
    its id with (see ``links``); a copy of a processed strip gets an id, and so a result, of its own.
    """
    ran_on = None
    if props.has_settings(strip) and strip.unshutter.role == "RESULT":
        found = links.sources_of(ed, strip)
        if not found:
            raise engine.EngineError(f"{strip.name}: its source strip {strip.unshutter.source!r} is gone")
        if len(found) > 1:
            names = ", ".join(sorted(repr(s.name) for s in found))
            raise engine.EngineError(
                f"{strip.name}: the strips {names} are copies of its source and none is "
                "named as it was at the last run; run the source you mean"
            )
        ran_on, strip = strip, found[0]
    link, copies = links.claim(ed, strip, ran_on)
    if ran_on is not None:
        earlier = ran_on.name
    else:
        result = links.result_of(ed, strip, link)
        earlier = result.name if result is not None else ""
    notes = []
    if props.has_settings(strip) and strip.unshutter.role == "SOURCE" and strip.unshutter.link not in ("", link):
        notes.append(f"{strip.name} is a copy of another strip: it gets a slow-motion strip of its own")
    return strip, earlier, link, copies, notes


def _overlaps(seqs, channel: int, start: int, end: int, skip: set) -> bool:
    return any(
        s.channel == channel and s.name not in skip and s.frame_final_start < end and start < s.frame_final_end
        for s in seqs
    )


def _free_channel(seqs, channel: int, start: int, end: int, skip: set) -> int:
    """``channel``, or the first channel above it where nothing but ``skip`` covers frames ``start``..``end - 1``."""
    while channel < MAX_CHANNEL and _overlaps(seqs, channel, start, end, skip):
        channel += 1
    return channel


def _container(ed, strip):
    """The strips beside ``strip``: the timeline's top level or its meta strip's."""
    meta = strip.parent_meta()
    return compat.children(meta if meta is not None else ed)


def _directory(files: list) -> str:
    """The strip directory of ``files``: relative to the saved .blend file when the output sits beside it."""
    folder = os.path.dirname(files[0])
    if bpy.data.filepath:  # keep the project relocatable
        rel = bpy.path.relpath(folder)
        if not rel.startswith("//.."):
            return rel.rstrip("/") + "/"
    return os.path.join(folder, "")


def effects_on(ed, strip) -> list:
    """The effect strips that take ``strip`` as an input, directly or through other effects."""
    found, todo = {}, [strip.name]
    while todo:
        name = todo.pop()
        for s in compat.all_strips(ed):
            inputs = (getattr(s, "input_1", None), getattr(s, "input_2", None))
            if s.name not in found and s.name != strip.name and any(i is not None and i.name == name for i in inputs):
                found[s.name] = s
                todo.append(s.name)
    return list(found.values())


def add_result_strip(ed, source, files: list):
    """A new image strip of ``files`` at the source's start, on the first free channel above it and above
    the effect strips that read it (they still render the muted source: below them it would be covered).
    It starts with the source's transform, crop, blend and colour space."""
    seqs = _container(ed, source)
    start = int(source.frame_final_start)
    channel = max([source.channel] + [e.channel for e in effects_on(ed, source) if e.name in seqs]) + 1
    channel = _free_channel(seqs, channel, start, start + len(files), {source.name})
    strip = seqs.new_image(
        name=f"{source.name} slowmo"[:63], filepath=files[0], channel=channel, frame_start=start, fit_method="ORIGINAL"
    )
    for f in files[1:]:
        strip.elements.append(os.path.basename(f))
    strip.directory = _directory(files)
    for attr in ("offset_x", "offset_y", "scale_x", "scale_y", "rotation"):
        if hasattr(source.transform, attr):
            setattr(strip.transform, attr, getattr(source.transform, attr))
    for attr in ("min_x", "max_x", "min_y", "max_y"):
        setattr(strip.crop, attr, getattr(source.crop, attr))
    strip.blend_type = source.blend_type
    strip.blend_alpha = source.blend_alpha
    if hasattr(source, "colorspace_settings"):
        strip.colorspace_settings.name = source.colorspace_settings.name if source.type == "IMAGE" else "sRGB"
    return strip


def fit_trims(head: int, tail: int, length: int) -> tuple:
    """Trims (``frame_offset_start``, ``frame_offset_end``) that leave at least one of ``length`` frames.

    Kept as they are when they fit; otherwise the tail trim gives way first, then the head trim, so the
    in-point the artist set stays where it is as long as possible. Negative trims (held frames) add frames
    and are kept.
    """
    excess = head + tail - (length - 1)
    cut = min(max(tail, 0), max(excess, 0))
    tail, excess = tail - cut, excess - cut
    head -= min(max(head, 0), max(excess, 0))
    return head, tail


def update_result_strip(ed, strip, files: list) -> list:
    """Point the earlier slow-motion ``strip`` at ``files`` in place; returns notes for the report.

    The strip stays the same object, so the effect strips reading it, its modifiers and what the artist set
    on it (name, channel, start, transform, crop, blend, colour space, mute, lock) survive; a new strip would
    take Blender's deletion of every effect whose input is removed. The trims, counted in sub-frames, are
    kept while they leave a frame at the new length (see ``fit_trims``). Where the new length would overlap
    another strip, the strip, or an effect strip that reads it, moves up to the first free channel.
    """
    notes = []
    head, tail = int(strip.frame_offset_start), int(strip.frame_offset_end)
    fitted = fit_trims(head, tail, len(files))
    if fitted != (head, tail):
        notes.append(f"trims {head}/{tail} reduced to {fitted[0]}/{fitted[1]} to fit {len(files)} frames")
    strip.frame_offset_end, strip.frame_offset_start = fitted[1], fitted[0]  # smaller: valid at the old length
    elements = strip.elements
    while len(elements) > len(files):
        elements.pop(len(elements) - 1)
    for element, f in zip(elements, files):
        element.filename = os.path.basename(f)
    for f in files[len(elements) :]:
        elements.append(os.path.basename(f))
    strip.directory = _directory(files)

    start, end = int(strip.frame_final_start), int(strip.frame_final_end)
    channel = _free_channel(_container(ed, strip), strip.channel, start, end, {strip.name})
    if channel != strip.channel:
        notes.append(f"moved from channel {strip.channel} to {channel}, clear of the strips its new length overlapped")
        strip.channel = channel
    strip.frame_final_start = start  # the handles' setters carry the effect strips over it to its new range
    strip.frame_final_end = end
    for effect in sorted(effects_on(ed, strip), key=lambda e: e.channel):
        channel = _free_channel(
            _container(ed, effect), effect.channel, effect.frame_final_start, effect.frame_final_end, {effect.name}
        )
        if channel != effect.channel:
            notes.append(f"effect {effect.name} moved from channel {effect.channel} to {channel}")
            effect.channel = channel
    strip.invalidate_cache("RAW")
    return notes
