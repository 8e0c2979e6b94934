"""``unshutter run`` on a disk that fills up or under a file-size limit: exit 6 naming the frame, no cut file kept.

Everything under a final name must read back whole; nothing of the run (its
temporaries, its claim) may be left behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from unshutter.io.atomic import TMP_MARK
from unshutter.io.claim import CLAIM_DIR
from unshutter.io.image_file import read_image
from unshutter.sample import render_clip, write_exr_sequence

from tests.conftest import textured_photo
from tests.limits import HANG
from tests.robustness.conftest import size_limit

EXE = [sys.executable, "-m", "unshutter"]


def _run(args: list[str], limit: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXE, "run", *args, "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=size_limit(limit) if limit else None,
    )


def _assert_nothing_cut(out: Path, shape: tuple[int, int]) -> list[Path]:
    """Every frame under a final name reads back whole; no temporary and no claim is left. Returns the frames."""
    left = [p for p in out.rglob("*") if TMP_MARK in p.name]
    assert left == [], f"temporaries left: {left}"
    claims = list((out / CLAIM_DIR).glob("*")) if (out / CLAIM_DIR).exists() else []
    assert claims == [], f"claims left: {claims}"
    frames = sorted(p for p in out.iterdir() if p.suffix in (".exr", ".png"))
    for p in frames:
        px, _ = read_image(p)  # raises on a cut file
        assert px.shape[:2] == shape, p
    return frames


_SIZES: dict[tuple[str, str], list[int]] = {}


def _reference_sizes(clip: str, tmp_path: Path, ext: str) -> list[int]:
    """Sizes of the frames an unlimited run writes (one run per clip and format in the session)."""
    if (clip, ext) not in _SIZES:
        ref = tmp_path / "ref"
        p = _run([clip, "-o", str(ref / f"shot.####{ext}"), "--factor", "2"])
        assert p.returncode == 0, p.stderr
        _SIZES[clip, ext] = sorted(f.stat().st_size for f in ref.glob(f"shot.*{ext}"))
    return _SIZES[clip, ext]


@pytest.mark.parametrize("ext", [".exr", ".png"])
def test_run_past_the_file_size_limit_exits_6_and_keeps_no_cut_frame(hdr_clip: str, tmp_path: Path, ext: str) -> None:
    sizes = _reference_sizes(hdr_clip, tmp_path, ext)
    out = tmp_path / "out"
    # the median frame no longer fits: the run stops at the first frame that is larger
    p = _run([hdr_clip, "-o", str(out / f"shot.####{ext}"), "--factor", "2"], limit=sizes[len(sizes) // 2])
    assert p.returncode == 6, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and err.startswith("unshutter: error: ") and str(out / "shot.") in err, err
    frames = _assert_nothing_cut(out, (64, 96))
    assert len(frames) < len(sizes)


@pytest.mark.parametrize("ext", [".exr", ".png"])
def test_run_on_a_disk_that_fills_exits_6_and_keeps_no_cut_frame(
    hdr_clip: str, tmp_path: Path, small_disk, ext: str
) -> None:
    sizes = _reference_sizes(hdr_clip, tmp_path, ext)
    disk = small_disk(max(64, int(sum(sizes) * 0.6) // 1024))
    out = disk / "out"
    p = _run([hdr_clip, "-o", str(out / f"shot.####{ext}"), "--factor", "2"])
    assert p.returncode == 6, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and str(out) in err, err
    frames = _assert_nothing_cut(out, (64, 96))
    assert 0 < len(frames) < len(sizes)


def test_manifest_that_cannot_be_written_exits_6(hdr_clip: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "shot.unshutter.1002-1002.json").mkdir(parents=True)  # a folder where the manifest goes
    p = _run([hdr_clip, "-o", str(out / "shot.####.exr"), "--factor", "2", "--frames", "1002-1002"])
    assert p.returncode == 6, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and str(out / "shot.unshutter.1002-1002.json") in err, err
    _assert_nothing_cut(out, (64, 96))


@pytest.fixture(scope="module")
def movie_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """6 frames, 128x64, EXR half from 1001, HDR, panning right. 128 wide, not 96: libx264's output for a
    frame width that is not a multiple of 64 depends on memory past the frame's last chroma row and so
    varies from run to run (96 wide: 6457-6521 bytes over 6 runs of the same job); 128 wide it is the same file."""
    frames = render_clip(textured_photo(), 6, 128, 64, speed=5.0, curve=0.3, samples=12, gain=3.0)
    return write_exr_sequence(tmp_path_factory.mktemp("movie_clip"), "shot", frames, 1001)


def test_movie_past_the_file_size_limit_exits_6_and_keeps_no_cut_movie(movie_clip: str, tmp_path: Path) -> None:
    ref = tmp_path / "ref" / "shot.mp4"
    assert _run([movie_clip, "-o", str(ref), "--factor", "2"]).returncode == 0
    out = tmp_path / "out"
    for limit in (ref.stat().st_size // 3, ref.stat().st_size - 16):  # cut mid-way, and in the movie's last bytes
        p = _run([movie_clip, "-o", str(out / "shot.mp4"), "--factor", "2"], limit=limit)
        assert p.returncode == 6, p.stderr
        err = p.stderr.strip()
        assert "\n" not in err and str(out / "shot.mp4") in err, err
        assert not (out / "shot.mp4").exists()
        _assert_nothing_cut(out, (64, 128))


def test_guidance_map_past_the_file_size_limit_is_not_kept(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom unshutter.errors import UnshutterError\n"
        "from unshutter.guidance.encode import guidance_from_direction\n"
        "from unshutter.guidance.debug import write_guidance_image\n"
        "try:\n    write_guidance_image(Path(sys.argv[1]), guidance_from_direction(64, 96, 'left'))\n"
        "except UnshutterError as exc:\n    print(exc.exit_code, exc)\n"
    )
    target = tmp_path / "maps" / "guidance.1001.png"
    p = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        capture_output=True,
        text=True,
        timeout=HANG,
        preexec_fn=size_limit(300),
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("6 ") and str(target) in p.stdout, p.stdout
    assert list(target.parent.iterdir()) == []
