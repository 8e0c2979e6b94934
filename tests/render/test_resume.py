"""Which frames a re-run decomposes: the incomplete ones, and below 360 degrees the frame after each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unshutter import pipeline
from unshutter.io.clip import open_clip
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run
from unshutter.render.resume import Resume
from unshutter.render.target import resolve_output


def _resume(clip_spec: str, out: Path, params: NodeParams, frames: tuple[int, int] | None = None) -> Resume:
    """The plan a re-run into ``out`` would follow (the run signature from the first run's manifest)."""
    cfg = RunConfig(clip_spec, str(out / "shot.####.exr"), params, frames=frames)
    clip = open_clip(clip_spec)
    target = resolve_output(cfg.output, clip, None, params.factor)
    sig = json.loads(target.manifest_path(frames).read_text())["signature"]
    return Resume(sig, clip, target, pipeline.plan(cfg, clip, False), None)


def _damage(out: Path, name: str) -> None:
    p = out / name
    p.write_bytes(p.read_bytes()[:100])


def test_below_360_the_frame_after_an_incomplete_one_is_decomposed_for_its_gap(hdr_clip: str, tmp_path: Path) -> None:
    params = NodeParams(factor=2, shutter=180)
    out = tmp_path / "o"
    run(RunConfig(hdr_clip, str(out / "shot.####.exr"), params))
    _damage(out, "shot.1006.exr")  # source frame 1003's second output
    jobs = list(_resume(hdr_clip, out, params).jobs())
    assert [(j.frame, j.complete, j.decompose) for j in jobs] == [
        (1001, True, False),
        (1002, True, False),
        (1003, False, True),
        (1004, True, True),
        (1005, True, False),
        (1006, True, False),
    ]  # the clip's last frame: no lookahead frame after it
    assert jobs[2].outs == [1005, 1006] and jobs[2].paths[1].name == "shot.1006.exr"


def test_a_chunk_decomposes_the_frame_after_it_only_for_an_incomplete_last_frame(hdr_clip: str, tmp_path: Path) -> None:
    params = NodeParams(factor=2, shutter=180)
    out = tmp_path / "o"
    run(RunConfig(hdr_clip, str(out / "shot.####.exr"), params, frames=(1002, 1003)))
    jobs = list(_resume(hdr_clip, out, params, (1002, 1003)).jobs())
    assert [(j.frame, j.lookahead, j.decompose) for j in jobs] == [
        (1002, False, False),
        (1003, False, False),
        (1004, True, False),
    ]
    _damage(out, "shot.1005.exr")
    jobs = list(_resume(hdr_clip, out, params, (1002, 1003)).jobs())
    assert [(j.frame, j.lookahead, j.decompose) for j in jobs] == [
        (1002, False, False),
        (1003, False, True),
        (1004, True, True),
    ]


@pytest.mark.parametrize(
    "follow, decompose",
    [
        (0.0, [(1001, False), (1002, True), (1003, False), (1004, False)]),
        # outputs blend toward both neighbours: 1002's read 1001's and 1003's decompositions
        (1.0, [(1001, True), (1002, True), (1003, True), (1004, False), (1005, False)]),
    ],
)
def test_at_360_incomplete_frames_and_the_neighbours_they_read_are_decomposed_each_checked_when_near(
    hdr_clip: str, tmp_path: Path, follow: float, decompose: list[tuple[int, bool]]
) -> None:
    params = NodeParams(factor=2, follow=follow)
    out = tmp_path / "o"
    run(RunConfig(hdr_clip, str(out / "shot.####.exr"), params, frames=(1001, 1004)))
    _damage(out, "shot.1003.exr")  # source frame 1002's first output
    resume = _resume(hdr_clip, out, params, (1001, 1004))
    jobs = resume.jobs()
    first = next(jobs)
    # planned when the loop asks for the frame before it (whose decomposition the next frame may read), not sooner
    assert first.frame == 1001 and list(resume.signatures) == ["1001", "1002"]
    rest = list(jobs)
    assert [(j.frame, j.decompose) for j in [first, *rest]] == decompose


def test_a_parameter_at_its_legacy_default_leaves_the_run_signature_as_before(tmp_path: Path) -> None:
    """Runs started before ``motion_pass_units`` existed (their parameters without it) resume under px, its
    legacy default; another unit is another run."""
    from dataclasses import replace

    from unshutter import color
    from unshutter.decomposer.runtime import Decomposer
    from unshutter.node import Node
    from unshutter.render.resume import run_signature

    class Before(NodeParams):
        """The parameters as the code before units knew them."""

        def to_dict(self) -> dict:
            d = super().to_dict()
            del d["motion_pass_units"]
            return d

    cs = color.ColorTransform(color.default_colorspace(True), "ocio://default")
    dec = Decomposer(None, device="cpu")
    vec = str(tmp_path / "v.####.exr")  # the node reads it per frame only; the signature hashes its files then

    def sig(p: NodeParams) -> str:
        return run_signature(Node(p, decomposer=dec), cs, cs)

    px = NodeParams(factor=3, motion_pass=vec)
    assert sig(px) == sig(Before(factor=3, motion_pass=vec))
    assert sig(replace(px, motion_pass_units="ndc")) != sig(px)
    assert sig(NodeParams(factor=3)) == sig(Before(factor=3))
