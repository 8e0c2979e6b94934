"""``unshutter worker`` on its own: the protocol, the decomposition cache, abort, progress, bad requests.

The worker is started as the plugin starts it: a socketpair end passed as
``--fd 3``, pixels in a POSIX shared-memory segment named in each request.
"""

from __future__ import annotations

import json
import mmap
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import textured_photo
from tests.limits import HANG
from tests.ofx.conftest import unshutter_executable
from unshutter.decomposer.runtime import DecompositionAborted, Decomposer, ModelInfo, tile_spans
from unshutter.node import Node, NodeParams
from unshutter.sample import render_clip

HEADER = 64  # uint32 words: abort flag at 0, tiles done at 4, tiles at 8
TILES_AT = 4
PARAMS = {
    "factor": 3,
    "shutter": 360.0,
    "guidance": "neighbors",
    "reverse": False,
    "overrides": "",
    "tile": 1024,
    "quality": "full",
    "threshold": 0.5,
}


class Worker:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        os.set_inheritable(theirs.fileno(), True)
        self.proc = subprocess.Popen(
            [unshutter_executable(), "worker", "--fd", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env={**os.environ, "UNSHUTTER_THREADS": "1"},
        )
        theirs.close()
        self.sock = ours
        self.sock.settimeout(120)

    def ask(self, msg: dict) -> dict:
        body = json.dumps(msg).encode()
        self.sock.sendall(struct.pack("<I", len(body)) + body)
        (n,) = struct.unpack("<I", self._recv(4))
        return json.loads(self._recv(n))

    def _recv(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "worker closed the connection"
            buf += chunk
        return buf

    def close(self) -> None:
        try:
            self.ask({"op": "quit"})
        finally:
            self.sock.close()
            self.proc.wait(timeout=HANG)


class Segment:
    """A shared-memory segment laid out like the plugin's: header, inputs, output."""

    def __init__(self, name: str, frames: list[np.ndarray | None]) -> None:
        h, w = frames[0].shape[:2]
        self.plane = h * w * 3 * 4
        self.name, self.path = name, Path("/dev/shm") / name
        self.size = HEADER + self.plane * (len(frames) + 1)
        with open(self.path, "wb") as f:
            f.truncate(self.size)
        fd = os.open(self.path, os.O_RDWR)
        self.map = mmap.mmap(fd, self.size)
        os.close(fd)
        self.offsets = []
        for i, fr in enumerate(frames):
            off = HEADER + i * self.plane
            self.map[off : off + self.plane] = np.ascontiguousarray(fr, np.float32).tobytes()
            self.offsets.append(off)
        self.out = HEADER + len(frames) * self.plane
        self.shape = (h, w, 3)

    def tiles(self) -> tuple[int, int]:
        """(done, total): the worker's progress on the frame, from the header."""
        return struct.unpack_from("<II", self.map, TILES_AT)

    def output(self) -> np.ndarray:
        return np.frombuffer(self.map[self.out : self.out + self.plane], np.float32).reshape(self.shape).copy()

    def close(self) -> None:
        self.map.close()
        self.path.unlink()


@pytest.fixture()
def worker():
    w = Worker()
    yield w
    w.close()


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return render_clip(textured_photo(), 3, 64, 48, speed=5.0, curve=0.3, samples=12, gain=2.0)


def request(seg: Segment, k: int, **extra) -> dict:
    req = {
        "op": "render",
        "shm": seg.name,
        "width": seg.shape[1],
        "height": seg.shape[0],
        "frame": 1002,
        "k": k,
        "cur": seg.offsets[1],
        "prev": seg.offsets[0],
        "next": seg.offsets[2],
        "matte": None,
        "output": seg.out,
        "matte_direction": None,
        "params": dict(PARAMS),
    }
    req.update(extra)
    return req


def test_hello_and_one_decomposition_per_source_frame(worker: Worker, frames: np.ndarray) -> None:
    hello = worker.ask({"op": "hello"})
    assert hello["ok"] and hello["protocol"] == 1 and hello["pid"] == worker.proc.pid
    seg = Segment(f"unshutter-test-{os.getpid()}-a", [frames[0], frames[1], frames[2]])
    try:
        want = Node(NodeParams(factor=3)).process(1002, frames[1], frames[0], frames[2]).subframes
        for k in range(3):
            reply = worker.ask(request(seg, k))
            assert reply["ok"], reply
            assert reply["cached"] == (k > 0) and reply["decompositions"] == 1
            np.testing.assert_allclose(seg.output(), want[k], atol=1e-6)
        changed = request(seg, 0)
        changed["params"]["factor"] = 4  # other parameters: a new decomposition
        assert worker.ask(changed)["decompositions"] == 2
    finally:
        seg.close()


def test_abort_flag_stops_between_tiles(worker: Worker) -> None:
    big = render_clip(textured_photo(), 1, 240, 150, speed=5.0, samples=4)[0]
    seg = Segment(f"unshutter-test-{os.getpid()}-b", [big, big, big])
    try:
        struct.pack_into("<I", seg.map, 0, 1)  # the plugin raises this when the host aborts
        reply = worker.ask(request(seg, 0, prev=None, next=None, params={**PARAMS, "tile": 176}))
        tiles = len(tile_spans(150, 176)) * len(tile_spans(240, 176))
        assert reply == {
            "ok": False,
            "kind": "aborted",
            "error": "render aborted by the host",
            "tiles_done": 0,
            "tiles": tiles,
        }  # raised before the first tile
    finally:
        seg.close()


def test_worker_publishes_tile_progress_and_an_aborted_frame_is_never_done(worker: Worker) -> None:
    """The header's tile counts follow the decomposition; the plugin aborts after the first tile (as a host's
    cancel does): the worker stops before the last tile and the counts say where it stopped."""
    big = render_clip(textured_photo(), 1, 480, 320, speed=5.0, samples=4)[0]
    tiles = len(tile_spans(320, 176)) * len(tile_spans(480, 176))
    seg = Segment(f"unshutter-test-{os.getpid()}-p", [big, big, big])
    params = {**PARAMS, "tile": 176, "guidance": "none"}
    try:
        assert seg.tiles() == (0, 0)
        reply = worker.ask(request(seg, 0, prev=None, next=None, params=params))
        assert reply["ok"] and seg.tiles() == (tiles, tiles), (reply, seg.tiles())

        seg.map[TILES_AT : TILES_AT + 8] = bytes(8)  # a fresh segment, as the plugin makes for every render
        stop = threading.Event()

        def abort_after_first_tile() -> None:
            while not stop.is_set():
                if seg.tiles()[0] >= 1:
                    struct.pack_into("<I", seg.map, 0, 1)
                    return
                time.sleep(0.001)

        watcher = threading.Thread(target=abort_after_first_tile)
        watcher.start()
        try:
            aborted = worker.ask(request(seg, 0, prev=None, next=None, frame=1003, params=params))
        finally:
            stop.set()
            watcher.join()
        assert aborted["kind"] == "aborted" and aborted["tiles"] == tiles, aborted
        assert 1 <= aborted["tiles_done"] < tiles, aborted
        assert seg.tiles() == (aborted["tiles_done"], tiles)  # never reported as done
    finally:
        seg.close()


class StandInDecomposer(Decomposer):
    """The real tiling around a stand-in network that counts its calls: no model, no inference time."""

    def __init__(self, k: int = 7) -> None:  # no ONNX session
        self.info = ModelInfo("", "", "stand-in", k, "cpu")
        self.inferred = 0

    def _infer(self, blurred: np.ndarray, guidance: np.ndarray, release: bool = False) -> np.ndarray:
        self.inferred += 1
        h, w = blurred.shape[:2]
        return np.zeros((1, self.k, 3, h, w), np.float32)


def test_progress_is_reported_after_each_tile() -> None:
    dec = StandInDecomposer()
    seen: list[tuple[int, int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total, dec.inferred))

    tiles = len(tile_spans(320, 176)) * len(tile_spans(480, 176))
    frame, guidance = np.full((320, 480, 3), 0.5, np.float32), np.zeros((320, 480, 6), np.float32)
    dec(frame, guidance, 176, progress=progress)
    assert seen == [(i, tiles, i) for i in range(1, tiles + 1)]  # each after its tile, not before
    seen.clear()
    dec.inferred = 0
    dec(frame[:100, :150], guidance[:100, :150], 176, progress=progress)
    assert seen == [(1, 1, 1)]  # a frame in one tile is one step


def test_aborted_decomposition_never_reports_the_frame_done() -> None:
    dec = StandInDecomposer()
    seen: list[tuple[int, int]] = []
    tiles = len(tile_spans(320, 176)) * len(tile_spans(480, 176))
    frame, guidance = np.full((320, 480, 3), 0.5, np.float32), np.zeros((320, 480, 6), np.float32)
    with pytest.raises(DecompositionAborted) as info:
        dec(frame, guidance, 176, abort=lambda: len(seen) >= 3, progress=lambda d, t: seen.append((d, t)))
    assert (info.value.done, info.value.total) == (3, tiles)
    assert seen == [(1, tiles), (2, tiles), (3, tiles)]
    seen.clear()
    with pytest.raises(DecompositionAborted):  # aborted before the first tile: nothing reported at all
        dec(frame, guidance, 176, abort=lambda: True, progress=lambda d, t: seen.append((d, t)))
    assert seen == []


@pytest.mark.parametrize("quality,size", [("full", (320, 480)), ("draft", (160, 240))])
def test_node_passes_tile_progress_through(quality: str, size: tuple[int, int]) -> None:
    """The node hands ``progress`` to the decomposer; a draft counts the tiles of its half-size frame."""
    frame = render_clip(textured_photo(), 1, 480, 320, speed=5.0, samples=4)[0]
    node = Node(NodeParams(factor=3, guidance="none", tile=176, quality=quality), decomposer=StandInDecomposer())
    seen: list[tuple[int, int]] = []
    node.process(1001, frame, progress=lambda d, t: seen.append((d, t)))
    tiles = len(tile_spans(size[0], 176)) * len(tile_spans(size[1], 176))
    assert seen == [(i, tiles) for i in range(1, tiles + 1)]


def test_bad_requests_get_one_line_errors(worker: Worker, frames: np.ndarray) -> None:
    seg = Segment(f"unshutter-test-{os.getpid()}-c", [frames[0], frames[1], frames[2]])
    try:
        bad = worker.ask(request(seg, 0, params={**PARAMS, "factor": 40}))
        assert not bad["ok"] and "--factor 40" in bad["error"]
        missing = worker.ask(request(seg, 0, shm="unshutter-test-does-not-exist"))
        assert not missing["ok"] and "\n" not in missing["error"]
        outside = worker.ask(request(seg, 0, output=seg.size))
        assert not outside["ok"] and "outside the segment" in outside["error"]
        assert worker.ask({"op": "nonsense"})["ok"] is False
        assert worker.ask(request(seg, 2))["ok"]  # still serving
    finally:
        seg.close()


def test_worker_help_lists_the_command() -> None:
    res = subprocess.run([sys.executable, "-m", "unshutter", "worker", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--fd" in res.stdout


def test_edited_override_file_is_not_served_from_cache(worker: Worker, frames: np.ndarray, tmp_path: Path) -> None:
    ov = tmp_path / "shot.overrides.yaml"
    ov.write_text("version: 1\ndirection: left\n")
    seg = Segment(f"unshutter-test-{os.getpid()}-d", [frames[0], frames[1], frames[2]])
    try:
        req = request(seg, 0, params={**PARAMS, "overrides": str(ov)})
        first = worker.ask(req)
        assert first["ok"] and "overrides" in first["guidance"], first
        assert worker.ask(req)["cached"] is True
        ov.write_text("version: 1\ndirection: right  # edited\n")
        again = worker.ask(req)
        assert again["cached"] is False and again["decompositions"] == 2
    finally:
        seg.close()


def test_edited_matte_or_labelme_file_is_not_served_from_cache(
    worker: Worker, frames: np.ndarray, tmp_path: Path
) -> None:
    """The override file is unchanged, but a matte or labelme file it names was repainted: decompose again,
    with the new region (the labelme polygons are re-read)."""
    from unshutter.io.image_file import ImageMeta, write_image

    meta = ImageMeta(64, 48, ["R", "G", "B", "A"], "uint8", 8, {}, "")

    def paint_matte(x0: int, x1: int) -> None:
        m = np.zeros((48, 64, 4), np.float32)
        m[:, x0:x1, 3] = 1.0
        write_image(tmp_path / "matte.1002.png", m, meta)

    def draw_labelme(x1: int) -> None:
        shape = {"label": "up", "shape_type": "polygon", "points": [[0, 0], [x1, 0], [x1, 47], [0, 47]]}
        (tmp_path / "hand.json").write_text(json.dumps({"shapes": [shape], "imageWidth": 64, "imageHeight": 48}))

    paint_matte(0, 20)
    draw_labelme(10)
    ov = tmp_path / "shot.overrides.yaml"
    ov.write_text(
        "regions:\n  - name: m\n    direction: left\n    matte: matte.####.png\n"
        "  - name: l\n    direction: up\n    labelme: hand.json\n"
    )
    seg = Segment(f"unshutter-test-{os.getpid()}-m", [frames[0], frames[1], frames[2]])
    try:
        req = request(seg, 1, params={**PARAMS, "guidance": "none", "overrides": str(ov)})
        first = worker.ask(req)
        assert first["ok"] and "region:m" in first["guidance"] and "region:l" in first["guidance"], first
        before = seg.output()
        assert worker.ask(req)["cached"] is True
        paint_matte(0, 60)
        again = worker.ask(req)
        assert again["cached"] is False and again["decompositions"] == 2, again
        after_matte = seg.output()
        assert np.abs(after_matte - before)[:, 30:].max() > 1e-3  # the repainted part of the matte changed
        assert worker.ask(req)["cached"] is True
        draw_labelme(63)
        third = worker.ask(req)
        assert third["cached"] is False and third["decompositions"] == 3, third
        assert np.abs(seg.output() - after_matte).max() > 1e-3  # the new polygon was read
    finally:
        seg.close()


def test_socket_mode_for_debugging(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    proc = subprocess.Popen(
        [unshutter_executable(), "worker", "--socket", str(path)], stderr=subprocess.PIPE, text=True
    )
    try:
        assert "listening on" in proc.stderr.readline()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(path))
            for msg in ({"op": "hello"}, {"op": "quit"}):
                body = json.dumps(msg).encode()
                s.sendall(struct.pack("<I", len(body)) + body)
                (n,) = struct.unpack("<I", s.recv(4))
                assert json.loads(s.recv(n))["ok"]
        assert proc.wait(timeout=HANG) == 0
        assert not path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_colorspace_decodes_encodes_and_keys_the_cache(worker: Worker, frames: np.ndarray) -> None:
    from unshutter import kernels

    clipped = np.clip(frames, 0.0, 1.0).astype(np.float32)
    encoded = kernels.srgb_encode(np.ascontiguousarray(clipped))
    seg = Segment(f"unshutter-test-{os.getpid()}-e", [encoded[0], encoded[1], encoded[2]])
    try:
        linear = kernels.srgb_decode(encoded)
        want = Node(NodeParams(factor=3)).process(1002, linear[1], linear[0], linear[2]).subframes
        got = []
        for k in range(3):
            reply = worker.ask(request(seg, k, params={**PARAMS, "colorspace": "srgb"}))
            assert reply["ok"] and reply["cached"] == (k > 0), reply
            got.append(seg.output())
            np.testing.assert_allclose(got[k], kernels.srgb_encode(want[k]), atol=1e-5)
        linear_mean = kernels.srgb_decode(np.stack(got)).mean(axis=0)
        np.testing.assert_allclose(linear_mean, linear[1], atol=1e-5)  # the reblur holds in linear light
        # the same pixels taken as linear, or as Rec.709, are other decompositions, not cache hits
        as_linear = worker.ask(request(seg, 0, params={**PARAMS, "colorspace": "linear"}))
        assert as_linear["cached"] is False and as_linear["decompositions"] == 2
        as_709 = worker.ask(request(seg, 0, params={**PARAMS, "colorspace": "rec709"}))
        assert as_709["cached"] is False and as_709["decompositions"] == 3
        lin709 = kernels.rec709_decode(encoded)
        want709 = Node(NodeParams(factor=3)).process(1002, lin709[1], lin709[0], lin709[2]).subframes[0]
        np.testing.assert_allclose(seg.output(), kernels.rec709_encode(want709), atol=1e-5)
        assert worker.ask(request(seg, 0, params=dict(PARAMS)))["cached"] is True  # no colorspace: linear
        bad = worker.ask(request(seg, 0, params={**PARAMS, "colorspace": "aces"}))
        assert not bad["ok"] and "colorspace 'aces'" in bad["error"]
    finally:
        seg.close()


def test_render_scale_scales_override_polygons_per_axis(worker: Worker, frames: np.ndarray, tmp_path: Path) -> None:
    """Full-resolution 128x192 polygons on a 64x48 proxy frame rendered at render scale (0.5, 0.25)."""
    ov = tmp_path / "shot.overrides.yaml"  # at full resolution: the left half of the top half moves up
    ov.write_text("regions:\n  - name: box\n    direction: up\n    polygon: [[0, 0], [64, 0], [64, 96], [0, 96]]\n")
    hand = tmp_path / "hand.yaml"  # the same box drawn on the 64x48 frame
    hand.write_text("regions:\n  - name: box\n    direction: up\n    polygon: [[0, 0], [32, 0], [32, 24], [0, 24]]\n")
    seg = Segment(f"unshutter-test-{os.getpid()}-f", [frames[0], frames[1], frames[2]])
    try:
        params = {**PARAMS, "guidance": "none", "overrides": str(ov), "render_scale": [0.5, 0.25]}
        reply = worker.ask(request(seg, 1, params=params))
        assert reply["ok"] and "region:box" in reply["guidance"], reply
        want = (
            Node(NodeParams(factor=3, guidance="none", overrides=str(hand)))
            .process(1002, frames[1], frames[0], frames[2])
            .subframes[1]
        )
        np.testing.assert_allclose(seg.output(), want, atol=1e-5)
        full = worker.ask(request(seg, 1, params={**PARAMS, "guidance": "none", "overrides": str(ov)}))
        assert full["cached"] is False  # another render scale is another decomposition
        assert np.abs(seg.output() - want).max() > 1e-3  # unscaled, the box covers the whole frame
        bad = worker.ask(request(seg, 1, params={**params, "render_scale": [0, 1]}))
        assert not bad["ok"] and "render_scale" in bad["error"]
    finally:
        seg.close()


def clip_requests(seg: Segment, n_frames: int, first: int, k: int, i: int, params: dict, gap_fields: bool) -> dict:
    """The plugin's request for output k of the clip's i-th frame, all frames in ``seg``; ``gap_fields``: the
    frame two on (and the next frame's matte) for a closed-shutter output, as the plugin sends them."""
    off = seg.offsets
    req = {
        "op": "render",
        "shm": seg.name,
        "width": seg.shape[1],
        "height": seg.shape[0],
        "frame": first + i,
        "k": k,
        "cur": off[i],
        "prev": off[i - 1] if i > 0 else None,
        "next": off[i + 1] if i + 1 < n_frames else None,
        "matte": None,
        "output": seg.out,
        "matte_direction": None,
        "params": dict(params),
    }
    if gap_fields:
        req.update(next2=off[i + 2] if i + 2 < n_frames else None, next_matte=None)
    return req


@pytest.mark.parametrize("timing", ["even", "exposure"])
def test_gap_outputs_are_interpolated_like_the_cli_and_each_frame_decomposed_once(timing: str) -> None:
    """180 degrees, factor 4: outputs 2 and 3 of a frame lie in the closed-shutter gap (even timing); the worker
    decomposes the next frame for them and fills the gap as `unshutter run` does (node.process per frame, then
    node.fill_gap(res_f, res_f+1)); rendered in order, every source frame is decomposed once."""
    clip = render_clip(textured_photo(), 4, 64, 48, speed=5.0, curve=0.3, samples=12, gain=2.0)
    params = {**PARAMS, "factor": 4, "shutter": 180.0, "timing": timing, "follow": 0.7}
    node = Node(NodeParams(factor=4, shutter=180.0, timing=timing, follow=0.7))
    sched = node.schedule()
    assert sched.inside == (2 if timing == "even" else 4)
    res = [
        node.process(1001 + i, clip[i], clip[i - 1] if i else None, clip[i + 1] if i < 3 else None) for i in range(4)
    ]
    carried = [r.subframes.copy() for r in res]
    for i in range(3):
        node.fill_gap(res[i], res[i + 1])
    if timing == "even":
        assert np.abs(res[0].subframes[2:] - carried[0][2:]).max() > 1e-3  # the gap moved: not a vacuous check
    w = Worker()
    seg = Segment(f"unshutter-test-{os.getpid()}-g{timing}", list(clip))
    try:
        for i in range(4):
            for k in range(4):
                reply = w.ask(clip_requests(seg, 4, 1001, k, i, params, gap_fields=k >= sched.inside))
                assert reply["ok"], reply
                np.testing.assert_allclose(seg.output(), res[i].subframes[k], atol=1e-6, err_msg=f"{i} {k}")
        assert reply["decompositions"] == 4  # the next frame's decomposition made for a gap is reused
        # a plugin older than even timing: no timing, follow or next2 -> the defaults, the gap carried forward
        old = {key: v for key, v in params.items() if key not in ("timing", "follow")}
        default = Node(NodeParams(factor=4, shutter=180.0)).process(1002, clip[1], clip[0], clip[2]).subframes
        for k in (0, 3):
            reply = w.ask(clip_requests(seg, 4, 1001, k, 1, old, gap_fields=False))
            assert reply["ok"], reply
            np.testing.assert_allclose(seg.output(), default[k], atol=1e-6)
    finally:
        seg.close()
        w.close()
