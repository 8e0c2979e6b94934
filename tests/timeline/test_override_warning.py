"""``unshutter timeline`` with an override file: one warning when its ranges miss every clip processed."""

from __future__ import annotations

from pathlib import Path

from unshutter.cli.main import main
from unshutter.guidance.overrides import load_overrides

BOX = "[[0, 0], [40, 0], [40, 30], [0, 30]]"


def _override(path: Path, span: str) -> Path:
    path.write_text(f"regions:\n  - {{name: car, motion: [8, 0], frames: {span}, polygon: {BOX}}}\n")
    return path


def test_ranges_missing_every_clip_are_warned_about(resolve_otio: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    ov = _override(tmp_path / "late.yaml", "4003-4010")
    args = ["timeline", str(resolve_otio), "--factor", "2", "--clips", "shotA,shotB"]
    code = main([*args, "-o", str(tmp_path / "a.otio"), "--media-dir", str(tmp_path / "a"), "--overrides", str(ov)])
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if "warning" in x]
    assert code == 0 and len(lines) == 1, err
    assert lines[0].startswith(f"unshutter: warning: {ov}: region car 4003-4010 outside the source frames of every")
    assert "(shotA 1003-1007, shotB 1-5, shotA 1006-1008)" in lines[0]  # processed, handles included
    # written for shotA's frames: it misses shotB, which is expected of a file meant for one clip
    ov = _override(tmp_path / "shota.yaml", "1004-1005")
    code = main([*args, "-o", str(tmp_path / "b.otio"), "--media-dir", str(tmp_path / "b"), "--overrides", str(ov)])
    err = capsys.readouterr().err
    assert code == 0 and "warning" not in err, err


def test_outside_every_range(tmp_path: Path) -> None:
    ov = load_overrides(_override(tmp_path / "o.yaml", "1004-1005"))
    assert ov.outside_every([(1, 8), (1001, 1010)]) == []
    assert ov.outside_every([(1, 8), (2001, 2010)]) == [("region car", (1004, 1005))]
    assert ov.outside_every([]) == []
