"""Skip and resume: signatures that say whether an output frame on disk is complete and current.

Every output image carries its frame signature; a re-run (or a re-run farm
chunk) verifies the files of each source frame and skips those that are
complete. A frame is decomposed when it has outputs to write, when the
frame before it waits for its sub-frames, or (at 360 degrees) when the frame
after it reads its decomposition.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import unshutter
from unshutter import color
from unshutter.guidance.motion_pass import MotionPass
from unshutter.guidance.overrides import Overrides
from unshutter.io.clip import Clip
from unshutter.io.digest import DigestCache, file_digest
from unshutter.io.image_file import verify_image
from unshutter.node import Node
from unshutter.params import keyed
from unshutter.render.numbering import Numbering
from unshutter.render.target import OutputTarget


def run_signature(node: Node, in_cs: color.ColorTransform, out_cs: color.ColorTransform) -> str:
    """Everything besides the source pixels that decides what an output frame holds.

    Locations are left out on purpose: the same job rendered into two folders
    gives byte-identical files, and a farm worker that sees the plates at
    another path (path mapping, job attachments) resumes on them.
    """
    p = node.params
    overrides = ""
    if p.overrides:
        overrides = file_digest(p.overrides)
    # parameters at their legacy defaults stay out: runs started before they existed resume
    params = keyed({k: v for k, v in p.to_dict().items() if k not in ("overrides", "motion_pass")})
    key = {
        "params": params,
        "motion_pass": p.motion_pass is not None,  # the pass's files are hashed per frame (frame_signature)
        "overrides": overrides,
        "model": node.decomposer.info.sha256,
        "colorspaces": [in_cs.colorspace, out_cs.colorspace, in_cs.signature, out_cs.signature],
        "version": unshutter.__version__,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def frame_signature(
    run_sig: str,
    clip: Clip,
    frame: int,
    digests: DigestCache,
    overrides: Overrides | None = None,
    ahead: int = 1,
    before: int = 1,
    motion_pass: MotionPass | None = None,
) -> str:
    """The run signature plus the bytes (digests) of the source frame, the neighbours its guidance
    reads (``ahead`` after it and ``before`` before it: 2 when its outputs read a neighbour's result),
    and the mattes, labelme files and motion passes the overrides and ``motion_pass`` read for it.

    Bytes, not size and time: a copied or path-mapped plate is the same plate.
    A movie is one file, hashed once per run. Override files are named by
    position, not path, for the same reason.
    """
    parts = [run_sig]
    for f in range(frame - before, frame + ahead + 1):  # the neighbours, and theirs when their results are read
        if clip.first <= f <= clip.last:
            path = clip.frame_path(f) if clip.pattern else clip.source
            parts.append(f"{f}:{digests.get(path) or 'missing'}")
    if overrides is not None:
        for i, ofile in enumerate(overrides.files_read(frame)):
            parts.append(f"override{i}:{digests.get(ofile) or 'missing'}")
    if motion_pass is not None:
        parts.append(f"pass:{digests.get(motion_pass.path(frame)) or 'missing'}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@dataclass
class FrameJob:
    """One source frame's part of the run: its outputs, whether they are done, whether to decompose it."""

    frame: int
    index: int  # 1-based position in the range (progress events); 0 for the lookahead frame
    outs: list[int]  # output numbers
    paths: list[Path]  # output files of a sequence; none for a movie
    sig: str  # frame signature written into each output file ("" for a movie)
    complete: bool  # every output exists and carries ``sig``: nothing to write
    decompose: bool
    lookahead: bool = False  # the frame after the range, decomposed only for the range's last frame
    lookbehind: bool = False  # the frame before the range, decomposed only for the range's first frame
    t0: float = field(default_factory=time.monotonic)


class Resume:
    """Plans the run's frame jobs against what is already on disk; keeps the frame signatures."""

    def __init__(
        self,
        run_sig: str,
        clip: Clip,
        target: OutputTarget,
        numbering: Numbering,
        overrides: Overrides | None,
        motion_pass: MotionPass | None = None,
    ) -> None:
        self.run_sig, self.clip, self.target, self.num, self.overrides = run_sig, clip, target, numbering, overrides
        self.motion_pass = motion_pass
        self.digests = DigestCache()
        self.signatures: dict[str, str] = {}  # source frame -> signature, for the manifest

    def job(self, i: int, frame: int, carry: bool) -> FrameJob:
        """Frame ``frame``, the ``i``-th of the range; ``carry``: the frame before waits for this one."""
        t0 = time.monotonic()
        outs = self.num.outputs(frame)
        pattern = self.target.pattern
        paths = [pattern.path(o) for o in outs] if pattern else []
        # a movie output is written whole every run, so nothing needs its frames' signatures
        # (and a movie input need not be hashed for it)
        sig = ""
        if paths:
            sig = frame_signature(
                self.run_sig,
                self.clip,
                frame,
                self.digests,
                self.overrides,
                self.num.ahead,
                self.num.before,
                self.motion_pass,
            )
            self.signatures[str(frame)] = sig
        complete = (
            bool(paths) and all(p.exists() for p in paths) and all(verify_image(p, self.clip.meta, sig) for p in paths)
        )
        return FrameJob(frame, i, outs, paths, sig, complete, decompose=not complete or carry, t0=t0)

    def jobs(self) -> Iterator[FrameJob]:
        """The lookbehind frame if any, then the range's jobs in order, each planned when the loop asks for
        the one before it (at 360 degrees a frame is decomposed for the frame after it), then the lookahead."""
        frames = list(self.num.frames)
        carry = False  # the previous frame is decomposed and waits for this one's sub-frames
        nxt = self.job(1, frames[0], False) if frames else None
        if self.num.lookbehind is not None and nxt is not None:
            # the range's first frame reads the frame before it even when another chunk renders that one
            yield FrameJob(self.num.lookbehind, 0, [], [], "", True, decompose=not nxt.complete, lookbehind=True)
        for i in range(len(frames)):
            job = nxt
            assert job is not None
            job.decompose = job.decompose or carry
            nxt = self.job(i + 2, frames[i + 1], False) if i + 1 < len(frames) else None
            if self.num.behind and nxt is not None and not nxt.complete:
                job.decompose = True  # the next frame's outputs read this one's decomposition
            carry = self.num.waits and not job.complete
            job.t0 = time.monotonic()
            yield job
        if self.num.lookahead is not None:
            # the range's last frame: its gap needs the frame after it even when another chunk renders
            # that one, so that chunked and whole renders give the same files
            yield FrameJob(self.num.lookahead, 0, [], [], "", True, decompose=carry, lookahead=True)
