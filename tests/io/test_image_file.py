"""write_image under a file-size limit: a write that fails at any point (pixels or close) leaves no file behind.

The limit is ``RLIMIT_FSIZE`` (what ``ulimit -f`` sets) in a child process:
it needs no privileges, and Python ignores SIGXFSZ, so writes past it fail
with EFBIG the way they fail with ENOSPC on a full disk.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.limits import HANG
from unshutter.io.image_file import ImageMeta, read_image, write_image

# A child that writes one noisy 96x64 image and prints what happened as JSON.
_WRITER = """
import json, sys
from pathlib import Path
import numpy as np
from unshutter.errors import UnshutterError
from unshutter.io.image_file import ImageMeta, write_image
path, fmt = Path(sys.argv[1]), sys.argv[2]
px = np.random.default_rng(1).random((64, 96, 3)).astype(np.float32)
try:
    write_image(path, px, ImageMeta(96, 64, ["R", "G", "B"], fmt, 16 if fmt != "uint8" else 8, {}, ""))
    print(json.dumps({"ok": True}))
except UnshutterError as exc:
    print(json.dumps({"ok": False, "type": type(exc).__name__, "code": exc.exit_code, "message": str(exc)}))
"""

FORMATS = [(".exr", "half"), (".png", "uint16"), (".tif", "uint16"), (".dpx", "uint16"), (".jpg", "uint8")]


def limited(limit_bytes: int) -> callable:
    """preexec_fn for subprocess: the child may not write files larger than ``limit_bytes``."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def _full_size(tmp_path: Path, ext: str, fmt: str) -> int:
    ref = tmp_path / f"ref{ext}"
    out = subprocess.run([sys.executable, "-c", _WRITER, str(ref), fmt], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["ok"], out.stdout
    return ref.stat().st_size


@pytest.mark.parametrize("ext,fmt", FORMATS)
def test_write_past_the_size_limit_fails_and_leaves_nothing(tmp_path: Path, ext: str, fmt: str) -> None:
    full = _full_size(tmp_path, ext, fmt)
    # cut early, in the middle, and within the last bytes (where the writer is already closing the file)
    for cut in sorted({full // 10, full // 2, full - 64, full - 1}):
        folder = tmp_path / f"cut{cut}"
        folder.mkdir()
        target = folder / f"frame.1001{ext}"
        p = subprocess.run(
            [sys.executable, "-c", _WRITER, str(target), fmt],
            capture_output=True,
            text=True,
            preexec_fn=limited(cut),
            timeout=HANG,
        )
        assert p.returncode == 0, p.stderr
        res = json.loads(p.stdout)
        assert res["ok"] is False, f"{ext} cut at {cut}/{full} bytes reported success"
        assert res["code"] == 6 and str(target) in res["message"] and "\n" not in res["message"]
        assert list(folder.iterdir()) == [], f"{ext} cut at {cut}: left {list(folder.iterdir())}"


def _stored_size(tmp_path: Path) -> int:
    """Size of the PNG _WRITER's image makes with its rows stored, uncompressed (libpng at level 0)."""
    ref = tmp_path / "stored.png"
    stored = "from unshutter.io import image_file\nimage_file._ISAL = None\nimage_file.PNG_COMPRESSION_LEVEL = 0\n"
    out = subprocess.run(
        [sys.executable, "-c", stored + _WRITER, str(ref), "uint16"], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["ok"], out.stdout
    return ref.stat().st_size


@pytest.mark.parametrize("ext,fmt", FORMATS)
def test_write_within_the_size_limit_succeeds(tmp_path: Path, ext: str, fmt: str) -> None:
    from unshutter.io import image_file

    full = _full_size(tmp_path, ext, fmt)
    # a JPEG needs room for its largest possible size first (see image_file._reserve); a PNG whose
    # pixels ISA-L deflates, for libpng's file of stored rows first (image_file._deflate_png)
    room = 2 * 96 * 64 * 3 + (1 << 20) if ext == ".jpg" else full + 1
    if ext == ".png" and image_file._ISAL is not None:
        room = max(full, _stored_size(tmp_path)) + 1
    target = tmp_path / "ok" / f"frame.1001{ext}"
    p = subprocess.run(
        [sys.executable, "-c", _WRITER, str(target), fmt],
        capture_output=True,
        text=True,
        preexec_fn=limited(room),
        timeout=HANG,
    )
    assert json.loads(p.stdout)["ok"] is True, p.stdout
    px, meta = read_image(target)
    assert px.shape == (64, 96, 3)


def test_written_image_round_trips(tmp_path: Path) -> None:
    px = np.random.default_rng(0).random((8, 5, 4)).astype(np.float32)
    write_image(tmp_path / "a.exr", px, ImageMeta(5, 8, ["R", "G", "B", "A"], "float", 32, {}, ""))
    back, meta = read_image(tmp_path / "a.exr")
    np.testing.assert_array_equal(back, px)
    assert [p.name for p in tmp_path.iterdir()] == ["a.exr"]


def _zlib_level_class(png: Path) -> int:
    """FLEVEL of the first IDAT's zlib header: 0 fastest, 1 fast (levels 2-5), 2 default (6), 3 best."""
    import struct

    data = png.read_bytes()
    pos = 8
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            return data[pos + 9] >> 6
        pos += 12 + length
    raise AssertionError(f"{png}: no IDAT chunk")


def _png_row_filters(png: Path) -> set[int]:
    """The filter type byte of every row of an 8-bit RGB PNG (0 none, 1 sub, 2 up, 3 average, 4 Paeth)."""
    import struct
    import zlib

    data, pos, idat, width, height = png.read_bytes(), 8, b"", 0, 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    return {raw[y * stride] for y in range(height)}


def test_png_rows_use_the_average_filter_alone(tmp_path: Path) -> None:
    """libpng's adaptive choice among all five filters cost half the encoding time; the average
    filter alone made files 0.3% larger on the project's photos (io.image_file.PNG_FILTER)."""
    rng = np.random.default_rng(1)
    pixels = (rng.integers(0, 256, (29, 41, 3)) / 255.0).astype(np.float32)
    out = tmp_path / "f.png"
    write_image(out, pixels, ImageMeta(41, 29, ["R", "G", "B"], "uint8", 8, {}, "png"))
    assert _png_row_filters(out) == {3}
    back, _ = read_image(out)
    np.testing.assert_array_equal(np.round(back * 255), np.round(pixels * 255))


def test_png_is_written_at_the_fast_compression_level_and_stays_lossless(tmp_path: Path) -> None:
    from unshutter.io.image_file import PNG_COMPRESSION_LEVEL

    rng = np.random.default_rng(0)
    pixels = (rng.integers(0, 256, (37, 53, 3)) / 255.0).astype(np.float32)
    meta = ImageMeta(53, 37, ["R", "G", "B"], "uint8", 8, {}, "png")
    out = tmp_path / "f.png"
    write_image(out, pixels, meta)
    assert PNG_COMPRESSION_LEVEL == 2 and _zlib_level_class(out) == 1
    back, _ = read_image(out)
    np.testing.assert_array_equal(np.round(back * 255), np.round(pixels * 255))


@pytest.mark.parametrize("ext,fmt", [(".png", "uint8"), (".exr", "half")])
def test_a_scratch_buffer_is_clipped_in_place_and_writes_the_same_bytes(tmp_path: Path, ext: str, fmt: str) -> None:
    rng = np.random.default_rng(3)
    pixels = (rng.standard_normal((24, 40, 3)) * 4e4).astype(np.float32)  # beyond [0, 1] and past half's range
    meta = ImageMeta(40, 24, ["R", "G", "B"], fmt, 0, {}, "png" if ext == ".png" else "openexr")
    kept = pixels.copy()
    write_image(tmp_path / f"copy{ext}", pixels, meta)
    np.testing.assert_array_equal(pixels, kept)  # not the caller's to lose: untouched
    write_image(tmp_path / f"scratch{ext}", pixels, meta, scratch=True)
    lo, hi = (0.0, 1.0) if fmt == "uint8" else (-65504.0, 65504.0)
    np.testing.assert_array_equal(pixels, np.clip(kept, lo, hi))  # clipped where it lies
    assert (tmp_path / f"scratch{ext}").read_bytes() == (tmp_path / f"copy{ext}").read_bytes()


def test_a_written_png_is_checked_chunk_by_chunk_without_decoding(tmp_path: Path) -> None:
    """A PNG is refused when any byte is changed, missing or added, or its size is not the spec's."""
    import OpenImageIO as oiio

    from unshutter.errors import OutputError
    from unshutter.io.image_file import _check_png_chunks

    px = np.random.default_rng(3).random((37, 53, 3)).astype(np.float32)
    good = tmp_path / "good.png"
    write_image(good, px, ImageMeta(53, 37, ["R", "G", "B"], "uint8", 8, {}, "png"))
    data = good.read_bytes()
    spec = oiio.ImageSpec(53, 37, 3, "uint8")
    _check_png_chunks(good, good, spec)  # whole: passes
    idat = data.index(b"IDAT")
    damaged = {
        "byte changed in IDAT": data[: idat + 20] + bytes([data[idat + 20] ^ 1]) + data[idat + 21 :],
        "byte changed in IHDR": data[:20] + bytes([data[20] ^ 4]) + data[21:],
        "cut in IDAT": data[: idat + 30],
        "cut before IEND": data[:-12],
        "cut inside IEND": data[:-3],
        "bytes after IEND": data + b"\0\0\0\0",
        "no signature": data[8:],
    }
    for what, blob in damaged.items():
        bad = tmp_path / "bad.png"
        bad.write_bytes(blob)
        with pytest.raises(OutputError, match="nothing kept"):
            _check_png_chunks(bad, bad, spec)
            pytest.fail(what)
    for other in (
        oiio.ImageSpec(53, 38, 3, "uint8"),
        oiio.ImageSpec(52, 37, 3, "uint8"),
        oiio.ImageSpec(53, 37, 4, "uint8"),
    ):
        with pytest.raises(OutputError, match="reads back as 53x37x3"):
            _check_png_chunks(good, good, other)


@pytest.mark.parametrize(("fmt", "bits"), [("uint8", 8), ("uint16", 16)])
def test_png_written_in_row_bands_is_the_file_one_whole_write_gives(tmp_path, monkeypatch, fmt, bits):
    """PNGs go to OpenImageIO PNG_WRITE_ROWS rows at a time (given a whole float frame it converts all of
    it first: 0.14 GB more at 4K); libpng gets the same rows, so the file is the same byte for byte."""
    from unshutter.io import image_file

    h, w = 2 * image_file.PNG_WRITE_ROWS + 13, 37  # a last band shorter than the others
    x = np.random.default_rng(5).random((h, w, 3), dtype=np.float32) * 1.2 - 0.1  # clipped at both ends
    meta = ImageMeta(w, h, ["R", "G", "B"], fmt, bits, {}, "png")
    write_image(tmp_path / "bands.png", x, meta, signature="ab" * 16)
    monkeypatch.setattr(image_file, "_write_rows", lambda out, data: bool(out.write_image(data)))
    write_image(tmp_path / "whole.png", x, meta, signature="ab" * 16)
    assert (tmp_path / "bands.png").read_bytes() == (tmp_path / "whole.png").read_bytes()


def _png_chunks(png: Path) -> list[tuple[bytes, bytes]]:
    """(type, whole chunk bytes) of every chunk of ``png``, in order."""
    import struct

    data, pos, out = png.read_bytes(), 8, []
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        out.append((kind, data[pos : pos + 12 + length]))
        pos += 12 + length
    return out


@pytest.mark.parametrize(("fmt", "bits"), [("uint8", 8), ("uint16", 16)])
def test_png_pixel_data_is_deflated_by_isal_and_every_other_byte_is_libpngs(tmp_path, monkeypatch, fmt, bits):
    """With ISA-L installed, libpng stores the filtered rows and ISA-L deflates them (io.image_file.
    PNG_DEFLATE_LEVEL): a quarter of zlib's CPU time. The pixels, the row filters and every chunk but the
    IDAT are the file libpng writes alone at PNG_COMPRESSION_LEVEL."""
    import zlib

    isal_zlib = pytest.importorskip("isal.isal_zlib")
    from unshutter.io import image_file

    assert image_file._ISAL is isal_zlib
    h, w = image_file.PNG_WRITE_ROWS + 29, 45
    x = np.random.default_rng(7).random((h, w, 3), dtype=np.float32) ** 3  # compressible, and every level
    meta = ImageMeta(w, h, ["R", "G", "B"], fmt, bits, {"Software": ("string", "test")}, "png")
    write_image(tmp_path / "isal.png", x, meta, signature="cd" * 16)
    monkeypatch.setattr(image_file, "_ISAL", None)
    write_image(tmp_path / "zlib.png", x, meta, signature="cd" * 16)
    fast, slow = _png_chunks(tmp_path / "isal.png"), _png_chunks(tmp_path / "zlib.png")
    assert [c for c in fast if c[0] != b"IDAT"] == [c for c in slow if c[0] != b"IDAT"]
    idat = [c for k, c in fast if k == b"IDAT"]
    assert len(idat) == 1 and [k for k, _ in fast].index(b"IDAT") == [k for k, _ in slow].index(b"IDAT")
    rows = zlib.decompress(b"".join(c[8:-4] for k, c in slow if k == b"IDAT"))
    assert idat[0][8:-4] == isal_zlib.compress(rows, image_file.PNG_DEFLATE_LEVEL)
    a, meta_a = read_image(tmp_path / "isal.png")
    b, meta_b = read_image(tmp_path / "zlib.png")
    np.testing.assert_array_equal(a, b)
    assert meta_a == meta_b


def test_the_vector_state_isal_leaves_behind_is_cleared_after_each_png(tmp_path, monkeypatch):
    """ISA-L's AVX code returns with the vector registers' upper halves in use, which made OpenColorIO's SSE
    code on the writer threads 2.7 times slower (kernels.zero_upper): each deflate is followed by a VZEROUPPER."""
    pytest.importorskip("isal.isal_zlib")
    from unshutter import kernels
    from unshutter.io import image_file

    calls: list[str] = []
    real = image_file._ISAL

    class Recorded:
        @staticmethod
        def compress(data: bytes, level: int) -> bytes:
            calls.append("compress")
            return real.compress(data, level)

    monkeypatch.setattr(image_file, "_ISAL", Recorded)
    monkeypatch.setattr(kernels, "zero_upper", lambda: calls.append("zero_upper"))
    px = np.random.default_rng(2).random((16, 24, 3)).astype(np.float32)
    for k in range(2):
        write_image(tmp_path / f"f{k}.png", px, ImageMeta(24, 16, ["R", "G", "B"], "uint8", 8, {}, "png"))
    assert calls == ["compress", "zero_upper"] * 2


def test_a_stored_png_whose_pixel_data_do_not_read_is_refused_before_deflating(tmp_path: Path, monkeypatch) -> None:
    """_deflate_png reads libpng's level-0 file whole before it deflates it: a file cut in its pixel data,
    with its IDAT chunks apart, its stream cut short or no IDAT raises OutputError (write_pixels then
    keeps nothing); a whole one is deflated to the same pixels."""
    import OpenImageIO as oiio

    pytest.importorskip("isal.isal_zlib")
    from unshutter.errors import OutputError
    from unshutter.io import image_file

    px = np.random.default_rng(3).random((64, 128, 3)).astype(np.float32)
    spec = oiio.ImageSpec(128, 64, 3, "uint8")
    spec.attribute("png:compressionLevel", 0)
    stored = tmp_path / "stored.png"
    image_file.write_pixels(stored, spec, px)  # libpng's stored file itself, in several IDAT chunks
    chunks = _png_chunks(stored)
    kinds = [k for k, _ in chunks]
    idats = [c for k, c in chunks if k == b"IDAT"]
    assert len(idats) > 1
    head = stored.read_bytes()[:8] + b"".join(c for _, c in chunks[: kinds.index(b"IDAT")])
    iend = chunks[-1][1]
    stream = b"".join(c[8:-4] for c in idats)
    damaged = {
        "cut in the pixel data": head + b"".join(idats)[: len(b"".join(idats)) // 2],
        "no pixel data": head + iend,
        "stream cut short": head + _idat_chunk(stream[:-20]) + iend,
        "IDAT chunks apart": head + idats[0] + _chunk(b"tEXt", b"k\0v") + b"".join(idats[1:]) + iend,
    }
    for what, blob in damaged.items():
        bad = tmp_path / "bad.png"
        bad.write_bytes(blob)
        with pytest.raises(OutputError, match="nothing kept"):
            image_file._deflate_png(bad, bad)
            pytest.fail(what)
    image_file._deflate_png(stored, stored)  # whole: deflated
    assert [k for k, _ in _png_chunks(stored)].count(b"IDAT") == 1
    monkeypatch.setattr(image_file, "PNG_IDAT_BYTES", 1000)  # a long stream: in chunks of at most that
    image_file.write_image(stored, px, ImageMeta(128, 64, ["R", "G", "B"], "uint8", 8, {}, "png"))
    idats = [c for k, c in _png_chunks(stored) if k == b"IDAT"]
    assert len(idats) > 1 and all(len(c) - 12 <= 1000 for c in idats)
    back, _ = read_image(stored)
    np.testing.assert_array_equal(np.round(back * 255), np.round(px * 255))


def _chunk(kind: bytes, body: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def _idat_chunk(body: bytes) -> bytes:
    return _chunk(b"IDAT", body)


def test_deflating_a_png_holds_its_pixel_data_at_most_twice(tmp_path: Path) -> None:
    """Two writers deflate at once and a 4K file's rows are 25 MB: holding the file, its IDAT bodies,
    their join and the inflated rows at once took the 4K run's peak past 2 GB. Python's own allocations
    during _deflate_png stay under 2.5 times the rows (the file and its rows, or the rows and their
    deflated copy)."""
    import tracemalloc

    import OpenImageIO as oiio

    pytest.importorskip("isal.isal_zlib")
    from unshutter.io import image_file

    h, w = 600, 1000
    px = np.random.default_rng(5).random((h, w, 3)).astype(np.float32)
    spec = oiio.ImageSpec(w, h, 3, "uint8")
    spec.attribute("png:compressionLevel", 0)
    stored = tmp_path / "stored.png"
    image_file.write_pixels(stored, spec, px)
    rows = h * (1 + 3 * w)
    tracemalloc.start()
    try:
        image_file._deflate_png(stored, stored)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2.5 * rows, peak / rows
    back, _ = read_image(stored)
    np.testing.assert_array_equal(np.round(back * 255), np.round(px * 255))


def _ties(scale: int) -> np.ndarray:
    """float32 values whose product with ``scale`` is exactly halfway between two integers (rounding's hard case)."""
    out = []
    for k in range(min(scale, 4096)):
        x = np.float32((k + 0.5) / scale)
        for v in (np.nextafter(x, np.float32(0)), x, np.nextafter(x, np.float32(2))):
            if np.float32(v) * np.float32(scale) == np.float32(k + 0.5):
                out.append(v)
    return np.array(out, np.float32)


@pytest.mark.parametrize(
    ("ext", "fmt", "names"), [(".png", "uint8", "RGB"), (".png", "uint16", "RGB"), (".tif", "uint8", "RGBA")]
)
def test_quantized_pixels_are_written_as_the_writer_converts_float_pixels(
    tmp_path: Path, ext: str, fmt: str, names: str
) -> None:
    """A large frame's sub-frames wait for their writes in the file's integer type (render.sink): the
    pixels written from them are the ones OpenImageIO makes of the float pixels, ties, both ends and
    the ends of rows included (a PNG: the same bytes)."""
    from unshutter.io.image_file import quantize, quantized_type

    h, w, c = 2 * 256 + 7, 20, len(names)  # rows of 60 and 80 values; bands of 256 rows and a short one
    meta = ImageMeta(w, h, list(names), fmt, 0, {}, ext.strip(".").replace("tif", "tiff"))
    dtype = quantized_type(meta, ext, w)
    assert dtype == np.dtype(fmt)
    rng = np.random.default_rng(7)
    ties = _ties(int(np.iinfo(dtype).max))
    x = np.where(rng.random((h, w, c)) < 0.6, rng.choice(ties, (h, w, c)), rng.uniform(-0.2, 1.2, (h, w, c)))
    x = x.astype(np.float32)
    q = np.empty(x.shape, dtype)
    assert quantize(x, q) == 0
    write_image(tmp_path / f"float{ext}", x.copy(), meta, signature="ab" * 16)
    write_image(tmp_path / f"quantized{ext}", q, meta, signature="ab" * 16)
    if ext == ".png":
        assert (tmp_path / f"float{ext}").read_bytes() == (tmp_path / f"quantized{ext}").read_bytes()
    a, _ = read_image(tmp_path / f"float{ext}")
    b, _ = read_image(tmp_path / f"quantized{ext}")
    assert np.array_equal(a, b)


def test_quantize_counts_nan_and_refuses_what_it_cannot_reproduce() -> None:
    from unshutter.io.image_file import quantize, quantized_type

    x = np.zeros((4, 8, 3), np.float32)
    x[1, 2, 0] = x[3, 3, 2] = np.nan
    assert quantize(x, np.empty(x.shape, np.uint8)) == 2
    rgb8 = ImageMeta(8, 4, ["R", "G", "B"], "uint8", 8, {}, "png")
    assert quantized_type(rgb8, ".png", 8) == np.uint8
    assert quantized_type(rgb8, ".png", 7) is None  # 21 values a row: OpenImageIO rounds the last one its own way
    assert (
        quantized_type(ImageMeta(8, 4, list("RGBA"), "uint8", 8, {}, "png"), ".png", 8) is None
    )  # alpha divided first
    assert quantized_type(ImageMeta(8, 4, list("RGB"), "half", 16, {}, "openexr"), ".exr", 8) is None
    assert quantized_type(ImageMeta(8, 4, list("RGB"), "uint16", 10, {}, "dpx"), ".dpx", 8) is None
    assert quantized_type(ImageMeta(8, 4, list("RGB"), "uint16", 12, {}, "tiff"), ".tif", 8) is None
