"""Each clip of a timeline reads its own motion-vector pass: {media}/{clip} in --motion-pass, or the clip's
own media reference under ``motion_pass``; one pass for clips of different media is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from unshutter.cli.main import main
from unshutter.guidance.motion_pass import write_vectors
from unshutter.timeline import roundtrip
from unshutter.timeline.roundtrip import MOTION_PASS_KEY

SHOT_A = range(1001, 1011)  # shotA.1001-1010.png
SHOT_B = range(0, 8)  # shotB.mp4, 8 frames


def passes(folder: Path, name: str, frames: range, dx: float) -> None:
    """``folder/name.####.exr``: a constant forward motion of dx px per frame over the 64x48 frames."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in frames:
        write_vectors(folder / f"{name}.{f:04d}.exr", np.full((48, 64, 2), (dx, 0.0), np.float32))


def timeline_args(otio_in: Path, out: Path, media_dir: Path, *extra: str) -> list[str]:
    return ["timeline", str(otio_in), "-o", str(out), "--media-dir", str(media_dir), "--factor", "2", *extra]


def relinked(out: Path, name: str) -> list[otio.schema.Clip]:
    tl = otio.adapters.read_from_file(str(out))
    return [c for c in tl.find_clips() if c.name == name and "unshutter" in c.metadata]


def used_pass(clip: otio.schema.Clip) -> str:
    """The pass the clip's run read, from its manifest (the run's own record), checked against the clip's metadata."""
    md = clip.metadata["unshutter"]
    manifest = json.loads(Path(md["manifest"]).read_text())
    assert manifest["params"]["motion_pass"] == md["motion_pass"]["file"]
    return str(manifest["params"]["motion_pass"])


def with_own_pass(otio_in: Path, out: Path, name: str, pattern: Path) -> Path:
    """``otio_in`` written to ``out`` with clip ``name`` carrying its own motion pass reference (``pattern``)."""
    tl = otio.adapters.read_from_file(str(otio_in))
    clip = next(c for c in tl.find_clips() if c.name == name)
    refs = clip.media_references()
    refs[MOTION_PASS_KEY] = otio.schema.ExternalReference(target_url=pattern.as_uri())
    clip.set_media_references(refs, clip.active_media_reference_key)
    otio.adapters.write_to_file(tl, str(out))
    return out


def test_media_token_gives_each_clip_its_own_pass(resolve_otio: Path, tmp_path: Path) -> None:
    vec = tmp_path / "vec"
    passes(vec, "shotA", SHOT_A, 3.0)
    passes(vec, "shotB", SHOT_B, -2.0)
    out = tmp_path / "o.otio"
    args = timeline_args(resolve_otio, out, tmp_path / "m", "--clips", "shotA,shotB")
    assert main([*args, "--motion-pass", str(vec / "{media}.####.exr")]) == 0
    a_clips, b_clips = relinked(out, "shotA"), relinked(out, "shotB")
    assert len(a_clips) == 2 and len(b_clips) == 1  # shotA is on two tracks
    assert {used_pass(c) for c in a_clips} == {str(vec / "shotA.####.exr")}
    assert used_pass(b_clips[0]) == str(vec / "shotB.####.exr")


def test_clip_token_and_a_missing_pass_skip_only_that_clip(
    resolve_otio: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vec = tmp_path / "vec"
    passes(vec, "shotA", SHOT_A, 3.0)  # no pass for shotB
    out = tmp_path / "o.otio"
    args = timeline_args(resolve_otio, out, tmp_path / "m", "--clips", "shotA,shotB", "--json")
    assert main([*args, "--motion-pass", str(vec / "{clip}.####.exr")]) == 0
    report = {c["name"]: c for c in json.loads(capsys.readouterr().out)["clips"]}
    assert report["shotA"]["status"] == "processed"
    assert report["shotB"]["status"] == "skipped"
    assert "shotB.0000.exr" in report["shotB"]["reason"]
    assert relinked(out, "shotB") == []


def test_one_pass_for_two_media_is_refused_before_anything_runs(
    resolve_otio: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vec = tmp_path / "vec"
    passes(vec, "shotA", SHOT_A, 3.0)
    media_dir = tmp_path / "m"
    args = timeline_args(resolve_otio, tmp_path / "o.otio", media_dir, "--clips", "shotA,shotB")
    assert main([*args, "--motion-pass", str(vec / "shotA.####.exr")]) == 2
    err = capsys.readouterr().err
    assert "2 different media" in err and "{media}" in err
    assert not media_dir.exists() and not (tmp_path / "o.otio").exists()
    # one media (shotA on two tracks) may share one pass
    assert main([*args[:-2], "--clips", "shotA", "--motion-pass", str(vec / "shotA.####.exr")]) == 0


def test_unknown_token_is_refused(resolve_otio: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = timeline_args(resolve_otio, tmp_path / "o.otio", tmp_path / "m", "--clips", "shotA")
    assert main([*args, "--motion-pass", str(tmp_path / "{shot}.####.exr")]) == 2
    assert "unknown {shot}" in capsys.readouterr().err


def test_clip_reference_comes_first_and_stays_on_the_clip(resolve_otio: Path, tmp_path: Path) -> None:
    own = tmp_path / "own"
    passes(own, "car_vectors", SHOT_B, 4.0)
    vec = tmp_path / "vec"
    passes(vec, "shotA", SHOT_A, 3.0)
    given = with_own_pass(resolve_otio, tmp_path / "with_pass.otio", "shotB", own / "car_vectors.####.exr")
    out = tmp_path / "o.otio"
    args = timeline_args(given, out, tmp_path / "m", "--clips", "shotA,shotB")
    assert main([*args, "--motion-pass", str(vec / "{media}.####.exr")]) == 0
    (b,) = relinked(out, "shotB")
    assert used_pass(b) == str(own / "car_vectors.####.exr")
    assert {used_pass(c) for c in relinked(out, "shotA")} == {str(vec / "shotA.####.exr")}
    kept = b.media_references()[MOTION_PASS_KEY]
    assert kept.target_url == (own / "car_vectors.####.exr").as_uri()
    assert "unshutter_source" in b.media_references()


def test_one_pass_resolves_each_clips_media_once(
    resolve_otio: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The check of a pass without tokens and the clip's run share one look at the media (a folder scan or a
    movie probe each), a missing media's reason included."""
    resolved: list[str] = []

    def counted(clip: otio.schema.Clip) -> roundtrip.Media:
        resolved.append(clip.name)
        return real(clip)

    real = roundtrip.media_for
    monkeypatch.setattr(roundtrip, "media_for", counted)
    vec = tmp_path / "vec"
    passes(vec, "shotA", SHOT_A, 3.0)
    tl = otio.adapters.read_from_file(str(resolve_otio))
    gone = next(c for c in tl.find_clips() if c.name == "shotB")  # a clip whose media is missing
    gone.media_reference = otio.schema.ExternalReference(target_url=str(tmp_path / "absent.mp4"))
    given = tmp_path / "one_missing.otio"
    otio.adapters.write_to_file(tl, str(given))
    out = tmp_path / "o.otio"
    args = timeline_args(given, out, tmp_path / "m", "--clips", "shotA,shotB", "--json")
    assert main([*args, "--motion-pass", str(vec / "shotA.####.exr")]) == 0
    assert sorted(resolved) == ["shotA", "shotA", "shotB"]  # shotA is on two tracks
    assert len(relinked(out, "shotA")) == 2 and relinked(out, "shotB") == []
    (b,) = [c for c in json.loads(capsys.readouterr().out)["clips"] if c["name"] == "shotB"]
    assert b["status"] == "skipped" and b["reason"] == f"missing media ({tmp_path / 'absent.mp4'})"


def test_a_pass_convention_needs_a_pass_to_describe(
    resolve_otio: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--motion-pass-units`` with neither --motion-pass nor a selected clip's own pass: exit 2 before anything
    runs; a clip's own pass reference is a pass it describes."""
    media_dir = tmp_path / "m"
    args = timeline_args(resolve_otio, tmp_path / "o.otio", media_dir, "--clips", "shotB", "--motion-pass-units", "uv")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("unshutter: error: --motion-pass-units uv: give --motion-pass") and "\n" not in err
    assert not media_dir.exists() and not (tmp_path / "o.otio").exists()
    own = tmp_path / "own"
    passes(own, "car_vectors", SHOT_B, 4.0 / 64)  # 4 px per frame across the 64 px frame, in uv
    given = with_own_pass(resolve_otio, tmp_path / "with_pass.otio", "shotB", own / "car_vectors.####.exr")
    args = timeline_args(given, tmp_path / "o.otio", media_dir, "--clips", "shotB", "--motion-pass-units", "uv")
    assert main(args) == 0
    (b,) = relinked(tmp_path / "o.otio", "shotB")
    assert json.loads(Path(b.metadata["unshutter"]["manifest"]).read_text())["params"]["motion_pass_units"] == "uv"
