"""Make the settings guide's pictures from the bundled sample with the real CLI.

Run from the repository with the project's environment active:

    python docs/img/make_pictures.py

Every picture comes from ``unshutter run --preview`` (contact sheets: one
row of sub-frames, earliest left) or ``unshutter run --guidance-debug``
(guidance maps), on frame 1006 of the bundled ``sunset_pan`` clip, plus the
blurred input itself for comparison. They are written small (PNG, well under
200 KB each) into this folder; the commands are printed as they run.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "plugin" / "unshutter" / "data" / "sample" / "sunset_pan.####.exr"
FRAME = 1006
MAX_BYTES = 200_000


def unshutter(*args: str) -> None:
    cmd = ["unshutter", "run", str(SAMPLE), *args, "--frames", f"{FRAME}-{FRAME}", "--quiet"]
    print("$", " ".join(shlex.quote(c) for c in cmd).replace(str(SAMPLE), "sunset_pan.####.exr"), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def read_srgb(path: Path) -> np.ndarray:
    """An image file as 8-bit sRGB: EXR (scene-linear) is encoded, PNG is taken as is. Shape: -> [H, W, 3]."""
    buf = oiio.ImageBuf(str(path))
    if path.suffix == ".exr":
        buf = oiio.ImageBufAlgo.colorconvert(buf, "linear", "sRGB")
    px = np.asarray(buf.get_pixels(oiio.FLOAT))[..., :3]
    return (np.clip(px, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def side_by_side(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Images of one height in a row on a dark background. Shape: -> [H, W, 3] uint8."""
    h = max(i.shape[0] for i in images)
    w = sum(i.shape[1] for i in images) + gap * (len(images) + 1)
    out = np.full((h + 2 * gap, w, 3), 24, np.uint8)
    x = gap
    for img in images:
        out[gap : gap + img.shape[0], x : x + img.shape[1]] = img
        x += img.shape[1] + gap
    return out


def zoom(img: np.ndarray, box: tuple[int, int, int, int], scale: int) -> np.ndarray:
    """Crop (x, y, w, h) and enlarge by pixel repetition, so the pixels stay visible."""
    x, y, w, h = box
    return np.repeat(np.repeat(img[y : y + h, x : x + w], scale, axis=0), scale, axis=1)


def save(name: str, img: np.ndarray, width: int | None = None) -> None:
    """Write docs/img/<name>, resized to ``width`` px, and check its size."""
    buf = oiio.ImageBuf(oiio.ImageSpec(img.shape[1], img.shape[0], 3, oiio.UINT8))
    buf.set_pixels(oiio.ROI(0, img.shape[1], 0, img.shape[0]), img)
    if width and img.shape[1] > width:
        height = round(img.shape[0] * width / img.shape[1])
        buf = oiio.ImageBufAlgo.resize(buf, roi=oiio.ROI(0, width, 0, height))
    path = HERE / name
    buf.specmod().attribute("png:compressionLevel", 9)
    if not buf.write(str(path)):
        sys.exit(f"{path}: {buf.geterror()}")
    size = path.stat().st_size
    print(f"  -> docs/img/{name} ({size // 1000} kB)")
    if size > MAX_BYTES:
        sys.exit(f"{path}: {size} bytes, more than {MAX_BYTES}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        source = read_srgb(Path(str(SAMPLE).replace("####", str(FRAME))))
        box = (300, 150, 160, 100)  # the rocks at the lower right: edges the pan smears

        unshutter("-o", f"{t}/n4/", "--factor", "4", "--preview", "--guidance-debug", f"{t}/g_neighbors")
        save("contact-neighbors-x4.png", read_srgb(t / "n4" / "sunset_pan.contact.png"), 960)
        save("guidance-neighbors.png", read_srgb(t / "g_neighbors" / f"guidance.{FRAME}.png"))
        first_out = 1001 + (FRAME - 1001) * 4
        subs = [read_srgb(t / "n4" / f"sunset_pan.{first_out + k}.exr") for k in (0, 3)]
        save("detail-input-first-last.png", side_by_side([zoom(i, box, 2) for i in [source, *subs]]))

        unshutter(
            "-o", f"{t}/none/", "--factor", "4", "--guidance", "none", "--preview", "--guidance-debug", f"{t}/g_none"
        )
        save("contact-none-x4.png", read_srgb(t / "none" / "sunset_pan.contact.png"), 960)
        nones = [read_srgb(t / "none" / f"sunset_pan.{first_out + k}.exr") for k in (0, 3)]
        save("detail-none-first-last.png", side_by_side([zoom(i, box, 2) for i in [source, *nones]]))

        override = t / "rocks.yaml"
        override.write_text(
            "version: 1\nregions:\n  - name: rocks\n    direction: static\n"
            "    polygon: [[300, 150], [480, 150], [480, 270], [300, 270]]\n",
            encoding="utf-8",
        )
        unshutter(
            "-o", f"{t}/ov/", "--factor", "4", "--overrides", str(override), "--guidance-debug", f"{t}/g_override"
        )
        save("guidance-override.png", read_srgb(t / "g_override" / f"guidance.{FRAME}.png"))

        unshutter("-o", f"{t}/x1/", "--factor", "1")
        deblurred = read_srgb(t / "x1" / f"sunset_pan.{FRAME}.exr")
        save("factor1-input-output.png", side_by_side([source, deblurred]), 720)


if __name__ == "__main__":
    main()
