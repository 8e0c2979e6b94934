"""``unshutter run --alternatives``: numbered decompositions of a lone still and a contact sheet to pick from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from unshutter.io.image_file import ImageMeta, read_image, write_image

from tests.cli.helpers import run_cli


def test_alternatives_of_a_still(tmp_path: Path, hdr_clip: str) -> None:
    still = tmp_path / "photo.exr"
    shutil.copyfile(hdr_clip.replace("####", "1003"), still)
    out = tmp_path / "alts"
    r = run_cli("run", str(still), "-o", str(out), "--factor", "3", "--alternatives", "-q")
    assert r.returncode == 0, r.stderr
    listing = json.loads((out / "alternatives.json").read_text())["alternatives"]
    assert len(listing) >= 2 and [Path(a["folder"]).name for a in listing] == [
        f"{i:02d}" for i in range(1, len(listing) + 1)
    ]
    first, second = listing[0]["motion"], listing[1]["motion"]
    assert second == [-first[0], -first[1]]  # both time orders of the strongest axis
    assert abs(first[0]) > 2 * abs(first[1])  # the clip pans horizontally
    for alt in listing:
        man = json.loads(Path(alt["manifest"]).read_text())
        assert man["params"]["motion"] == alt["motion"]
        assert len(list(Path(alt["folder"]).glob("photo.*.exr"))) == 3
    sheet, meta = read_image(out / "alternatives.png")
    assert meta.height > 2 * 64 * 0.9 and meta.width >= 3 * 96  # a row per alternative, a column per sub-frame
    # the two time orders are mirror images: the first sub-frame of one is the last of the other
    a = [read_image(Path(listing[0]["folder"]) / f"photo.{i:04d}.exr")[0] for i in (1, 3)]
    b = [read_image(Path(listing[1]["folder"]) / f"photo.{i:04d}.exr")[0] for i in (1, 3)]
    assert np.abs(a[0] - b[1]).mean() < 0.5 * np.abs(a[0] - b[0]).mean()
    assert "alternative 01: --motion" in r.stdout and "contact sheet" in r.stdout


@pytest.mark.parametrize("extra,words", [(["--motion", "3,0"], "--motion"), ([], "--alternatives")])
def test_alternatives_refusals(tmp_path: Path, hdr_clip: str, extra: list[str], words: str) -> None:
    still = tmp_path / "photo.exr"
    shutil.copyfile(hdr_clip.replace("####", "1003"), still)
    out = str(tmp_path / "o.mp4") if not extra else str(tmp_path / "o")
    r = run_cli("run", str(still), "-o", out, "--factor", "2", "--alternatives", *extra, "-q")
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_still_without_blur_says_so(tmp_path: Path) -> None:
    flat = tmp_path / "flat.exr"
    write_image(
        flat, np.full((48, 64, 3), 0.25, np.float32), ImageMeta(64, 48, ["R", "G", "B"], "half", 16, {}, "openexr")
    )
    r = run_cli("run", str(flat), "-o", str(tmp_path / "o"), "--factor", "2", "--alternatives", "-q")
    assert r.returncode == 3 and "no motion blur found" in r.stderr and "--motion" in r.stderr
    assert not (tmp_path / "o").exists()
