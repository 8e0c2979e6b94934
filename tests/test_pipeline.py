"""The main job end to end on small HDR EXR clips: numbering, HDR, reblur, skipping, errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from unshutter.errors import InputError, OutputError, ParameterError
from unshutter.io.image_file import read_image
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, parse_frame_range, run


def _read(path: Path) -> np.ndarray:
    return read_image(path)[0]


def test_numbering_half_hdr_and_reblur(hdr_clip: str, tmp_path: Path) -> None:
    n = 3
    res = run(RunConfig(hdr_clip, str(tmp_path / "out" / "slow.####.exr"), NodeParams(factor=n)))
    files = sorted((tmp_path / "out").glob("slow.*.exr"))
    assert [int(f.name.split(".")[1]) for f in files] == list(range(1001, 1001 + 6 * n))
    assert res.written == 6 * n
    spec = oiio.ImageInput.open(str(files[0])).spec()
    assert str(spec.format) == "half"
    src_dir = Path(hdr_clip).parent
    for f in range(1001, 1007):
        src = _read(src_dir / f"shot.{f:04d}.exr")
        subs = np.stack([_read(tmp_path / "out" / f"slow.{1001 + (f - 1001) * n + k:04d}.exr") for k in range(n)])
        assert src.max() > 1.5  # the clip is HDR
        assert subs.max() > 1.5  # nothing clamped
        # reblur constraint, up to half-float output quantisation (relative 2^-11)
        err = np.abs(subs.mean(0) - src)
        assert (err <= 2e-3 * np.maximum(1.0, np.abs(src)) + 1e-4).all()
    man = json.loads(res.manifest.read_text())
    assert man["factor"] == n and man["frame_map"]["1002"] == [1004, 1005, 1006]
    assert man["guidance"]["1001"].startswith("neighbors:next")
    assert man["guidance"]["1003"].startswith("neighbors:both")
    assert len(man["model"]["sha256"]) == 64 and man["execution_provider"].endswith("ExecutionProvider")


def test_float_output_reblur_is_exact(hdr_clip: str, tmp_path: Path) -> None:
    from unshutter.io.clip import open_clip
    from unshutter.node import Node

    clip = open_clip(hdr_clip)
    node = Node(NodeParams(factor=5))
    cur, prev, nxt = clip.read(1003), clip.read(1002), clip.read(1004)
    res = node.process(1003, cur, prev, nxt)
    assert res.subframes.shape == (5,) + cur.shape
    np.testing.assert_allclose(res.subframes.mean(0), cur, rtol=1e-5, atol=1e-6)


def test_factor_one_is_single_frame(hdr_clip: str, tmp_path: Path) -> None:
    run(RunConfig(hdr_clip, str(tmp_path / "d"), NodeParams(factor=1)))
    assert sorted(p.name for p in (tmp_path / "d").glob("*.exr")) == [f"shot.{f}.exr" for f in range(1001, 1007)]


def test_rerun_skips_complete_and_redoes_damaged(hdr_clip: str, tmp_path: Path) -> None:
    out = tmp_path / "o"
    run(RunConfig(hdr_clip, str(out), NodeParams(factor=2)))
    victim = out / "shot.1004.exr"
    before = (out / "shot.1001.exr").read_bytes()
    victim.write_bytes(victim.read_bytes()[:100])  # truncated by some accident
    res = run(RunConfig(hdr_clip, str(out), NodeParams(factor=2)))
    assert res.written == 2 and res.skipped == 10  # only source frame 1002 redone
    assert (out / "shot.1001.exr").read_bytes() == before
    assert _read(victim).shape == (64, 96, 3)


def test_corrupt_frame_mid_clip(fresh_hdr_clip: str, tmp_path: Path) -> None:
    src = Path(fresh_hdr_clip).parent
    bad = src / "shot.1004.exr"
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 3])
    out = tmp_path / "o"
    with pytest.raises(InputError, match=r"shot\.1004\.exr"):
        run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2)))
    names = sorted(p.name for p in out.iterdir())
    # frame 1001 is complete (1003 needs 1004 as its neighbour, and 1002's outputs blend toward 1003's
    # decomposition); no temporaries
    assert names == [f"shot.{o}.exr" for o in range(1001, 1003)]
    for name in names:
        assert _read(out / name).shape == (64, 96, 3)


def test_nan_frame_named(fresh_hdr_clip: str, tmp_path: Path) -> None:
    import OpenImageIO as oiio

    src = Path(fresh_hdr_clip).parent
    pix, meta = read_image(src / "shot.1002.exr")
    pix[3, 3, 1] = np.nan
    # written with OpenImageIO itself: Unshutter's own writer refuses NaN
    out = oiio.ImageOutput.create(str(src / "shot.1002.exr"))
    assert out.open(str(src / "shot.1002.exr"), oiio.ImageSpec(meta.width, meta.height, 3, "half"))
    assert out.write_image(pix) and out.close()
    with pytest.raises(InputError, match=r"shot\.1002\.exr: frame 1002 contains NaN"):
        run(RunConfig(fresh_hdr_clip, str(tmp_path / "o"), NodeParams(factor=2)))


def test_missing_frame_and_wrong_size(fresh_hdr_clip: str, tmp_path: Path) -> None:
    from unshutter.io.image_file import write_image

    src = Path(fresh_hdr_clip).parent
    pix, meta = read_image(src / "shot.1003.exr")
    meta.width, meta.height = 48, 32
    write_image(src / "shot.1003.exr", pix[:32, :48].copy(), meta)
    with pytest.raises(InputError, match=r"shot\.1003\.exr: frame 1003 is 48x32, the clip is 96x64"):
        run(RunConfig(fresh_hdr_clip, str(tmp_path / "o"), NodeParams(factor=2)))
    (src / "shot.1003.exr").unlink()
    with pytest.raises(InputError, match=r"frame 1003 is missing"):
        run(RunConfig(fresh_hdr_clip, str(tmp_path / "o"), NodeParams(factor=2)))


@pytest.mark.parametrize(
    "bad", [{"factor": 0}, {"factor": 17}, {"shutter": 0.0}, {"shutter": 400.0}, {"guidance": "sideways"}, {"tile": 20}]
)
def test_impossible_parameters(hdr_clip: str, tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ParameterError):
        run(RunConfig(hdr_clip, str(tmp_path / "o"), NodeParams(**bad)))
    assert not list((tmp_path / "o").glob("*.exr")) if (tmp_path / "o").exists() else True


def test_frames_out_of_clip(hdr_clip: str, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="outside the clip"):
        run(RunConfig(hdr_clip, str(tmp_path / "o"), NodeParams(factor=2), frames=(995, 1003)))


def test_parse_frame_range() -> None:
    assert parse_frame_range("1001-1050") == (1001, 1050)
    assert parse_frame_range("7") == (7, 7)
    assert parse_frame_range("-5--2") == (-5, -2)
    with pytest.raises(ParameterError):
        parse_frame_range("10-5")
    with pytest.raises(ParameterError):
        parse_frame_range("abc")


def test_rerun_redoes_outputs_of_other_settings_or_changed_plates(fresh_hdr_clip: str, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2))).written == 12
    assert run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2))).skipped == 12
    # other settings into the same folder: nothing stale is kept
    res = run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2, shutter=180.0)))
    assert res.written == 12 and res.skipped == 0
    # a re-delivered plate: that frame and those whose outputs read it are redone: at 180 degrees
    # (even timing) 1003 and 1005 for their guidance, and 1002, whose gap output reads 1003's result
    _redeliver(Path(fresh_hdr_clip.replace("####", "1004")))
    res = run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2, shutter=180.0)))
    assert res.written == 8 and res.skipped == 4
    # at 360 degrees the frame, its two neighbours (guidance) and theirs, whose outputs blend toward the
    # neighbours' decompositions: 1002-1006
    assert run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2))).written == 12
    _redeliver(Path(fresh_hdr_clip.replace("####", "1004")))
    res = run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2)))
    assert res.written == 10 and res.skipped == 2
    # without following the motion (nothing blends) only the frame and its two neighbours
    assert run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2, follow=0.0))).written == 12
    _redeliver(Path(fresh_hdr_clip.replace("####", "1004")))
    res = run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2, follow=0.0)))
    assert res.written == 6 and res.skipped == 6
    man = json.loads(res.manifest.read_text())
    assert man["complete"] is True and set(man["frame_signatures"]) == {str(f) for f in range(1001, 1007)}


# ------------------------------------------------------------------ resume follows the plates' bytes
def _redeliver(plate: Path) -> None:
    """New pixels in ``plate`` under its old modification time: only the bytes tell it changed."""
    from unshutter.io.image_file import write_image

    st = plate.stat()
    pix, meta = read_image(plate)
    write_image(plate, pix * np.float32(1.01), meta)
    os.utime(plate, ns=(st.st_atime_ns, st.st_mtime_ns))


def _rendered(cfg: RunConfig) -> tuple[set[int], int]:
    """Source frames a run renders (not skipped), from its progress events; and its written count."""
    events: list[dict] = []
    res = run(cfg, progress=events.append)
    frames = [e for e in events if e["event"] == "frame"]
    start = next(e for e in events if e["event"] == "start")
    assert [e["frame"] for e in frames] == list(range(start["frames"][0], start["frames"][1] + 1))
    return {e["frame"] for e in frames if not e["skipped"]}, res.written


def test_copied_plates_resume_on_the_same_outputs(fresh_hdr_clip: str, tmp_path: Path) -> None:
    """Job attachments copy the plates to another path with new times: nothing is rendered again."""
    out = tmp_path / "o"
    first = run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2)))
    assert first.written == 12
    before = json.loads(first.manifest.read_text())["frame_signatures"]
    images = {n: b for n, b in _snapshot(out).items() if n.endswith(".exr")}
    src = Path(fresh_hdr_clip).parent
    copy = tmp_path / "worker" / "session-7" / "plates"
    shutil.copytree(src, copy, copy_function=shutil.copyfile)
    for p in copy.iterdir():
        st = (src / p.name).stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 3_600_000_000_000))
    pattern = str(copy / Path(fresh_hdr_clip).name)
    assert _rendered(RunConfig(pattern, str(out), NodeParams(factor=2))) == (set(), 0)
    assert json.loads(first.manifest.read_text())["frame_signatures"] == before
    assert {n: b for n, b in _snapshot(out).items() if n.endswith(".exr")} == images
    # a farm chunk of the copied plates resumes the same way
    assert _rendered(RunConfig(pattern, str(out), NodeParams(factor=2), frames=(1002, 1004))) == (set(), 0)


def test_touched_plate_is_kept_changed_plate_redoes_its_frames(fresh_hdr_clip: str, tmp_path: Path) -> None:
    out = tmp_path / "o"
    cfg = RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2))
    assert _rendered(cfg) == (set(range(1001, 1007)), 12)
    plate = Path(fresh_hdr_clip.replace("####", "1004"))
    st = plate.stat()
    os.utime(plate, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))  # touched, same bytes
    assert _rendered(cfg) == (set(), 0)
    _redeliver(plate)
    # the frame, the two whose guidance reads it and the two whose outputs blend toward those two's
    assert _rendered(cfg) == ({1002, 1003, 1004, 1005, 1006}, 10)
    _redeliver(Path(fresh_hdr_clip.replace("####", "1001")))  # the first frame has one neighbour
    assert _rendered(cfg) == ({1001, 1002, 1003}, 6)
    assert _rendered(cfg) == (set(), 0)


def test_each_source_file_is_hashed_once_per_run(
    fresh_hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from unshutter.io import digest

    calls: list[str] = []
    real = digest.file_digest

    def counted(path):  # type: ignore[no-untyped-def]
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(digest, "file_digest", counted)
    run(RunConfig(fresh_hdr_clip, str(tmp_path / "o"), NodeParams(factor=2), frames=(1002, 1004)))
    # the chunk's frames and the two frames either side that decide its outputs (360 degrees: a frame's
    # outputs read its neighbours' decompositions), each once though five frames use it
    assert sorted(calls) == [f"shot.{f}.exr" for f in range(1001, 1007)]


def test_movie_is_hashed_once_and_a_copy_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fractions import Fraction

    from tests.conftest import textured_photo
    from unshutter import kernels
    from unshutter.io import digest
    from unshutter.io.movie import MovieWriter
    from unshutter.sample import render_clip

    src = tmp_path / "clip.mov"
    w = MovieWriter(src, 64, 48, Fraction(25))
    for f in kernels.srgb_encode(np.clip(render_clip(textured_photo(), 4, 64, 48, speed=4.0, samples=6), 0, 1)):
        w.write(f)
    w.close()
    out = str(tmp_path / "out" / "clip.####.png")
    calls: list[str] = []
    real = digest.file_digest
    monkeypatch.setattr(digest, "file_digest", lambda p: calls.append(str(p)) or real(p))
    assert run(RunConfig(str(src), out, NodeParams(factor=2))).written == 8
    assert calls == [str(src)]
    copy = tmp_path / "elsewhere" / "clip.mov"
    copy.parent.mkdir()
    shutil.copyfile(src, copy)
    os.utime(copy, ns=(0, src.stat().st_mtime_ns + 3_600_000_000_000))
    res = run(RunConfig(str(copy), out, NodeParams(factor=2)))
    assert (res.written, res.skipped) == (0, 8)


def test_movie_to_movie_run_reads_the_input_only_to_decode_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A movie output is never resumed, so hashing the whole input movie for resume signatures is wasted."""
    from fractions import Fraction

    from tests.conftest import textured_photo
    from unshutter import kernels
    from unshutter.io import digest
    from unshutter.io.movie import MovieWriter
    from unshutter.sample import render_clip

    src = tmp_path / "clip.mov"
    w = MovieWriter(src, 64, 48, Fraction(25))
    for f in kernels.srgb_encode(np.clip(render_clip(textured_photo(), 3, 64, 48, speed=4.0, samples=6), 0, 1)):
        w.write(f)
    w.close()
    calls: list[str] = []
    real = digest.file_digest
    monkeypatch.setattr(digest, "file_digest", lambda p: calls.append(str(p)) or real(p))
    res = run(RunConfig(str(src), str(tmp_path / "out" / "slow.mov"), NodeParams(factor=2)))
    assert res.written == 6 and calls == []
    man = json.loads(res.manifest.read_text())
    assert man["complete"] is True and man["frame_signatures"] == {}


def test_unreadable_source_file_is_named(tmp_path: Path) -> None:
    from unshutter.io.digest import DigestCache, file_digest

    (tmp_path / "shot.1001.exr").mkdir()  # not a file: never read (a FIFO or a device could hang)
    with pytest.raises(InputError, match=r"shot\.1001\.exr: not a regular file \(a folder\)"):
        file_digest(tmp_path / "shot.1001.exr")
    assert DigestCache().get(tmp_path / "shot.1002.exr") is None  # missing: no digest, no error


def test_killed_run_outputs_are_kept_without_a_manifest(hdr_clip: str, tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = run(RunConfig(hdr_clip, str(out), NodeParams(factor=2)))
    res.manifest.unlink()  # a run killed before its manifest: the signature is in each file
    assert run(RunConfig(hdr_clip, str(out), NodeParams(factor=2))).skipped == 12


@pytest.mark.parametrize("ext", [".exr", ".png", ".tif", ".dpx", ".jpg"])
def test_signature_survives_every_format(tmp_path: Path, ext: str) -> None:
    from unshutter.io.image_file import ImageMeta, signature_of, verify_image, write_image

    meta = ImageMeta(8, 6, ["R", "G", "B"], "uint8", 8, {"ImageDescription": ("string", "plate v3")}, "")
    p = tmp_path / f"x{ext}"
    write_image(p, np.full((6, 8, 3), 0.5, np.float32), meta, "abc123")
    got = read_image(p)[1]
    assert signature_of(got) == "abc123" and verify_image(p, meta, "abc123") and not verify_image(p, meta, "abc124")
    if ext not in (".exr", ".png"):
        assert got.attributes["ImageDescription"][1].startswith("plate v3")


# ------------------------------------------------------------------ never over the input
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("inp", ["in/shot.####.exr", "ABS", "./in/shot.1001-1006#.exr", "in/shot.1003.exr"])
@pytest.mark.parametrize(
    "out",
    [
        "in",
        "in/",
        "./in/",
        "in/../in",
        "ABS_DIR",
        "link/",
        "in/shot.####.exr",
        "in/shot.%05d.exr",
        "link/shot.#.exr",
        "in/shot.%04d.exr",
    ],
)
def test_refuses_output_over_its_own_plates(
    fresh_hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inp: str, out: str
) -> None:
    """-o naming the plates' folder (a folder keeps the input's name) or their pattern, however spelt."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").symlink_to(tmp_path / "in")
    inp = fresh_hdr_clip if inp == "ABS" else inp
    out = str(tmp_path / "in") if out == "ABS_DIR" else out
    before = _snapshot(tmp_path / "in")
    with pytest.raises(ParameterError) as exc:
        run(RunConfig(inp, out, NodeParams(factor=2), frames=(1002, 1003)))
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"-o {out}: ") and "over the input plates" in msg
    assert "shot.####.exr" in msg and str(Path(inp).parent) in msg
    assert _snapshot(tmp_path / "in") == before  # nothing written (no manifest, no temporaries), nothing damaged


def test_refuses_output_over_plates_behind_symlinks(fresh_hdr_clip: str, tmp_path: Path) -> None:
    """Plates read through per-file symlinks are still the files the symlinks point at."""
    plates = tmp_path / "in"
    links = tmp_path / "links"
    links.mkdir()
    for p in plates.iterdir():
        (links / p.name).symlink_to(p)
    before = _snapshot(plates)
    with pytest.raises(
        ParameterError,
        match=r"^-o .*in: writes .*in/shot\.1001\.exr, over the input frame "
        r".*links/shot\.1001\.exr of .*links/shot\.####\.exr$",
    ):
        run(RunConfig(str(links / "shot.####.exr"), str(plates), NodeParams(factor=2)))
    assert _snapshot(plates) == before


def test_same_folder_other_name_still_runs(fresh_hdr_clip: str, tmp_path: Path) -> None:
    plates = tmp_path / "in"
    before = _snapshot(plates)
    res = run(
        RunConfig(
            fresh_hdr_clip,
            str(plates / "slow.####.exr"),
            NodeParams(factor=2),
            frames=(1002, 1002),
            guidance_debug=str(tmp_path / "dbg"),
        )
    )
    assert res.written == 2 and (plates / "slow.1003.exr").exists()
    assert (tmp_path / "dbg" / "guidance.1002.png").exists()
    # a folder output keeps the name but not the format: shot.####.png beside shot.####.exr is fine
    res = run(RunConfig(fresh_hdr_clip, str(plates), NodeParams(factor=2), frames=(1002, 1002), format="png"))
    assert res.written == 2 and (plates / "shot.1004.png").exists()
    after = _snapshot(plates)
    assert {k: after[k] for k in before} == before


def _png_plates(folder: Path, name: str) -> str:
    from unshutter import kernels
    from unshutter.io.image_file import ImageMeta, write_image
    from unshutter.sample import render_clip

    from tests.conftest import textured_photo

    folder.mkdir(parents=True, exist_ok=True)
    frames = kernels.srgb_encode(np.clip(render_clip(textured_photo(), 4, 48, 32, speed=3.0, samples=6), 0, 1))
    meta = ImageMeta(48, 32, ["R", "G", "B"], "uint8", 8, {}, "png")
    for i, f in enumerate(frames):
        write_image(folder / f"{name}.{1001 + i:04d}.png", f, meta)
    return str(folder / f"{name}.####.png")


def test_guidance_debug_never_over_plates_or_outputs(tmp_path: Path) -> None:
    plates = tmp_path / "in"
    clip = _png_plates(plates, "guidance")
    before = _snapshot(plates)
    with pytest.raises(
        ParameterError,
        match=r"^--guidance-debug .*in: writes guidance\.####\.png in .*in, "
        r"over the input plates .*in/guidance\.####\.png$",
    ):
        run(RunConfig(clip, str(tmp_path / "o"), NodeParams(factor=2), guidance_debug=str(plates)))
    assert _snapshot(plates) == before and not (tmp_path / "o").exists()
    # the maps of 1001-1004 would replace output frames 1001-1004 of this very run
    with pytest.raises(
        ParameterError,
        match=r"^--guidance-debug .*o: writes .*o/guidance\.1001\.png, "
        r"over an output frame of -o .*o/guidance\.####\.png$",
    ):
        run(
            RunConfig(
                clip,
                str(tmp_path / "o" / "guidance.####.png"),
                NodeParams(factor=2),
                guidance_debug=str(tmp_path / "o"),
            )
        )
    assert not (tmp_path / "o").exists()


def test_edited_matte_or_labelme_file_redoes_the_frames_it_decides(fresh_hdr_clip: str, tmp_path: Path) -> None:
    """An override file's mattes and labelme polygons are inputs too: editing one re-renders exactly the
    frames whose guidance reads it; a copy of them elsewhere (path mapping) is the same input."""
    import json

    from unshutter.io.image_file import ImageMeta, write_image

    ovdir = tmp_path / "ov"
    ovdir.mkdir()
    meta = ImageMeta(96, 64, ["R", "G", "B", "A"], "uint8", 8, {}, "")
    for f in range(1001, 1007):
        m = np.zeros((64, 96, 4), np.float32)
        m[:, :40, 3] = 1.0
        write_image(ovdir / f"matte.{f:04d}.png", m, meta)
    (ovdir / "poly.json").write_text(
        json.dumps(
            {
                "version": "5.2.1",
                "imageWidth": 96,
                "imageHeight": 64,
                "shapes": [{"label": "down", "points": [[60, 10], [90, 50]], "shape_type": "rectangle"}],
            }
        )
    )
    (ovdir / "ov.yaml").write_text(
        "regions:\n  - direction: up\n    matte: matte.####.png\n    frames: 1002-1004\n"
        "  - direction: down\n    labelme: poly.json\n    frames: 1005\n"
    )
    out = tmp_path / "o"
    cfg = RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2, overrides=str(ovdir / "ov.yaml")))
    assert _rendered(cfg) == (set(range(1001, 1007)), 12)
    assert _rendered(cfg) == (set(), 0)
    m = np.zeros((64, 96, 4), np.float32)
    m[:, 50:, 3] = 1.0
    write_image(ovdir / "matte.1003.png", m, meta)  # frame 1003's matte redrawn
    assert _rendered(cfg) == ({1003}, 2)
    write_image(ovdir / "matte.1006.png", m, meta)  # outside the region's frames: reads nothing
    assert _rendered(cfg) == (set(), 0)
    (ovdir / "poly.json").write_text(
        json.dumps(
            {
                "version": "5.2.1",
                "imageWidth": 96,
                "imageHeight": 64,
                "shapes": [{"label": "down", "points": [[50, 10], [90, 50]], "shape_type": "rectangle"}],
            }
        )
    )
    assert _rendered(cfg) == (set(range(1001, 1007)), 12)  # the polygons come from it: every frame
    moved = tmp_path / "mapped"
    shutil.copytree(ovdir, moved)
    cfg.params = NodeParams(factor=2, overrides=str(moved / "ov.yaml"))
    assert _rendered(cfg) == (set(), 0)


def test_ocio_config_is_compared_by_what_it_computes(fresh_hdr_clip: str, tmp_path: Path) -> None:
    """A farm worker sees the OCIO config (and its LUTs) at another path: it resumes; an edited LUT re-renders."""
    from tests.test_color import write_lut_config

    a = write_lut_config(tmp_path / "ocio_a")
    shutil.copytree(tmp_path / "ocio_a", tmp_path / "ocio_b")
    edited = write_lut_config(tmp_path / "ocio_c", gamma=2.4)
    cfg = RunConfig(fresh_hdr_clip, str(tmp_path / "o"), NodeParams(factor=2), colorspace="plate", ocio=a)
    assert _rendered(cfg) == (set(range(1001, 1007)), 12)
    cfg.ocio = str(tmp_path / "ocio_b" / "config.ocio")
    assert _rendered(cfg) == (set(), 0)
    cfg.ocio = edited
    assert _rendered(cfg) == (set(range(1001, 1007)), 12)


def test_frames_another_run_writes_are_refused_and_nothing_is_touched(
    fresh_hdr_clip: str, tmp_path: Path, claim_holder
) -> None:
    """A second run on frames a live run writes (an editor re-run during a farm render) is refused up front."""
    out = tmp_path / "o"
    out.mkdir()
    other = claim_holder(out, "shot.#.exr", (1003, 1006))  # source frames 1002-1003 at factor 2
    # the other run's temporary, written from another host: its pid means nothing here
    their_tmp = out / ".shot.1003.unshutter-tmp999999.exr"
    their_tmp.write_bytes(b"half written")
    with pytest.raises(
        OutputError,
        match=r"frames 1001-1012 of .*shot\.####\.exr: another Unshutter run is "
        rf"writing them \(pid {other.pid} on ",
    ):
        run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2)))
    assert their_tmp.read_bytes() == b"half written"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == []  # no frame, no manifest
    res = run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2), frames=(1004, 1006)))  # a chunk beside it
    assert res.written == 6 and their_tmp.exists()
    other.kill()
    other.wait()
    res = run(RunConfig(fresh_hdr_clip, str(out), NodeParams(factor=2)))  # the other run was killed: go on
    assert (res.written, res.skipped) == (6, 6) and not their_tmp.exists()  # a dead run's temporary goes


def test_override_ranges_outside_the_clip_are_one_warning_from_the_clip_the_run_opened(
    hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``unshutter run --json``: the warning names the whole clip's source frames (not just --frames), comes before
    the render as one stderr line and one event, and the clip is opened once for it and the run."""
    from unshutter import pipeline
    from unshutter.cli.main import main

    opened: list[str] = []
    real = pipeline.open_clip

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "open_clip", counted)
    ov = tmp_path / "car.yaml"  # output frame numbers by mistake: the clip's source frames are 1001-1006
    ov.write_text(
        "regions:\n  - {name: car, motion: [8, 0], frames: 4003-4010, polygon: [[0, 0], [40, 0], [40, 30]]}\n"
    )
    out = str(tmp_path / "out" / "slow.####.exr")
    assert (
        main(["run", hdr_clip, "-o", out, "--factor", "2", "--frames", "1003", "--overrides", str(ov), "--json"]) == 0
    )
    std = capsys.readouterr()
    assert opened == [hdr_clip]
    lines = [x for x in std.err.splitlines() if "warning" in x]
    assert len(lines) == 1 and lines[0].startswith(f"unshutter: warning: {ov}: region car 4003-4010"), std.err
    assert "source frames 1001-1006" in lines[0]
    events = [json.loads(x) for x in std.out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("warning") == 1 and kinds.index("warning") < kinds.index("start"), kinds
    assert f"unshutter: warning: {events[kinds.index('warning')]['message']}" == lines[0]


def test_the_same_warning_from_several_runs_is_said_once(capsys: pytest.CaptureFixture[str]) -> None:
    """``--alternatives`` runs the clip once per candidate, each run warning alike: the terminal gets it once."""
    from unshutter.cli.run import Reporter

    rep = Reporter(json_lines=False, quiet=True)
    for message in ("a.yaml: region car 4003-4010 outside", "a.yaml: region car 4003-4010 outside", "other"):
        rep({"event": "warning", "message": message})
    err = capsys.readouterr().err.splitlines()
    assert err == ["unshutter: warning: a.yaml: region car 4003-4010 outside", "unshutter: warning: other"]
