"""The OTIO round trip carries ``--motion`` and the override file into the retimed clip's metadata."""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio

from unshutter.cli.main import main


def test_timeline_records_motion_and_overrides(resolve_otio: Path, tmp_path: Path) -> None:
    ov = tmp_path / "car.yaml"
    ov.write_text("regions:\n  - motion: [6, 0]\n    polygon: [[0, 0], [30, 0], [30, 20], [0, 20]]\n")
    out = tmp_path / "o.otio"
    code = main(
        [
            "timeline",
            str(resolve_otio),
            "-o",
            str(out),
            "--media-dir",
            str(tmp_path / "m"),
            "--clips",
            "shotB",
            "--factor",
            "2",
            "--motion",
            "5,-1",
            "--overrides",
            str(ov),
        ]
    )
    assert code == 0
    tl = otio.adapters.read_from_file(str(out))
    clip = next(c for c in tl.find_clips() if c.name == "shotB" and "unshutter" in c.metadata)
    md = clip.metadata["unshutter"]
    assert list(md["motion"]) == [5.0, -1.0] and md["overrides"] == str(ov)
    manifest = json.loads(Path(md["manifest"]).read_text())
    assert manifest["params"]["motion"] == [5.0, -1.0]
    assert set(manifest["guidance"].values()) == {"motion(5,-1) +overrides(region:0)"}


def test_timeline_records_the_motion_pass(resolve_otio: Path, tmp_path: Path) -> None:
    import numpy as np

    from unshutter.guidance.motion_pass import write_vectors

    vec = tmp_path / "vec.exr"  # no frame number: one pass for every frame of the 64x48 clip
    uv = np.empty((48, 64, 2), np.float32)
    uv[..., 0], uv[..., 1] = 3.0 / 64, 3.0 / 48  # 3 px per frame in x and y, 0..1 across the frame
    write_vectors(vec, uv, y="down", names=("R", "G"))
    out = tmp_path / "o.otio"
    args = ["timeline", str(resolve_otio), "-o", str(out), "--media-dir", str(tmp_path / "m"), "--clips", "shotB"]
    args += ["--factor", "2", "--motion-pass", str(vec), "--motion-pass-channels", "R,G", "--motion-pass-y", "down"]
    assert main([*args, "--motion-pass-units", "uv"]) == 0
    tl = otio.adapters.read_from_file(str(out))
    clip = next(c for c in tl.find_clips() if c.name == "shotB" and "unshutter" in c.metadata)
    md = clip.metadata["unshutter"]
    want = {"file": str(vec), "channels": "R,G", "y": "down", "points": "auto", "units": "uv"}
    assert dict(md["motion_pass"]) == want
    assert md["motion"] == ""
    manifest = json.loads(Path(md["manifest"]).read_text())
    assert manifest["params"]["motion_pass"] == str(vec) and manifest["params"]["motion_pass_units"] == "uv"
    assert set(manifest["guidance"].values()) == {"motion-pass(vec.exr)"}


def test_the_media_folder_key_is_the_one_before_units_existed_at_px() -> None:
    """A timeline re-run with the settings of a run made before ``motion_pass_units`` existed finds its media
    folder again (964097: that code's key for these settings); other units name another folder."""
    from dataclasses import replace

    from unshutter.node import NodeParams
    from unshutter.timeline.roundtrip import settings_key

    params = NodeParams(factor=3, motion_pass="/v/a.####.exr")
    assert settings_key("/m/shotA.####.png", params, "png") == "964097"
    assert settings_key("/m/shotA.####.png", replace(params, motion_pass_units="uv"), "png") != "964097"
