"""The chunk guarantees a farm relies on.

- the outputs of any chunking are bit-identical to one run over the whole clip;
- a re-run verifies and skips complete outputs and redoes damaged ones;
- a run killed with SIGKILL at any moment leaves no partial file under an
  output name, and resuming gives output identical to an uninterrupted run;
- chunks of one shot running side by side do not delete each other's temporaries;
- exit codes tell the farm what happened.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.farm.helpers import SHOTS, UNSHUTTER, assert_same_images, images
from tests.limits import HANG
from unshutter.errors import ParameterError
from unshutter.farm import task
from unshutter.farm.plan import split
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run

FACTOR = SHOTS["pan"]["factor"]


def _chunk(clip: str, out: Path, a: int, b: int, model: str) -> None:
    run(RunConfig(clip, str(out / "pan.####.exr"), NodeParams(factor=FACTOR), frames=(a, b), model=model))


@pytest.mark.parametrize(
    "sizes, order",
    [
        ([1, 1, 1, 1, 1, 1], "forward"),
        ([2, 2, 2], "reverse"),
        ([4, 2], "forward"),
        ([1, 5], "reverse"),
        ([3, 3], "shuffled"),
    ],
)
def test_any_chunking_is_bit_identical_to_one_run(
    sizes: list[int],
    order: str,
    tmp_path: Path,
    farm_clips: dict[str, str],
    reference: dict[str, Path],
    farm_model: str,
) -> None:
    chunks, a = [], 1001
    for n in sizes:
        chunks.append((a, a + n - 1))
        a += n
    if order == "reverse":
        chunks.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(chunks)
    for x, y in chunks:
        _chunk(farm_clips["pan"], tmp_path, x, y, farm_model)
    assert_same_images(tmp_path, reference["pan"])
    manifests = sorted(p.name for p in tmp_path.glob("*.json"))
    assert manifests == sorted(f"pan.unshutter.{x}-{y}.json" for x, y in chunks)
    man = json.loads((tmp_path / f"pan.unshutter.{chunks[0][0]}-{chunks[0][1]}.json").read_text())
    assert man["frames"] == list(chunks[0])


def test_chunk_reads_neighbours_outside_itself(tmp_path: Path, farm_clips: dict[str, str], farm_model: str) -> None:
    _chunk(farm_clips["pan"], tmp_path, 1003, 1003, farm_model)
    man = json.loads((tmp_path / "pan.unshutter.1003-1003.json").read_text())
    assert man["guidance"]["1003"].startswith("neighbors:both")
    assert images(tmp_path) == [f"pan.{f}.exr" for f in range(1007, 1010)]


def test_rerun_skips_verified_outputs_and_redoes_damaged(
    tmp_path: Path, farm_clips: dict[str, str], reference: dict[str, Path], farm_model: str
) -> None:
    clip = farm_clips["pan"]
    _chunk(clip, tmp_path, 1001, 1006, farm_model)
    truncated = tmp_path / "pan.1005.exr"  # a partial file under an output name (e.g. a copy cut short)
    truncated.write_bytes(truncated.read_bytes()[:200])
    (tmp_path / "pan.1010.exr").unlink()
    res = run(
        RunConfig(
            clip, str(tmp_path / "pan.####.exr"), NodeParams(factor=FACTOR), frames=(1001, 1006), model=farm_model
        )
    )
    # frame 1002 owns outputs 1004-1006 (rewritten because 1005 was damaged), 1004 owns 1010-1012
    assert (res.written, res.skipped) == (2 * FACTOR, 4 * FACTOR)
    assert_same_images(tmp_path, reference["pan"])


def test_side_by_side_chunks_keep_each_others_temporaries(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str
) -> None:
    tmp_path.mkdir(exist_ok=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    # a chunk 1005-1006 writing right now in this process (a Dask worker thread): outputs 1013-1018
    busy = tmp_path / f".pan.1013.unshutter-tmp{os.getpid()}.exr"
    busy.write_bytes(b"half written")
    # what a SIGKILLed earlier attempt of chunk 1001-1002 left behind
    stale = tmp_path / f".pan.1002.unshutter-tmp{dead.pid}.exr"
    stale.write_bytes(b"half written")
    _chunk(farm_clips["pan"], tmp_path, 1001, 1002, farm_model)
    assert busy.exists()
    assert not stale.exists()


def _farm_chunk(clip: str, out: Path, frames: str, model: str, *extra: str) -> list[str]:
    return [
        UNSHUTTER,
        "farm",
        "chunk",
        clip,
        "-o",
        str(out / "pan.####.exr"),
        "--factor",
        str(FACTOR),
        "--frames",
        frames,
        "--model",
        model,
        *extra,
    ]


@pytest.mark.parametrize("kill_after, delay", [(0, 0.0), (1, 0.004), (2, 0.012), (4, 0.0)])
def test_sigkill_mid_chunk_then_resume_is_identical(
    kill_after: int,
    delay: float,
    tmp_path: Path,
    farm_clips: dict[str, str],
    reference: dict[str, Path],
    farm_model: str,
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _farm_chunk(farm_clips["pan"], out, "1001-1006", farm_model, "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "frame":
            seen += 1
        if seen > kill_after or (kill_after == 0 and event["event"] == "start"):
            time.sleep(delay)
            break
    assert proc.poll() is None, "the chunk finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=HANG)
    assert proc.returncode == -signal.SIGKILL
    # nothing partial under an output name: every output present is complete and final
    done = images(out)
    assert len(done) < 6 * FACTOR and not list(out.glob("*.json"))
    for name in done:
        assert (out / name).read_bytes() == (reference["pan"] / name).read_bytes(), name
    # resume: the same task again, as the farm retries it
    p = subprocess.run(
        _farm_chunk(farm_clips["pan"], out, "1001-1006", farm_model, "--json"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout.splitlines()[-1])
    complete = {int(n.split(".")[1]) for n in done}
    whole = sum(all(1001 + i * FACTOR + k in complete for k in range(FACTOR)) for i in range(6))
    assert (result["skipped"], result["written"]) == (whole * FACTOR, (6 - whole) * FACTOR)
    assert_same_images(out, reference["pan"])


def test_sigterm_exits_143_without_temporaries(tmp_path: Path, farm_clips: dict[str, str], farm_model: str) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _farm_chunk(farm_clips["pan"], out, "1001-1006", farm_model, "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["event"] == "frame":
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=HANG)
    if proc.returncode == 0:
        pytest.skip("the chunk finished before SIGTERM arrived")
    assert proc.returncode == 143 and "terminated" in err
    assert not [p.name for p in out.iterdir() if ".unshutter-tmp" in p.name]


@pytest.mark.slow
def test_exit_codes_a_farm_can_act_on(tmp_path: Path, farm_clips: dict[str, str], farm_model: str) -> None:
    clip = farm_clips["pan"]

    def code(*args: str) -> tuple[int, str]:
        p = subprocess.run(args, capture_output=True, text=True, timeout=300)
        return p.returncode, p.stderr.strip()

    rc, err = code(*_farm_chunk(clip, tmp_path / "a", "1001-1002", farm_model))
    assert rc == 0, err
    # 2: impossible parameters (never retried)
    rc, err = code(*_farm_chunk(clip, tmp_path / "b", "1001-1002", farm_model, "--factor", "40"))
    assert rc == 2 and "--factor 40" in err
    # 3: bad input, naming the frame (never retried)
    broken = tmp_path / "plates"
    shutil.copytree(Path(clip).parent, broken)
    (broken / "plate.1004.exr").unlink()
    rc, err = code(*_farm_chunk(str(broken / "plate.####.exr"), tmp_path / "c", "1002-1003", farm_model))
    assert rc == 3 and "1004" in err and err.count("\n") == 0
    # 4: bad override file
    ov = tmp_path / "ov.yaml"
    ov.write_text("direction: sideways\n")
    rc, err = code(*_farm_chunk(clip, tmp_path / "d", "1001-1002", farm_model, "--overrides", str(ov)))
    assert rc == 4 and "ov.yaml" in err
    # 5: model missing (retried: a share may not be mounted yet)
    rc, err = code(*_farm_chunk(clip, tmp_path / "e", "1001-1002", str(tmp_path / "none.onnx")))
    assert rc == 5 and "none.onnx" in err
    # 6: output cannot be written (retried)
    (tmp_path / "file").write_text("not a folder")
    rc, err = code(*_farm_chunk(clip, tmp_path / "file" / "sub", "1001-1002", farm_model))
    assert rc == 6 and "cannot create the output folder" in err and err.count("\n") == 0


def test_chunk_command_equals_run_frames(tmp_path: Path, farm_clips: dict[str, str], farm_model: str) -> None:
    """``unshutter farm chunk`` is ``unshutter run --frames`` for a farm task."""
    clip = farm_clips["tilt-b"]
    common = [clip, "--factor", "2", "--model", farm_model, "--frames", "1002-1004"]
    p1 = subprocess.run(
        [UNSHUTTER, "run", *common[:1], "-o", str(tmp_path / "r" / "x.####.exr"), *common[1:], "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    p2 = subprocess.run(
        [UNSHUTTER, "farm", "chunk", *common[:1], "-o", str(tmp_path / "c" / "x.####.exr"), *common[1:]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p1.returncode == 0 and p2.returncode == 0, p1.stderr + p2.stderr
    assert_same_images(tmp_path / "c", tmp_path / "r")
    assert images(tmp_path / "c") == [f"x.{f}.exr" for f in range(1003, 1009)]


def test_split_chunks_cover_clip_once() -> None:
    for size in range(1, 8):
        chunks = split(1001, 1006, size)
        frames = [f for a, b in chunks for f in range(a, b + 1)]
        assert frames == list(range(1001, 1007))


def test_chunk_refuses_outputs_it_cannot_write_safely(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str
) -> None:
    """A task never writes over its plates, nor a movie that every chunk would replace with its own frames."""
    plates = tmp_path / "plates"
    shutil.copytree(Path(farm_clips["pan"]).parent, plates)
    before = {p.name: p.read_bytes() for p in plates.iterdir()}
    clip = str(plates / "plate.####.exr")
    for out in (clip, str(plates), str(plates / "plate.%05d.exr")):
        p = subprocess.run(
            [
                UNSHUTTER,
                "farm",
                "chunk",
                clip,
                "-o",
                out,
                "--factor",
                "3",
                "--frames",
                "1001-1002",
                "--model",
                farm_model,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert p.returncode == 2 and "over the input plates" in p.stderr, (out, p.stderr)
    assert {p.name: p.read_bytes() for p in plates.iterdir()} == before  # nothing written, nothing damaged
    with pytest.raises(ParameterError, match="image sequences, not movies"):
        task.run_config(
            RunConfig(
                clip, str(tmp_path / "o" / "pan.mov"), NodeParams(factor=3), frames=(1001, 1002), model=farm_model
            )
        )
    assert not (tmp_path / "o").exists()
