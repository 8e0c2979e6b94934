"""The proxy of a slow-motion strip updated in place.

Blender names an image strip's proxy files after its images
(``<proxy folder>/images/<size>/<image>_proxy.jpg``), and a re-run writes new
frames under the same names. In a custom proxy folder, or with the project's
proxy storage, the old proxy files would go on standing in for the new frames
in the preview; in the default folder beside the images the proxy would be
missing. So the proxy files the updated strip reads are removed, and the sizes
the artist enabled are built again, as the artist would by hand (inside the
meta strip that holds it, if any).
"""

import os

import bpy

SIZES = (25, 50, 75, 100)


def folder(ed, strip) -> str:
    """Where Blender looks for the proxy of image ``strip`` (relative paths as Blender resolves them)."""
    proxy = strip.proxy
    if ed.proxy_storage == "PROJECT":
        base = ed.proxy_dir or "//BL_proxy"
    elif proxy is not None and proxy.use_proxy_custom_directory:
        base = proxy.directory
    else:
        base = os.path.join(strip.directory, "BL_proxy")
    return os.path.abspath(bpy.path.abspath(base))


def files(ed, strip) -> list:
    """Every proxy file ``strip`` could read, at every size."""
    where = folder(ed, strip)
    return [
        os.path.join(where, "images", str(size), f"{e.filename}_proxy.jpg") for size in SIZES for e in strip.elements
    ]


def enabled_sizes(strip) -> list:
    """The proxy sizes (percent) the artist builds for ``strip``; none when its proxy is off."""
    proxy = strip.proxy
    if not strip.use_proxy or proxy is None:
        return []
    return [size for size in SIZES if getattr(proxy, f"build_{size}")]


def _rebuild(ed, strip) -> None:
    """Build the enabled sizes of ``strip``, the only selected strip, wherever it is.

    The sequencer builds the selected strips of the meta strip on display only (the top level when none
    is): the meta strip holding ``strip`` is shown for the build, then the artist's view and active strip
    are restored.
    """
    shown = ed.meta_stack[-1] if len(ed.meta_stack) else None
    active = ed.active_strip
    ed.display_stack(strip.parent_meta())
    try:  # synchronously (invoked, it would be a job)
        bpy.ops.sequencer.rebuild_proxy()
    finally:
        ed.display_stack(shown)
        ed.active_strip = active


def before_update(ed, strip) -> tuple:
    """What ``refresh`` needs to know of the strip before it is updated: its proxy folder and files."""
    return folder(ed, strip), files(ed, strip)


def refresh(ed, strip, before: tuple):
    """Replace the proxy of ``strip``, updated in place; returns a note for the report, or None.

    Removes the proxy files it reads now, and those of its old frames when they lie in the same folder
    (a proxy folder beside the old frames is left to the old frames, which an undo brings back). Then
    builds the sizes enabled on it; ``strip`` must be the only selected strip. A strip that never had a
    proxy is left alone: files under its names are another strip's (the project's proxy folder keys
    image proxies by file name only).
    """
    if strip.proxy is None:
        return None
    old_folder, old_files = before
    stale = set(files(ed, strip)) | (set(old_files) if old_folder == folder(ed, strip) else set())
    removed = 0
    for path in sorted(stale):
        if os.path.isfile(path):
            os.remove(path)
            removed += 1
    sizes = enabled_sizes(strip)
    if sizes:
        try:
            _rebuild(ed, strip)
        except RuntimeError:  # the strip is updated already: report, do not fail the run
            pass
        built = [p for p in files(ed, strip) if os.path.isfile(p)]
        if built:
            return f"proxy rebuilt at {', '.join(f'{s}%' for s in sizes)}"
        return (
            f"proxy not rebuilt ({removed} stale files removed): "
            "rebuild it in the sidebar's Proxy tab (Strip Proxy & Timecode)"
        )
    return f"{removed} stale proxy files removed" if removed else None
