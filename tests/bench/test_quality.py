"""``unshutter bench quality``: its metrics, baselines, the node-output row and a run on a real movie file."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import textured_photo
from unshutter import kernels
from unshutter.bench import quality as Q
from unshutter.color import from_network


def _frame(gt: np.ndarray) -> Q.Frame:
    blurred = kernels.srgb_encode(kernels.srgb_decode(np.ascontiguousarray(gt)).mean(axis=0))
    h, w = gt.shape[1:3]
    zero = np.zeros((h, w, 2), np.float32)
    return Q.Frame(blurred, gt, zero, zero, zero, True)


def test_flow_warp_puts_the_early_subframes_back_along_the_motion() -> None:
    img = np.zeros((9, 31, 3), np.float32)
    img[4, 15] = 1.0
    motion = np.zeros((9, 31, 2), np.float32)
    motion[..., 0] = 7.0  # 7 px to the right over the exposure
    out = Q.flow_warp(img, motion)
    xs = [int(np.argmax(out[k, 4, :, 0])) for k in range(Q.K)]
    assert xs == [15 + k - 3 for k in range(Q.K)]  # sub-frame k sits at t = (k + 0.5)/7 - 0.5 of the motion
    assert np.array_equal(Q.flow_warp(img, None), np.repeat(img[None], Q.K, axis=0))


def test_order_accuracy_best_order_and_pooling() -> None:
    rng = np.random.default_rng(3)
    gt = rng.uniform(0.1, 0.9, (Q.K, 8, 8, 3)).astype(np.float32)
    acc = Q.Acc()
    acc.add(gt[::-1].copy(), _frame(gt))  # the right frames in the wrong order
    noisy = np.clip(gt + rng.normal(0, 0.05, gt.shape), 0, 1).astype(np.float32)
    acc.add(noisy, _frame(gt))
    s = acc.summary()
    assert s["order_accuracy"] == 0.5
    assert s["best_order_psnr_mean"] > s["psnr_mean"]  # the reversed frame is perfect in the best order
    m_rev = Q.mse(gt[::-1], gt)
    m_noisy = Q.mse(noisy, gt)
    assert s["psnr_pooled"] == pytest.approx(10 * math.log10(2 / (m_rev + m_noisy)))
    assert s["psnr_mean"] == pytest.approx((Q.psnr_of(m_rev) + Q.psnr_of(m_noisy)) / 2)


@pytest.fixture(scope="module")
def pan_movie(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """32 sharp frames of a pan at 1.5 px per frame: four blurred frames of 7 (or of 8), two of them interior."""
    from unshutter.io.movie import MovieWriter
    from unshutter.sample import render_clip

    path = tmp_path_factory.mktemp("bench") / "pan.mov"
    sharp = render_clip(textured_photo(), 32, 128, 96, speed=1.5, curve=0.0, samples=1)
    w = MovieWriter(path, 128, 96, Fraction(24))
    for f in kernels.srgb_encode(np.clip(sharp, 0, 1)):
        w.write(f)
    w.close()
    return path


def test_the_node_row_is_the_node_with_its_exact_reblur(pan_movie: Path) -> None:
    from unshutter.node import Node, NodeParams

    frames, _ = Q.real_frames(pan_movie, "0-20", 7, 7)
    f = frames[1]
    assert f.prev is frames[0].blurred and f.next is frames[2].blurred  # the node sees the neighbours
    out = Q.node_frame(Node(NodeParams(factor=7, timing="exposure")), f)
    assert out.shape == f.gt.shape
    # its linear mean is the input (where nothing left [0, 1], which the encoding cannot hold)
    inside = ((out > 0.0) & (out < 1.0)).all(axis=0)
    d = from_network(out, 1.0).mean(axis=0) - from_network(f.blurred, 1.0)
    assert np.abs(d[inside]).max() < 1e-4
    assert Q.mse(out, f.gt) < Q.mse(np.repeat(f.blurred[None], 7, axis=0), f.gt)


def test_real_set_from_a_movie(pan_movie: Path) -> None:
    frames, info = Q.real_frames(pan_movie, "0-31", 7, 7)
    assert (info["blurred_frames"], info["interior_frames"]) == (4, 2)
    assert [f.interior for f in frames] == [False, True, True, False]
    for f in frames:  # blurred = the linear mean of its 7 ground-truth frames
        np.testing.assert_allclose(from_network(f.gt, 1.0).mean(axis=0), from_network(f.blurred, 1.0), atol=1e-5)
    # the camera pans right by 1.5 px per source frame: the picture moves left 10.5 px per blurred frame
    mx = float(np.median(frames[1].motion_nb[..., 0]))
    assert -13.0 < mx < -8.0, mx


def test_cli_scores_the_shipped_model_on_a_movie(
    pan_movie: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = Q.main(
        [
            "--synthetic",
            "0",
            "--clips",
            "0",
            "--video",
            str(pan_movie),
            "--real-frames",
            "0-31",
            "--modes",
            "neighbors,none",
            "--json",
            "--strips",
            str(tmp_path),
            "--strips-per-run",
            "1",
        ]
    )
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    # motion on whole runs: the shot at 360 degrees (factor 7) and at 180 (4 of 8 averaged, factor 8)
    m360, m180 = rep["motion"]["pan_360"], rep["motion"]["pan_180"]
    assert set(m360) == {"_info", "truth", "node", "model_neighbors", "identity", "flow_warp"}
    assert set(m180) == {"_info", "truth", "node", "identity", "flow_warp"}
    assert (m360["_info"]["n"], m180["_info"]["n"], m180["_info"]["shutter"]) == (7, 8, 180.0)
    assert 0.7 < m360["truth"]["judder"] < 1.4 and m360["truth"]["span_ratio"] == 1.0
    assert m360["identity"]["span_ratio"] < 0.05 and m360["identity"]["judder"] is None  # infinite: strict JSON
    assert m360["node"]["span_ratio"] > m360["identity"]["span_ratio"]  # the node's sub-frames move a little
    assert "psnr_gap_pooled" in m180["node"] and "psnr_gap_pooled" not in m360["node"]
    assert sorted(p.name.split("_frame")[0] for p in tmp_path.glob("*.png")) == ["pan_180", "pan_360"]
    res = rep["real"]["results"]["interior"]
    assert set(res) == {"identity", "flow_warp", "model_neighbors", "model_none", "node_neighbors"}
    assert res["flow_warp"]["psnr_pooled"] > res["identity"]["psnr_pooled"]  # a pan is what flow-warp models
    assert res["model_neighbors"]["order_accuracy"] == 1.0
    assert res["model_neighbors"]["psnr_pooled"] > res["identity"]["psnr_pooled"]
    assert res["node_neighbors"]["order_accuracy"] == 1.0
    assert res["node_neighbors"]["psnr_pooled"] > res["identity"]["psnr_pooled"]


def test_unknown_mode_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert Q.main(["--synthetic", "0", "--no-real", "--modes", "neighbours"]) == 2
    assert "--modes neighbours: unknown" in capsys.readouterr().out


def test_the_true_motion_row_gets_the_runs_motion_fully_trusted() -> None:
    from unshutter.bench import runs
    from unshutter.node import Node, NodeParams

    f, n, h, w = 3, 4, 24, 32
    motion = np.zeros((f, h, w, 2), np.float32)
    motion[1, :, :, 0] = 12.0  # px per frame interval
    run = runs.Run("r", np.zeros((f, h, w, 3), np.float32), np.zeros((f, n, h, w, 3), np.float32), motion, 180.0)
    node = Node(NodeParams(factor=n, shutter=180.0))
    oracle = Q.TrueMotion(node, run)
    trust: dict = {}
    g, source = oracle(1, np.zeros((h, w, 3), np.float32), None, None, trust_out=trust)
    got, weight = node.motion_of(g, trust["trust"])
    assert source == "true motion"
    assert got is not None and weight is not None
    np.testing.assert_allclose(got[..., 0], 12.0, rtol=1e-3)  # back to px per frame interval
    assert float(weight.min()) == 1.0


def test_real_scale_resizes_the_source_frames(pan_movie: Path) -> None:
    """``--real-scale``: the shot's source frames resized before they are blurred (the flow then runs on frames
    as large as footage it pads at the clip's own size does not); the truth keeps the mean of its frames."""
    frames, info = Q.real_frames(pan_movie, "0-20", 7, 7, scale=2.0)
    assert info["size"] == [256, 192] and frames[0].gt.shape == (Q.K, 192, 256, 3)
    np.testing.assert_allclose(
        from_network(frames[1].gt, 1.0).mean(axis=0), from_network(frames[1].blurred, 1.0), atol=1e-5
    )
    mx = float(np.median(frames[1].motion_nb[..., 0]))  # twice the 10.5 px per blurred frame at the clip's size
    assert -26.0 < mx < -16.0, mx
    small = Q.read_video(pan_movie, 0, 1, 0.5)
    assert small[0].shape == (48, 64, 3) and small[0].min() >= 0.0


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "9", "two"])
def test_real_scale_refuses_what_is_not_a_factor(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        Q.main(["--real-scale", bad])
    assert exc.value.code == 2 and "--real-scale" in capsys.readouterr().err
