"""``unshutter timeline``: Resolve-shaped OTIO and CMX 3600 EDL in, chosen clips relinked to slow motion out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from unshutter.cli.main import main
from unshutter.io.image_file import read_image
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run
from unshutter.timeline import TimelineConfig, read_timeline, retime_timeline

N = 3


def _items(tl: otio.schema.Timeline, track: str) -> list:
    return list(next(t for t in tl.tracks if t.name == track))


def _json(obj) -> dict:
    return json.loads(otio.adapters.write_to_string(obj, "otio_json"))


def _plain(x):
    """OTIO metadata (AnyDictionary/AnyVector) as plain dicts and lists."""
    if hasattr(x, "items"):
        return {k: _plain(v) for k, v in x.items()}
    if hasattr(x, "__iter__") and not isinstance(x, str):
        return [_plain(v) for v in x]
    return x


def _clip(tl, track: str, name: str) -> otio.schema.Clip:
    return next(c for c in _items(tl, track) if isinstance(c, otio.schema.Clip) and c.name == name)


def _frames_on_disk(ref: otio.schema.ImageSequenceReference) -> list[Path]:
    return [Path(ref.target_url_for_image_number(i)) for i in range(ref.number_of_images_in_sequence())]


def test_resolve_timeline_round_trip(resolve_otio: Path, media: Path, tmp_path: Path, capsys) -> None:
    out, newmedia = tmp_path / "slow.otio", tmp_path / "new"
    code = main(["timeline", str(resolve_otio), "-o", str(out), "--factor", str(N), "--media-dir", str(newmedia)])
    assert code == 0
    report = capsys.readouterr()
    assert "3 clips relinked, 3 left unchanged" in report.out
    for name, reason in (
        ("shotC", "speed effect"),
        ("shotD", "missing media"),
        ("Title", "unsupported media reference"),
    ):
        assert f"unchanged: {name} " in report.out and reason in report.out
    before, after = read_timeline(resolve_otio), read_timeline(out)

    # shotA on V1: image sequence 1001-1010, source 1003-1006, a dissolve after it needs one handle frame
    a0, a1 = _clip(before, "Video 1", "shotA"), _clip(after, "Video 1", "shotA")
    ref = a1.media_reference
    assert isinstance(ref, otio.schema.ImageSequenceReference)
    assert (ref.name_prefix, ref.name_suffix, ref.frame_zero_padding, ref.rate, ref.frame_step) == (
        "shotA.",
        ".png",
        4,
        24.0,
        1,
    )
    assert Path(ref.target_url_base).parent == newmedia.resolve()
    first_out = 1001 + (1003 - 1001) * N  # DESIGN.md numbering
    assert ref.start_frame == first_out
    assert ref.available_range == otio.opentime.TimeRange(
        otio.opentime.RationalTime(first_out, 24), otio.opentime.RationalTime(5 * N, 24)
    )  # 1003-1007
    assert a1.source_range.start_time.to_frames() == first_out
    assert a1.source_range.duration.to_frames() == a0.source_range.duration.to_frames() * N == 12
    assert ref.frame_for_time(a1.source_range.start_time) == first_out
    assert all(p.is_file() for p in _frames_on_disk(ref))
    md = _plain(a1.metadata["unshutter"])
    assert md["factor"] == N and md["source"]["frames"] == [1003, 1006] and md["processed_frames"] == [1003, 1007]
    assert Path(md["manifest"]).is_file() and md["capture_rate"] == 72
    assert _plain(a1.metadata["Resolve_OTIO"]) == _plain(a0.metadata["Resolve_OTIO"])
    assert _json(a1.media_references()["unshutter_source"]) == _json(a0.media_reference)  # the original is kept
    assert a1.markers[0].marked_range.start_time.to_frames() == first_out + (1004 - 1003) * N
    assert _plain(a1.markers[0].metadata) == _plain(a0.markers[0].metadata)

    # shotB: a movie (frames from 0), source 2-5, the dissolve before it needs one handle frame
    b1 = _clip(after, "Video 1", "shotB")
    assert isinstance(b1.media_reference, otio.schema.ImageSequenceReference)
    assert b1.media_reference.start_frame == 1 * N and b1.source_range.start_time.to_frames() == 2 * N
    assert b1.source_range.duration.to_frames() == 4 * N
    assert all(p.is_file() for p in _frames_on_disk(b1.media_reference))
    assert _plain(b1.metadata["unshutter"]["processed_frames"]) == [1, 5]

    # the same media used again on V2 shares the output folder
    a2 = _clip(after, "Video 2", "shotA")
    assert a2.media_reference.target_url_base == ref.target_url_base
    assert a2.source_range.duration.to_frames() == 3 * N

    # unprocessable clips, gaps, transitions, markers, metadata and audio: untouched
    for track, name in (("Video 1", "shotC"), ("Video 1", "shotD"), ("Video 2", "Title")):
        assert _json(_clip(after, track, name)) == _json(_clip(before, track, name))
    for track in ("Video 1", "Video 2"):
        kinds = [type(i).__name__ for i in _items(after, track)]
        assert kinds == [type(i).__name__ for i in _items(before, track)]
        for i0, i1 in zip(_items(before, track), _items(after, track)):
            if isinstance(i0, (otio.schema.Gap, otio.schema.Transition)):
                assert _json(i1) == _json(i0)
    assert _json(next(t for t in after.tracks if t.name == "Audio 1")) == _json(
        next(t for t in before.tracks if t.name == "Audio 1")
    )
    for t0, t1 in zip(before.tracks, after.tracks):
        assert [_json(m) for m in t1.markers] == [_json(m) for m in t0.markers]
        assert _plain(t1.metadata) == _plain(t0.metadata)
    assert [_json(m) for m in after.tracks.markers] == [_json(m) for m in before.tracks.markers]
    assert _plain(after.metadata) == _plain(before.metadata) and after.global_start_time == before.global_start_time

    # later items move down the track: shotA and shotB each grew by (N-1) x their length
    gap0 = next(i for i in _items(before, "Video 1") if isinstance(i, otio.schema.Gap))
    gap1 = next(i for i in _items(after, "Video 1") if isinstance(i, otio.schema.Gap))
    moved = gap1.range_in_parent().start_time.to_frames() - gap0.range_in_parent().start_time.to_frames()
    assert moved == (N - 1) * (4 + 4)


def test_relinked_frame_is_the_engines_subframe(resolve_otio: Path, media: Path, tmp_path: Path) -> None:
    """The first frame the relinked clip shows is sub-frame 0 of its first source frame, as ``unshutter run`` makes it."""
    tl = read_timeline(resolve_otio)
    retime_timeline(tl, TimelineConfig(NodeParams(factor=N), tmp_path / "new", clips=["shotA"]))
    clip = _clip(tl, "Video 1", "shotA")
    shown = Path(
        clip.media_reference.target_url_for_image_number(
            clip.media_reference.frame_for_time(clip.source_range.start_time) - clip.media_reference.start_frame
        )
    )
    run(
        RunConfig(
            str(media / "shotA" / "shotA.####.png"),
            str(tmp_path / "direct" / "d.####.png"),
            NodeParams(factor=N),
            frames=(1003, 1003),
        )
    )
    direct = tmp_path / "direct" / f"d.{1001 + 2 * N:04d}.png"
    np.testing.assert_array_equal(read_image(shown)[0], read_image(direct)[0])


def test_clip_selection_and_rerun(resolve_otio: Path, tmp_path: Path) -> None:
    cfg = TimelineConfig(NodeParams(factor=2), tmp_path / "new", clips=["shotB"])
    tl = read_timeline(resolve_otio)
    reports = retime_timeline(tl, cfg)
    assert [(r.name, r.status) for r in reports] == [("shotB", "processed")]
    assert reports[0].written == 5 * 2
    before = read_timeline(resolve_otio)
    for track, name in (("Video 1", "shotA"), ("Video 2", "shotA")):
        assert _json(_clip(tl, track, name)) == _json(_clip(before, track, name))
    again = retime_timeline(read_timeline(resolve_otio), cfg)  # complete outputs are reused
    assert again[0].status == "processed" and again[0].written == 0


def test_unknown_clip_name_is_an_error(resolve_otio: Path, tmp_path: Path, capsys) -> None:
    code = main(
        [
            "timeline",
            str(resolve_otio),
            "-o",
            str(tmp_path / "o.otio"),
            "--media-dir",
            str(tmp_path),
            "--clips",
            "shotA,nope",
        ]
    )
    assert code == 2 and "'nope'" in capsys.readouterr().err
    assert not (tmp_path / "o.otio").exists()


def test_missing_image_sequence_is_reported(resolve_otio: Path, tmp_path: Path) -> None:
    text = resolve_otio.read_text().replace("/shotC/", "/gone/")
    p = tmp_path / "gone.otio"
    p.write_text(text)
    tl = read_timeline(p)
    c = _clip(tl, "Video 1", "shotC")
    c.effects.pop()  # no speed effect: now only its media is missing
    reports = retime_timeline(tl, TimelineConfig(NodeParams(factor=2), tmp_path / "new", clips=["shotC"]))
    assert reports[0].status == "skipped" and "missing media" in reports[0].reason
    assert (
        isinstance(c.media_reference, otio.schema.ImageSequenceReference)
        and "gone" in c.media_reference.target_url_base
    )


def test_engine_error_leaves_clip_unchanged(resolve_otio: Path, media: Path, tmp_path: Path) -> None:
    """A corrupt frame inside the range: reported with the engine's message, the rest still comes out."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in sorted((media / "shotA").glob("*.png")):
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "shotA.1004.png").write_bytes(b"not a png")
    p = tmp_path / "bad.otio"
    p.write_text(resolve_otio.read_text().replace(f"{media}/shotA/", f"{bad}/"))
    tl = read_timeline(p)
    before = _json(_clip(tl, "Video 1", "shotA"))
    reports = {r.name + r.track: r for r in retime_timeline(tl, TimelineConfig(NodeParams(factor=2), tmp_path / "new"))}
    assert reports["shotAVideo 1"].status == "skipped" and "shotA.1004.png" in reports["shotAVideo 1"].reason
    assert _json(_clip(tl, "Video 1", "shotA")) == before
    assert reports["shotBVideo 1"].status == "processed"


EDL = """TITLE: reel3
FCM: NON-DROP FRAME

001  shotA    V     C        00:00:41:18 00:00:41:22 01:00:00:00 01:00:00:04
* FROM CLIP NAME: shotA
* FROM FILE: {media}/shotA/shotA.1001.png

002  shotC    V     C        00:00:41:18 00:00:41:20 01:00:00:04 01:00:00:08
M2   shotC       012.0                00:00:41:18
* FROM CLIP NAME: shotC
* FROM FILE: {media}/shotC/shotC.1001.png

003  offline  V     C        00:00:00:00 00:00:00:03 01:00:00:08 01:00:00:11
* FROM CLIP NAME: offline
"""


def test_edl_through_cmx3600_adapter(media: Path, tmp_path: Path, capsys) -> None:
    edl = tmp_path / "reel3.edl"
    edl.write_text(EDL.format(media=media))
    out = tmp_path / "reel3_slow.otio"
    assert main(["timeline", str(edl), "-o", str(out), "--factor", "2", "--media-dir", str(tmp_path / "new")]) == 0
    text = capsys.readouterr().out
    assert "1 clips relinked, 2 left unchanged" in text
    assert "shotC" in text and "speed effect" in text and "offline" in text and "missing media" in text
    tl = read_timeline(out)
    a = next(c for c in tl.find_clips() if c.name == "shotA")
    # source timecode 00:00:41:18 at 24 fps is frame 1002 of the sequence
    assert _plain(a.metadata["unshutter"]["source"]["frames"]) == [1002, 1005]
    assert a.source_range.duration.to_frames() == 8
    assert a.media_reference.frame_for_time(a.source_range.start_time) == 1001 + (1002 - 1001) * 2
    assert all(p.is_file() for p in _frames_on_disk(a.media_reference))


@pytest.mark.parametrize("bad", ["missing.otio", "garbage.otio"])
def test_unreadable_timeline(tmp_path: Path, bad: str, capsys) -> None:
    p = tmp_path / bad
    if bad == "garbage.otio":
        p.write_text("{ not json")
    assert main(["timeline", str(p), "-o", str(tmp_path / "o.otio"), "--media-dir", str(tmp_path)]) == 3
    assert bad in capsys.readouterr().err


def test_movie_with_source_timecode(resolve_otio: Path, tmp_path: Path) -> None:
    """Resolve gives a camera movie an available range at its timecode (here 01:00:00:00 = 86400 at 24 fps):
    media time 86400 is movie frame 0, so the clip uses movie frames 2-5 exactly as when it starts at 0."""
    tl = read_timeline(resolve_otio)
    clip = _clip(tl, "Video 1", "shotB")
    tc = otio.opentime.RationalTime(86400, 24)
    ref = clip.media_reference
    ref.available_range = otio.opentime.TimeRange(ref.available_range.start_time + tc, ref.available_range.duration)
    clip.source_range = otio.opentime.TimeRange(clip.source_range.start_time + tc, clip.source_range.duration)
    for m in clip.markers:
        m.marked_range = otio.opentime.TimeRange(m.marked_range.start_time + tc, m.marked_range.duration)
    reports = retime_timeline(tl, TimelineConfig(NodeParams(factor=2), tmp_path / "new", clips=["shotB"]))
    assert reports[0].status == "processed", reports[0].reason
    assert reports[0].frames == (2, 5) and reports[0].details["processed_frames"] == [1, 5]
    new = clip.media_reference
    assert new.start_frame == 2 and new.frame_for_time(clip.source_range.start_time) == 4
    assert clip.source_range.duration.to_frames() == 8
    # the slowed media keeps the camera timecode: movie frame 0's first sub-frame is 01:00:00:00 and
    # every written frame counts on from there (file 2 = sub-frame 0 of movie frame 1 = 01:00:00:02)
    assert new.available_range.start_time.to_timecode() == "01:00:00:02"
    assert clip.source_range.start_time.to_timecode() == "01:00:00:04"
    assert clip.markers[0].marked_range.start_time.to_frames() == 86400 + 4 + (3 - 2) * 2  # still on movie frame 3
    assert all(p.is_file() for p in _frames_on_disk(new))


def test_image_sequence_with_source_timecode(resolve_otio: Path, tmp_path: Path) -> None:
    """An image sequence whose available range starts at a timecode (file 1001 = 01:00:00:00) keeps it."""
    tl = read_timeline(resolve_otio)
    clip = _clip(tl, "Video 1", "shotA")
    ref = clip.media_reference
    shift = otio.opentime.RationalTime(86400, 24) - ref.available_range.start_time
    ref.available_range = otio.opentime.TimeRange(ref.available_range.start_time + shift, ref.available_range.duration)
    clip.source_range = otio.opentime.TimeRange(clip.source_range.start_time + shift, clip.source_range.duration)
    for m in clip.markers:
        m.marked_range = otio.opentime.TimeRange(m.marked_range.start_time + shift, m.marked_range.duration)
    reports = retime_timeline(tl, TimelineConfig(NodeParams(factor=N), tmp_path / "new", clips=["shotA"]))
    assert reports[0].status == "processed" and reports[0].frames == (1003, 1006), reports[0].reason
    new = clip.media_reference
    first_out = 1001 + (1003 - 1001) * N
    assert new.start_frame == first_out and new.frame_for_time(clip.source_range.start_time) == first_out
    assert new.available_range.start_time.to_timecode() == f"01:00:00:{first_out - 1001:02d}"
    assert clip.source_range.start_time.to_frames() == 86400 + first_out - 1001
