"""Sequence specs in the spellings artists use."""

from __future__ import annotations

from pathlib import Path

import pytest

from unshutter.errors import InputError
from unshutter.io.clip import open_clip
from unshutter.io.sequence import parse_pattern, resolve_frames


def _touch_seq(folder: Path, frames: range, pad: int = 4) -> None:
    from unshutter.io.image_file import ImageMeta, write_image
    import numpy as np

    meta = ImageMeta(8, 6, ["R", "G", "B"], "half", 16, {}, "openexr")
    for f in frames:
        write_image(folder / f"shot.{f:0{pad}d}.exr", np.full((6, 8, 3), 0.5, np.float32), meta)


@pytest.mark.parametrize(
    "spec", ["shot.####.exr", "shot.%04d.exr", "shot.#.exr", "shot.1001-1005#.exr", "shot.1003.exr", "shot.$F4.exr"]
)
def test_spellings(tmp_path: Path, spec: str) -> None:
    _touch_seq(tmp_path, range(1001, 1006))
    clip = open_clip(str(tmp_path / spec))
    assert clip.frames == list(range(1001, 1006))
    assert clip.pattern is not None and clip.pattern.path(1002).name == "shot.1002.exr"


def test_explicit_subrange(tmp_path: Path) -> None:
    _touch_seq(tmp_path, range(1001, 1006))
    assert open_clip(str(tmp_path / "shot.1002-1004#.exr")).frames == [1002, 1003, 1004]


def test_gap_is_named(tmp_path: Path) -> None:
    _touch_seq(tmp_path, range(1001, 1006))
    (tmp_path / "shot.1003.exr").unlink()
    with pytest.raises(InputError, match=r"shot\.1003\.exr: frame 1003 is missing"):
        open_clip(str(tmp_path / "shot.####.exr"))


def test_no_frames(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no frames found"):
        open_clip(str(tmp_path / "nothing.####.exr"))


def test_padding_styles() -> None:
    assert parse_pattern("a/b.########.exr")[0].padding == 8
    assert parse_pattern("a/b.@@@.exr")[0].padding == 3
    assert parse_pattern("a/b.%06d.exr")[0].padding == 6
    pat, frames = parse_pattern("b.10-12#.png")
    assert frames == [10, 11, 12] and pat.padding == 4


def test_resolve_explicit_missing(tmp_path: Path) -> None:
    _touch_seq(tmp_path, range(1001, 1003))
    pat, frames = parse_pattern(str(tmp_path / "shot.1001-1004#.exr"))
    with pytest.raises(InputError, match="frame 1003 is missing"):
        resolve_frames(pat, frames)


@pytest.mark.parametrize(
    "spec,prefix,first,count",
    [
        ("shot_v2-%04d.png", "shot_v2-", None, None),
        ("shot_v2-####.png", "shot_v2-", None, None),
        ("dir/shot_v2-1001.png", "shot_v2-", None, None),
        ("shot_v1-1001-1050#.exr", "shot_v1-", 1001, 50),
        ("shot.-5--2#.exr", "shot.", -5, 4),
        ("shot.1-9x2#.exr", "shot.", 1, 5),
    ],
)
def test_dashes_digits_and_frame_sets(spec: str, prefix: str, first: int | None, count: int | None) -> None:
    pat, frames = parse_pattern(spec)
    assert pat.prefix == prefix and pat.padding == 4
    if first is None:
        assert frames is None
    else:
        assert frames is not None and frames[0] == first and len(frames) == count


def test_not_a_sequence() -> None:
    from unshutter.errors import ParameterError

    with pytest.raises(ParameterError, match="no frame number token"):
        parse_pattern("shot.exr")


def test_files_key_resolves_spellings_and_ignores_padding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unshutter.errors import ParameterError
    from unshutter.io.sequence import files_key, refuse_over_plates
    from unshutter.io.sequence import keys_collide as sequence_keys_collide

    (tmp_path / "plates").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "plates")
    monkeypatch.chdir(tmp_path)
    plates = parse_pattern(str(tmp_path / "plates" / "shot.####.exr"))[0]
    for spec in ("plates/shot.%05d.exr", "./plates/shot.#.exr", "link/../plates/shot.####.exr", "link/shot.@@@.exr"):
        pat = parse_pattern(spec)[0]
        assert pat.files_key == plates.files_key, spec
        with pytest.raises(ParameterError, match=r"^-o x: writes shot\.####\.exr in .*, over the input plates"):
            refuse_over_plates("-o x", pat.dirname, pat.prefix, pat.suffix, plates)
    for spec in ("plates/shot.-####.exr", "plates/shot.1####.exr", "plates/shot.-1@@@@.exr"):
        # a scan of the plates reads shot.-1001.exr as frame -1001 and shot.11001.exr as frame 11001
        pat = parse_pattern(spec)[0]
        with pytest.raises(ParameterError, match=r"over the input plates"):
            refuse_over_plates("-o x", pat.dirname, pat.prefix, pat.suffix, plates)
        assert sequence_keys_collide(plates.files_key, pat.files_key)  # either way round
    for spec in (
        "plates/shot.####.png",
        "plates/shot_slow.####.exr",
        "out/shot.####.exr",
        "plates/shot.-a####.exr",
        "plates/shot####.exr",
    ):
        pat = parse_pattern(spec)[0]
        assert pat.files_key != plates.files_key, spec
        refuse_over_plates("-o x", pat.dirname, pat.prefix, pat.suffix, plates)
    assert files_key("plates", "a.", ".exr") == (str(tmp_path / "plates"), "a.", ".exr")
