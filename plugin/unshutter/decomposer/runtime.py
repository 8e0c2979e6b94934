"""Run the exported decomposer with ONNX Runtime, tiled for bounded memory."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from unshutter import color, kernels, memory
from unshutter import threads as process_threads
from unshutter.decomposer import contract
from unshutter.decomposer.locate import shipped_model_path
from unshutter.errors import ModelError, ParameterError

log = logging.getLogger("unshutter.decomposer")

TILE_MARGIN = 32
"""Pixels along an inner tile edge whose outputs are discarded (they lack context)."""
TILE_RAMP = 16
"""Pixels over which neighbouring tiles cross-fade, inside the margins."""
TILE_OVERLAP = 2 * TILE_MARGIN + TILE_RAMP
MIN_TILE = 2 * TILE_OVERLAP + contract.PAD_MULTIPLE
"""Smallest tile side: two overlaps and one step of the network's down-sampling grid."""
AUTO_TILE = 0
"""``tile`` value that lets the runtime choose (the default): whole frames up to
:data:`WHOLE_FRAME_PIXELS`, tiles of at most :data:`LARGE_FRAME_TILE` px above."""
DEFAULT_TILE = AUTO_TILE
WHOLE_FRAME_PIXELS = 2048 * 1080
"""Frames up to this many pixels (2K DCI, 1080p, 720p) run whole: no overlap computed
twice, no margins thrown away. A whole 1920x1080 frame peaks at 1.9 GB for the whole
process (decomposer alone: 1.87 GB, two tiles 1.34 GB); 1280x720 whole 1.0 GB."""
LARGE_FRAME_TILE = 1024
"""Largest tile side the automatic policy uses above :data:`WHOLE_FRAME_PIXELS`: a 4K
frame is 15 tiles of 784x848 (was 24 of 720x624 at 768 px), so 20% of the computed
pixels are overlap instead of 30%. The tiles are not what bounds a 4K run's memory:
``unshutter run`` on one 3840x2160 8-bit PNG frame peaked at 3.38 GB with 896 and
with 1024 px tiles alike (the frame-sized buffers around the network dominate)."""


def tile_side(h: int, w: int, tile: int) -> int:
    """The largest tile side for an ``h`` x ``w`` frame: ``tile`` unless it is :data:`AUTO_TILE`."""
    if tile != AUTO_TILE:
        return tile
    return max(h, w) if h * w <= WHOLE_FRAME_PIXELS else LARGE_FRAME_TILE


NORMALIZE_ROWS = 128
"""Rows per band when the accumulated tiles are divided by their weights."""


class DecompositionAborted(InterruptedError):
    """The host cancelled a tiled decomposition between tiles.

    Carries how far it got (``done`` of ``total`` tiles) so the worker can tell
    the host it stopped early rather than after the last tile.
    """

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"decomposition aborted by host after {done} of {total} tiles")
        self.done, self.total = done, total


def tile_spans(size: int, tile: int, align: int = contract.PAD_MULTIPLE) -> list[tuple[int, int]]:
    """(start, length) of the fewest tiles of at most ``tile`` px covering ``size``, balanced.

    Neighbours overlap by at least TILE_OVERLAP. Starts are multiples of
    ``align`` so every tile sees the network's down-sampling grid in the same
    phase as the whole frame does; that, not the seams, is what makes naive
    tiles disagree. Tiles share the frame evenly (a 1080-row frame with tile
    1024 gets two tiles of 592 rows, not 1024 + 1024), so no pixel is computed
    more often than the overlap needs. The last tile ends at the frame edge
    and may be up to ``align - 1`` px longer than the others.
    """
    if size <= tile:
        return [(0, size)]
    n = 2
    while True:
        # room for the overlap plus the alignment slack of each start
        length = -(-(size + (n - 1) * (TILE_OVERLAP + align)) // n)
        length = -(-length // align) * align
        if length <= tile or length <= TILE_OVERLAP + 2 * align:
            break
        n += 1
    last = (size - length) // align * align
    spans = [(i * last // (n - 1) // align * align, length) for i in range(n - 1)]
    spans.append((last, size - last))
    return spans


def pad_planar(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's replicate padding to multiples of PAD_MULTIPLE, done outside so the warps see it too.

    Shape: x [3, h, w], g [6, h, w] -> [3, hp, wp], [6, hp, wp] (the inputs themselves when no padding)
    """
    m = contract.PAD_MULTIPLE
    ph, pw = -x.shape[1] % m, -x.shape[2] % m
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="edge")
        g = np.pad(g, ((0, 0), (0, ph), (0, pw)), mode="edge")
    return x, g


def split_feed(x: np.ndarray, g: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps 1-3 of the split contract on the CPU: padding, motion, warps (what the graph is fed;
    int8 calibration feeds the same).

    Shape: x [3, h, w], g [6, h, w] float32 -> x [3, hp, wp], g [6, hp, wp], motion [2, hp, wp], warps [K, 3, hp, wp]
    """
    x, g = pad_planar(x, g)
    motion = (
        g[contract.MX : contract.MY + 1] * g[contract.MVALID : contract.MVALID + 1] * np.float32(contract.MOTION_SCALE)
    )  # [2, hp, wp] px over the exposure
    return x, g, motion, kernels.flow_warp(x, motion, k)


def interleave(planar: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``planar`` [C, h, w] copied into ``out`` [h, w, C] (returned); the values are not touched.

    OpenCV's channel merge: a third of the CPU time of numpy's strided transposing
    copy (7 x 3 planes of 1280x720: 11 against 32 ms), which was the decomposer's
    largest cost after the network and the warps.

    Shape: [C, h, w] float32 -> [h, w, C]
    """
    import cv2

    c = planar.shape[0]
    if c > 4 or planar.dtype != np.float32 or planar.strides[2] != 4:  # cv2.merge's limit, strided rows: numpy
        out[...] = planar.transpose(1, 2, 0)
        return out
    merged = cv2.merge(list(planar), dst=out)
    if merged is not out:  # cv2 allocated instead of writing into ``out`` (it must not): copy
        out[...] = merged
    return out


def _gpu_kernels() -> bool:
    """CuPy imports and sees a CUDA device (the kernels' GPU twins can run)."""
    from unshutter.kernels import gpu

    return gpu.available()


def _cupy_view(value: Any) -> Any:
    """A CuPy array over an ONNX Runtime OrtValue in device memory, keeping the value alive."""
    import cupy as cp

    shape = tuple(value.shape())
    nbytes = int(np.prod(shape)) * 4
    mem = cp.cuda.UnownedMemory(value.data_ptr(), nbytes, value)
    return cp.ndarray(shape, cp.float32, cp.cuda.MemoryPointer(mem, 0))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelInfo:
    path: str
    sha256: str
    model_id: str
    k: int
    provider: str


def _tile_weight(th: int, tw: int, y0: int, x0: int, h: int, w: int) -> np.ndarray:
    """Zero over the margins of inner edges, a feathered ramp inside them. Shape: -> [th, tw]."""
    top, bottom, left, right = y0 > 0, y0 + th < h, x0 > 0, x0 + tw < w
    mt, mb, ml, mr = (TILE_MARGIN if e else 0 for e in (top, bottom, left, right))
    weight = np.zeros((th, tw), np.float32)
    weight[mt : th - mb, ml : tw - mr] = kernels.feather_weight(
        th - mt - mb, tw - ml - mr, TILE_RAMP, top, bottom, left, right
    )
    return weight


class Decomposer:
    """Blurred frame + guidance -> K sub-frames, all in network encoding."""

    def __init__(self, model_path: str | Path | None = None, device: str = "auto", threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("onnxruntime is not installed: pip install 'unshutter[cpu]' (or [gpu] for CUDA)") from None
        available = ort.get_available_providers()
        if device == "cpu":
            providers = ["CPUExecutionProvider"]
        elif device == "cuda":
            if "CUDAExecutionProvider" not in available:
                raise ModelError("--device cuda: onnxruntime-gpu with CUDA is not installed")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        else:
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        # no model given: the int8 model on a CPU, the float32 one on a GPU (same contract)
        path = Path(model_path) if model_path else shipped_model_path(cpu=providers[0] == "CPUExecutionProvider")
        if not path.is_file():
            raise ModelError(f"{path}: decomposer model not found")
        opts = ort.SessionOptions()
        # --threads / UNSHUTTER_THREADS (unshutter.threads), else every core this process may use
        opts.intra_op_num_threads = threads or process_threads.configured() or process_threads.cores()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # The memory-pattern cache keeps a second activation-sized block per tile shape;
        # without it a 4K frame's tiles reuse one arena (measured: 790 -> 450 MB for 848x784 tiles).
        opts.enable_mem_pattern = False
        # ONNX Runtime's threads sleep when they run out of work instead of spinning: the loop's
        # prefetch and writer threads (and the tiles' Python between runs) get the cores. `unshutter
        # run` on five 720p frames, alternating: 0.93x the wall time, 0.92x the CPU time.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: cannot load decomposer ({str(exc).splitlines()[0]})") from None
        names_in = {i.name for i in self._session.get_inputs()}
        names_out = [o.name for o in self._session.get_outputs()]
        if names_in == set(contract.SPLIT_INPUTS) and set(contract.SPLIT_OUTPUTS) <= set(names_out):
            self.split = True
        elif names_in == {contract.INPUT_BLURRED, contract.INPUT_GUIDANCE} and contract.OUTPUT_SUBFRAMES in names_out:
            self.split = False  # a model exported before the split contract: warps inside the graph
        else:
            raise ModelError(f"{path}: not an Unshutter decomposer (inputs {sorted(names_in)}, outputs {names_out})")
        meta = self._session.get_modelmeta().custom_metadata_map
        shape = self._session.get_outputs()[
            names_out.index(contract.OUTPUT_RESIDUAL if self.split else contract.OUTPUT_SUBFRAMES)
        ].shape
        k = int(meta.get("unshutter.k", meta.get("k", shape[1] if isinstance(shape[1], int) else contract.K)))
        provider = self._session.get_providers()[0]
        # On CUDA with CuPy, the split contract's warps, graph and blend stay on the device
        # (IO binding), so the host sends the 9 input channels and gets the 21 output ones,
        # as with the whole graph. Without CuPy ONNX Runtime copies every input and output.
        self._on_device = self.split and provider == "CUDAExecutionProvider" and _gpu_kernels()
        self.info = ModelInfo(str(path), _sha256(path), meta.get("model_id", path.stem), k, provider)
        self.threads = int(self._session.get_session_options().intra_op_num_threads)  # as the session took it
        log.info("decomposer %s on %s", self.info.model_id, provider)

    @property
    def k(self) -> int:
        return self.info.k

    def _run_options(self, release: bool) -> Any:
        """ONNX Runtime run options; ``release``: hand the CPU arena's free blocks back afterwards."""
        if not release or self.info.provider != "CPUExecutionProvider":
            return None
        import onnxruntime as ort

        opts = ort.RunOptions()
        opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return opts

    def infer_planar(self, x: np.ndarray, g: np.ndarray, release: bool = False) -> np.ndarray:
        """Sub-frames of one image in the network's layout, under either contract.

        ``release``: return the activations' memory to the system after the run (the last
        tile of a tiled frame: the frame-sized buffers of resampling and writing come next).

        Shape: x [3, h, w], g [6, h, w] float32 -> [K, 3, h, w] (a view when padding was cropped)
        """
        h, w = x.shape[1:]
        out = self._infer_padded(x, g, release)
        return out[:, :, :h, :w] if out.shape[2:] != (h, w) else out

    def _infer_padded(self, x: np.ndarray, g: np.ndarray, release: bool = False) -> np.ndarray:
        """:meth:`infer_planar` before the padding is cropped away.

        Shape: x [3, h, w], g [6, h, w] float32 -> [K, 3, hp, wp] C-contiguous, hp >= h, wp >= w
        """
        run_opts = self._run_options(release)
        if not self.split:
            (out,) = self._session.run(
                [contract.OUTPUT_SUBFRAMES],
                {contract.INPUT_BLURRED: x[None], contract.INPUT_GUIDANCE: g[None]},
                run_opts,
            )
            return np.ascontiguousarray(out[0])
        if self._on_device:
            x, g = pad_planar(x, g)
            return self._infer_on_device(x, g)
        x, g, motion, warps = split_feed(x, g, self.k)
        sharp, gate, res = self._session.run(
            list(contract.SPLIT_OUTPUTS),
            {contract.INPUT_BLURRED: x[None], contract.INPUT_GUIDANCE: g[None], contract.INPUT_WARPS: warps[None]},
            run_opts,
        )
        del warps
        res = np.ascontiguousarray(res[0])
        kernels.warp_blend(res, x, np.ascontiguousarray(sharp[0]), motion, np.ascontiguousarray(gate[0, :, 0]))
        return res

    def _infer_on_device(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The split contract's steps 2-5 on the GPU: one upload of the inputs, one download of the
        sub-frames; the warps and the graph's outputs never visit the host. Not run by the
        project's tests (no GPU here); its kernels are the CuPy twins checked in tests/kernels.

        Shape: x [3, hp, wp], g [6, hp, wp] padded float32 -> [K, 3, hp, wp] (host)
        """
        import cupy as cp

        dev = cp.cuda.Device().id
        xd, gd = cp.asarray(x), cp.asarray(g)  # host -> device: 9 channels
        motion = cp.ascontiguousarray(
            gd[contract.MX : contract.MY + 1]
            * gd[contract.MVALID : contract.MVALID + 1]
            * np.float32(contract.MOTION_SCALE)
        )
        warps: Any = kernels.flow_warp(xd, motion, self.k)  # a CuPy array here
        binding = self._session.io_binding()
        for name, arr in ((contract.INPUT_BLURRED, xd), (contract.INPUT_GUIDANCE, gd), (contract.INPUT_WARPS, warps)):
            binding.bind_input(name, "cuda", dev, np.float32, [1, *arr.shape], arr.data.ptr)
        for name in contract.SPLIT_OUTPUTS:
            binding.bind_output(name, "cuda", dev)  # ONNX Runtime allocates them on the device
        self._session.run_with_iobinding(binding)
        sharp, gate, res = (_cupy_view(v) for v in binding.get_outputs())
        kernels.warp_blend(res[0], xd, sharp[0], motion, gate[0, :, 0])
        return cp.asnumpy(res[0])  # device -> host: the K sub-frames, once

    def _infer(self, blurred: np.ndarray, guidance: np.ndarray, release: bool = False) -> np.ndarray:
        """The network's layout, its padding not cropped (the caller crops as it copies).

        Shape: [h, w, 3], [h, w, 6] -> [1, K, 3, hp, wp] C-contiguous, hp >= h, wp >= w
        """
        x = np.ascontiguousarray(blurred.transpose(2, 0, 1), np.float32)
        g = np.ascontiguousarray(guidance.transpose(2, 0, 1), np.float32)
        return self._infer_padded(x, g, release)[None]

    def _run(self, blurred: np.ndarray, guidance: np.ndarray, linear_scale: float | None) -> np.ndarray:
        """Shape: [h, w, 3], [h, w, 6] -> [K, h, w, 3] (network encoding, or scene-linear: see :meth:`__call__`)."""
        h, w = blurred.shape[:2]
        out = self._infer(blurred, guidance)[0]  # [K, 3, hp, wp]
        if linear_scale is not None:  # decoded, cropped and laid out in one pass
            return kernels.srgb_decode_channels_last(out, h, w, linear_scale)
        res = np.empty((out.shape[0], h, w, out.shape[1]), np.float32)
        for k in range(res.shape[0]):  # plane by plane: no second full-size temporary
            interleave(out[k, :, :h, :w], res[k])
        return res

    def __call__(
        self,
        blurred: np.ndarray,
        guidance: np.ndarray,
        tile: int = DEFAULT_TILE,
        abort: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
        linear_scale: float | None = None,
    ) -> np.ndarray:
        """Decompose a whole frame, in overlapping feathered tiles when larger than ``tile``
        (:data:`AUTO_TILE`: see :func:`tile_side`).

        The sub-frames come back in the network's encoding, or with ``linear_scale``
        decoded to scene-linear (:func:`unshutter.color.from_network` with that scale,
        the same values): a whole frame is then decoded in the pass that lays it out.

        ``abort`` is polled before each tile (hosts cancel through it); when it
        answers true, :class:`DecompositionAborted` says how many tiles were done.
        ``progress(done, total)`` is called after each tile is accumulated (a
        frame that fits in one tile counts as one), so a host's progress bar
        can follow a long frame; an aborted frame never reports ``done == total``.

        Shape:
            blurred: [H, W, 3], guidance: [H, W, 6] -> [K, H, W, 3]
        """
        h, w = blurred.shape[:2]
        if tile != AUTO_TILE and tile < MIN_TILE:
            raise ParameterError(f"--tile {tile}: must be 0 (automatic) or at least {MIN_TILE} px")
        tile = max(tile_side(h, w, tile), MIN_TILE)
        report = progress or (lambda done, total: None)
        if h <= tile and w <= tile:
            whole = self._run(blurred, guidance, linear_scale)
            report(1, 1)
            return whole
        # Accumulate straight into the [K, H, W, 3] result, one sub-frame plane at a time, so a
        # 4K frame holds one K-stack (not a second one for a layout change). Every plane adds
        # its weight to the one sum, which is divided by K at the end. The native kernels'
        # cache of freed outputs (the neighbours' encodings, guidance temporaries: ~500 MB
        # at 4K) is emptied first, or it would stay resident beside the accumulator.
        kernels.clear_cache()
        memory.return_large_buffers()  # frames this large: freed planes go back at once (peak memory at 4K)
        memory.trim()  # and the free pages the flow's smaller buffers left in the heap
        acc = np.zeros((self.k, h, w, 3), np.float32)
        wsum = np.zeros((h, w), np.float32)
        tiles = [(y0, th, x0, tw) for y0, th in tile_spans(h, tile) for x0, tw in tile_spans(w, tile)]
        for done, (y0, th, x0, tw) in enumerate(tiles):
            if abort is not None and abort():
                raise DecompositionAborted(done, len(tiles))
            out = self._infer(
                blurred[y0 : y0 + th, x0 : x0 + tw],
                guidance[y0 : y0 + th, x0 : x0 + tw],
                release=done == len(tiles) - 1,
            )
            weight = _tile_weight(th, tw, y0, x0, h, w)
            plane = np.empty((th, tw, out.shape[2]), np.float32)
            for k in range(self.k):  # [3, th, tw] -> [th, tw, 3] one plane at a time
                kernels.accumulate_tile(acc[k], wsum, interleave(out[0, k, :, :th, :tw], plane), weight, y0, x0)
            del out
            report(done + 1, len(tiles))
        wsum *= np.float32(1.0 / self.k)
        for k in range(self.k):  # in bands of rows: no frame-sized temporary
            for b0, b1 in memory.row_bands(h, NORMALIZE_ROWS):
                band = kernels.normalize_accumulated(acc[k, b0:b1], wsum[b0:b1])
                acc[k, b0:b1] = band if linear_scale is None else color.from_network(band, linear_scale)
        kernels.clear_cache()  # the tiles' freed buffers: resampling and writing need the room
        memory.trim()  # and the heap's free pages (0.3 GB at 4K: the threads' heaps, the tiles' smaller buffers)
        return acc
