"""Which strips belong together: a source strip and its slow-motion strip share a link id.

Names are the artist's to change, so the pair is found by the id
(``unshutter.link``, a UUID written on both strips by the run that made the
pair) and survives renames. Duplicating a strip (Shift+D) copies its custom
properties and so its id: when two source strips share one, the one whose name
the result recorded at the last run is the original and the other a copy,
which gets an id of its own instead of updating the original's result. Pairs
made by older versions have no id; their strips are found by the names they
recorded, as those versions did, and get an id on their next run.

A run looks its strips up again when the engine is done, and a modal run lets
the artist rename them meanwhile; so while it runs, its source and the result
it updates carry a mark with its id (``unshutter_run``, outside the strip's
settings: a first run's source has none yet) by which they are found.

A mark alone does not say the run still goes on: a .blend saved mid-run keeps
it after that Blender is gone. So the runs going on are also known by their
id in this module (``_running``, this Blender session only), and only a mark
of one of those keeps a second run off the strips.
"""

import uuid

from . import compat, props

RUN = "unshutter_run"  # ID property on the strips of a run in progress: "<link> SOURCE" or "<link> RESULT"

_running: dict = {}  # link -> {role: strip name at the start}: the runs going on in this Blender session


def new_link() -> str:
    return uuid.uuid4().hex


def _role(strip) -> str:
    return strip.unshutter.role if props.has_settings(strip) else "NONE"


def _linked(ed, role: str, link: str) -> list:
    return [s for s in compat.all_strips(ed) if _role(s) == role and s.unshutter.link == link]


def _named(strips: list, names: set) -> list:
    """``strips`` narrowed to those named in ``names`` when there are several (copies of one another)."""
    return strips if len(strips) < 2 else [s for s in strips if s.name in names]


def sources_of(ed, result) -> list:
    """The source strips ``result`` may have been made from: one, none (deleted) or several (copies, and the
    names they recorded cannot tell which is the original)."""
    st = result.unshutter
    if not st.link:  # made by an older version: by the source's name
        src = compat.all_strips(ed).get(st.source)
        return [src] if src is not None else []
    return _named(_linked(ed, "SOURCE", st.link), {st.source})


def claim(ed, source, result=None) -> tuple:
    """``(link, copies)``: the id the run on ``source`` gives the pair, and the names of the copies of
    ``source`` that still carry it (to be given ids of their own).

    A strip that has no id yet gets a new one. A copy, or a strip that cannot be told from its copies,
    gets a new one too: it then adds its own result strip and leaves the other's alone. ``result``: the
    run was started on that result strip, whose recorded name tells the original.
    """
    link = source.unshutter.link if _role(source) == "SOURCE" else ""
    if not link:
        return new_link(), []
    sources = _linked(ed, "SOURCE", link)
    if len(sources) == 1:
        return link, []
    results = [result] if result is not None else _linked(ed, "RESULT", link)
    recorded = {r.unshutter.source for r in results}
    original = _named(sources, recorded)
    if len(original) == 1 and original[0].name == source.name:
        return link, sorted(s.name for s in sources if s.name != source.name)
    return new_link(), []


def result_of(ed, source, link: str):
    """The result strip an earlier run made from ``source``, which the run with ``link`` updates; or None.

    By ``link`` when ``source`` carries it (among copies of the result, the one the source recorded). For a
    pair of an older version, the strip named by the source whose recorded source is ``source``'s name. None
    on a first run, for a copy that got a new id, and once the result is deleted.
    """
    if _role(source) != "SOURCE":
        return None
    st = source.unshutter
    if st.link:
        found = _named(_linked(ed, "RESULT", link), {st.result}) if link == st.link else []
        return found[0] if len(found) == 1 else None
    strip = compat.all_strips(ed).get(st.result) if st.result else None
    if strip is None or _role(strip) != "RESULT" or strip.unshutter.link or strip.unshutter.source != source.name:
        return None  # deleted, renamed, or the name now belongs to another strip: left alone
    return strip


def mark(ed, link: str, strips: dict) -> None:
    """Mark ``strips`` (``{"SOURCE": strip, "RESULT": strip or None}``) for the run with ``link`` until it is
    done, and count it as going on. Marks a run with the same id left behind (saved mid-run, then Blender
    quit) are removed first."""
    _clear(ed, link)
    _running[link] = {role: strip.name if strip is not None else "" for role, strip in strips.items()}
    for role, strip in strips.items():
        if strip is not None:
            strip[RUN] = f"{link} {role}"


def unmark(ed, link: str) -> None:
    """The run with ``link`` is over (done or cancelled): no longer going on, and its strips lose their marks
    (``ed`` None: the artist removed the whole sequencer meanwhile)."""
    _running.pop(link, None)
    if ed is not None:
        _clear(ed, link)


def _clear(ed, link: str) -> None:
    for s in compat.all_strips(ed):
        if s.get(RUN, "").startswith(f"{link} "):
            del s[RUN]


def _marked(ed, link: str, role: str, name: str) -> tuple:
    """``(found, strip)``: whether a strip carries the mark of the run with ``link`` as its ``role``, and
    which. A strip copied during the run (Shift+D copies the mark) leaves two: the one still named ``name``,
    or None when neither is (the copy cannot be told from the original)."""
    strips = [s for s in compat.all_strips(ed) if s.get(RUN) == f"{link} {role}"]
    found = _named(strips, {name})
    return bool(strips), found[0] if len(found) == 1 else None


def running(link: str) -> bool:
    """Whether a run with ``link`` goes on in this Blender session (its marks may be gone: an undo)."""
    return link in _running


def running_on(ed, strip) -> str:
    """The id of the run going on in this session whose source or result ``strip`` is; else "".

    A mark of no such run (saved mid-run by another session) does not count, nor does a copy made during
    the run (Shift+D copies the mark) that the run tells from its strip: the one named as at its start.
    """
    link, _, role = str(strip.get(RUN, "")).partition(" ")
    names = _running.get(link, {})
    if not names.get(role):
        return ""
    _, owner = _marked(ed, link, role, names[role])
    return link if owner is None or owner.as_pointer() == strip.as_pointer() else ""


def running_source(ed, link: str) -> str:
    """The name of the source of the run going on with ``link``, now (renamed meanwhile) or at its start."""
    start = _running.get(link, {}).get("SOURCE", "")
    _, strip = _marked(ed, link, "SOURCE", start)
    return strip.name if strip is not None else start


def source_again(ed, link: str, name: str):
    """The source strip of the run with ``link``, looked up when it is done, whatever it is named now; None
    once it is deleted. Unmarked (an undo went back to before the run): the strip ``name``, its name then."""
    found, strip = _marked(ed, link, "SOURCE", name)
    return strip if found else compat.all_strips(ed).get(name)


def result_again(ed, source, link: str, name: str):
    """The result strip ``name`` the run with ``link`` updates, looked up when it is done, whatever it is
    named now; None on a first run and once it is deleted (a new result strip is added then).

    Unmarked (an undo went back to before the run): the strip ``name`` if it still is that result, not a
    strip that took the name meanwhile, which is left alone.
    """
    if not name:
        return None
    found, strip = _marked(ed, link, "RESULT", name)
    if found:
        return strip
    strip = compat.all_strips(ed).get(name)
    if strip is None or strip.type != "IMAGE" or _role(strip) != "RESULT":
        return None
    st = strip.unshutter
    return strip if st.link == link or (not st.link and st.source == source.name) else None


def unlink(ed, names: list, link: str) -> list:
    """Unlink the copies ``names`` that still carry ``link``; returns the names unlinked.

    An unlinked copy keeps its settings (its run reuses them) but no longer points at the original's
    result: its next run adds a result strip of its own and gets an id then.
    """
    done = []
    for name in names:
        strip = compat.all_strips(ed).get(name)
        if strip is not None and _role(strip) == "SOURCE" and strip.unshutter.link == link:
            strip.unshutter.link = ""
            strip.unshutter.role = "NONE"
            strip.unshutter.result = ""
            done.append(name)
    return done
