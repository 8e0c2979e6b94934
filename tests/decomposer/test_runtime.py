"""The ONNX Runtime decomposer: shipped model loads, tiles agree with whole frames, bad models refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unshutter import color
from unshutter.decomposer.runtime import (
    AUTO_TILE,
    LARGE_FRAME_TILE,
    Decomposer,
    DecompositionAborted,
    ModelInfo,
    tile_spans,
)
from unshutter.decomposer.locate import DEFAULT_MODEL, INT8_MODEL, models_dir
from unshutter.errors import ModelError, ParameterError
from unshutter.guidance import encode
from unshutter.sample import render_clip

from tests.conftest import textured_photo


@pytest.fixture(scope="module")
def dec() -> Decomposer:
    return Decomposer()


def test_shipped_model_loads(dec: Decomposer) -> None:
    assert dec.k == 7 and dec.info.provider == "CPUExecutionProvider" and len(dec.info.sha256) == 64


@pytest.mark.parametrize("model,worst", [(DEFAULT_MODEL, 0.01), (INT8_MODEL, 0.02)])
def test_tiled_matches_untiled(model: str, worst: float) -> None:
    """Seams agree; the int8 model's rounding moves a few seam pixels further (0.013 at most here)."""
    dec = Decomposer(models_dir() / model, device="cpu")
    frame = render_clip(textured_photo(300, 420), 1, 330, 250, speed=9.0, curve=0.5, samples=12)[0]
    enc = color.to_network(frame, 1.0)
    motion = np.zeros((250, 330, 2), np.float32)
    motion[..., 0] = -9.0
    g = encode.guidance_from_motion(motion)
    whole = dec(enc, g, tile=4096)
    tiled = dec(enc, g, tile=176)
    assert whole.shape == tiled.shape == (7, 250, 330, 3)
    diff = np.abs(np.clip(whole, 0, 1) - np.clip(tiled, 0, 1))
    assert diff.max() <= worst and diff.mean() <= 0.001


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One trained-like network exported under both contracts."""
    torch = pytest.importorskip("torch")
    from unshutter.train.config import load_config
    from unshutter.train.export import export_onnx
    from unshutter.train.flowunet_arch import build_network

    torch.manual_seed(3)
    net = build_network(load_config()["network"]).eval()
    torch.nn.init.normal_(net.head.weight, std=0.02)
    torch.nn.init.normal_(net.sharp_head.weight, std=0.02)
    net.gate_bias.data.fill_(0.8)
    d = tmp_path_factory.mktemp("contracts")
    out = {"split": d / "split.onnx", "whole": d / "whole.onnx"}
    export_onnx(net, out["split"], split=True)
    export_onnx(net, out["whole"], split=False)
    return out


def test_split_contract_runs_what_the_whole_graph_did(exported: dict[str, Path]) -> None:
    """Warps and blend outside the graph (native kernels) give the sub-frames of the in-graph warps,
    whole and tiled, on a frame whose size is no multiple of 16."""
    split, whole = Decomposer(exported["split"], device="cpu"), Decomposer(exported["whole"], device="cpu")
    assert split.split and not whole.split and split.k == whole.k == 7
    frame = render_clip(textured_photo(300, 420), 1, 330, 250, speed=9.0, curve=0.5, samples=12)[0]
    enc = color.to_network(frame, 1.0)
    motion = np.zeros((250, 330, 2), np.float32)
    motion[..., 0], motion[..., 1] = -9.0, 2.5
    g = encode.guidance_from_motion(motion)
    for tile in (4096, 176):
        a, b = split(enc, g, tile=tile), whole(enc, g, tile=tile)
        assert a.shape == b.shape == (7, 250, 330, 3)
        assert np.abs(a - b).max() < 1e-4
    assert np.abs(a[0] - a[-1]).max() > 0.05  # the warps did move the sub-frames


def test_abort_between_tiles(dec: Decomposer) -> None:
    enc = np.full((300, 300, 3), 0.5, np.float32)
    with pytest.raises(InterruptedError):
        dec(enc, encode.empty_guidance(300, 300), tile=176, abort=lambda: True)
    answers = iter([False, True])  # the host cancels after the first tile
    with pytest.raises(DecompositionAborted) as info:
        dec(enc, encode.empty_guidance(300, 300), tile=176, abort=lambda: next(answers))
    assert (info.value.done, info.value.total) == (1, len(tile_spans(300, 176)) ** 2)


def test_tile_too_small(dec: Decomposer) -> None:
    with pytest.raises(ParameterError, match="--tile"):
        dec(np.zeros((8, 8, 3), np.float32), encode.empty_guidance(8, 8), tile=32)
    with pytest.raises(ParameterError, match="--tile"):
        dec(np.zeros((8, 8, 3), np.float32), encode.empty_guidance(8, 8), tile=-1)


def test_odd_and_tiny_frames(dec: Decomposer) -> None:
    for h, w in [(1, 1), (7, 13), (33, 17)]:
        out = dec(np.full((h, w, 3), 0.3, np.float32), encode.empty_guidance(h, w))
        assert out.shape == (7, h, w, 3) and np.isfinite(out).all()


def test_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        Decomposer(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="junk.onnx: cannot load"):
        Decomposer(junk)


@pytest.mark.parametrize("size,tile", [(250, 176), (1000, 512), (4000, 1024), (1033, 1024), (2160, 1024)])
def test_tile_spans_cover_aligned(size: int, tile: int) -> None:
    from unshutter.decomposer.runtime import TILE_OVERLAP, tile_spans

    spans = tile_spans(size, tile)
    assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == size
    assert all(s % 16 == 0 and n <= tile + 15 for s, n in spans)
    for (s0, n0), (s1, _) in zip(spans, spans[1:]):
        assert s0 + n0 - s1 >= TILE_OVERLAP  # enough overlap for margins and the ramp
    # balanced: no more tiles than needed, and each pixel computed at most the overlap's worth again
    n = len(spans)
    assert sum(length for _, length in spans) <= size + (n - 1) * (TILE_OVERLAP + 32) + 16
    assert n == 1 or -(-(size + (n - 2) * (TILE_OVERLAP + 16)) // (n - 1)) > tile - 16


def test_tiles_of_hd_frames_are_balanced() -> None:
    from unshutter.decomposer.runtime import tile_spans

    # a 1080-row frame with tile 1024 gets two ~600-row tiles, not two of 1024 rows
    assert [n for _, n in tile_spans(1080, 1024)] == [592, 600]
    assert len(tile_spans(3840, 1024)) == 5 and len(tile_spans(2160, 1024)) == 3


class ShapeRecorder(Decomposer):
    """The real tiling around a stand-in network that records the tile shapes it is given."""

    def __init__(self) -> None:  # no ONNX session
        self.info = ModelInfo("", "", "stand-in", 7, "cpu")
        self.shapes: list[tuple[int, int]] = []
        self.released: list[bool] = []

    def _infer(self, blurred: np.ndarray, guidance: np.ndarray, release: bool = False) -> np.ndarray:
        h, w = blurred.shape[:2]
        self.shapes.append((h, w))
        self.released.append(release)
        return np.zeros((1, self.k, 3, h, w), np.float32)


@pytest.mark.parametrize(
    "w,h,tiles", [(1280, 720, 1), (1920, 1080, 1), (2048, 1080, 1), (3840, 2160, 15), (4096, 2160, 15)]
)
def test_automatic_tiles_run_frames_that_fit_whole(w: int, h: int, tiles: int) -> None:
    dec = ShapeRecorder()
    dec(np.zeros((h, w, 3), np.float32), np.zeros((h, w, 6), np.float16), tile=AUTO_TILE)
    assert len(dec.shapes) == tiles
    assert all(max(s) <= (max(h, w) if tiles == 1 else LARGE_FRAME_TILE) for s in dec.shapes)
    # a tiled frame hands the network's arena back after its last tile (resampling and writing come next);
    # a whole frame keeps it for the next frame of the same size
    assert dec.released == ([False] * (tiles - 1) + [True] if tiles > 1 else [False])


def test_an_explicit_tile_side_is_kept() -> None:
    dec = ShapeRecorder()
    dec(np.zeros((720, 1280, 3), np.float32), np.zeros((720, 1280, 6), np.float16), tile=768)
    assert len(dec.shapes) == 2 and all(max(s) <= 768 for s in dec.shapes)


def test_the_network_threads_sleep_instead_of_spinning() -> None:
    """Idle ONNX Runtime threads would take the cores from the loop's prefetch and writer threads."""
    opts = Decomposer(device="cpu")._session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


@pytest.mark.parametrize("layout", ["contiguous", "cropped", "strided", "four channels"])
def test_interleave_copies_planes_exactly(layout: str) -> None:
    """[C, h, w] -> [h, w, C] by OpenCV's merge is the transpose, value for value, in the given buffer."""
    from unshutter.decomposer.runtime import interleave

    rng = np.random.default_rng(4)
    planar = rng.standard_normal((4 if layout == "four channels" else 3, 37, 61)).astype(np.float32)
    planar[0, 0, :3] = (-0.0, np.inf, np.nan)
    if layout == "cropped":  # the padded network output cropped back: rows strided, pixels contiguous
        planar = np.pad(planar, ((0, 0), (0, 11), (0, 3)))[:, :37, :61]
    elif layout == "strided":
        planar = planar[:, :, ::2]
    out = np.full(planar.shape[1:] + (planar.shape[0],), 7.0, np.float32)
    assert interleave(planar, out) is out
    want = planar.transpose(1, 2, 0)
    assert out.tobytes() == np.ascontiguousarray(want).tobytes()
