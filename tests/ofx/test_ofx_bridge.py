"""The OpenFX bridge end to end: build, exports, describe, time mapping, renders vs the CLI, failures.

Everything runs through the in-tree host (ofx_bridge/harness) on a 64x48,
4-frame float EXR clip; reference frames come from ``unshutter run`` on the
same clip, so the same node and model produce both.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.ofx.conftest import BINARY, BUNDLE, FIRST, FRAMES, H, W, guide_left_half, read_raw
from unshutter.decomposer.runtime import tile_spans

N = 3
LAST_OUT = FIRST + FRAMES * N - 1


def facts_dict(facts: list[str], prefix: str) -> dict[str, str]:
    out = {}
    for line in facts:
        if line.startswith(prefix + " "):
            key, _, value = line[len(prefix) + 1 :].partition(" ")
            out[key] = value
    return out


# ------------------------------------------------------------------ build and load
def test_bundle_exports_only_the_three_entry_points(built: Path) -> None:
    assert built == BINARY
    assert (BUNDLE / "Contents" / "Info.plist").is_file()
    res = subprocess.run(["nm", "-D", "--defined-only", str(BINARY)], capture_output=True, text=True, check=True)
    names = sorted(line.split()[-1] for line in res.stdout.splitlines() if line.strip())
    assert names == ["OfxGetNumberOfPlugins", "OfxGetPlugin", "OfxSetHost"]


def test_describe_in_general_and_filter(host) -> None:
    h = host()
    facts = h.ok(f"load {BINARY}")
    assert "identifier org.unshutter.DeblurToSlowMotion" in facts
    assert "api OfxImageEffectPluginAPI 1" in facts
    props = facts_dict(h.ok("describe"), "prop")
    assert props["OfxImageEffectPluginPropGrouping"] == "Unshutter"
    assert set(props["OfxImageEffectPropSupportedContexts"].split(",")) == {
        "OfxImageEffectContextGeneral",
        "OfxImageEffectContextFilter",
        "OfxImageEffectContextRetimer",
    }
    assert set(props["OfxImageEffectPropSupportedPixelDepths"].split(",")) == {
        "OfxBitDepthFloat",
        "OfxBitDepthHalf",
        "OfxBitDepthShort",
        "OfxBitDepthByte",
    }
    assert props["OfxImageEffectPropTemporalClipAccess"] == "1"
    assert props["OfxImageEffectPropSupportsTiles"] == "0"

    general = h.ok("describe_in_context general")
    clips = {line.split()[1]: line for line in general if line.startswith("clip ")}
    assert set(clips) == {"Source", "Guide", "Vectors", "Output"}
    assert "optional=1" in clips["Guide"] and "mask=1" in clips["Guide"]
    assert "optional=1" in clips["Vectors"] and "mask=0" in clips["Vectors"]
    assert "temporal=1" in clips["Source"]
    params = {line.split()[1]: line for line in general if line.startswith("param ")}
    labels = {re.search(r'label="([^"]*)"', p).group(1) for p in params.values()}
    assert {
        "Factor",
        "Shutter angle",
        "Timing",
        "Follow motion",
        "Input colour",
        "Guidance",
        "Reverse",
        "Guide matte direction",
        "Vectors y direction",
        "Vectors point",
        "Override file",
        "Quality",
        "Tile size",
    } <= labels
    assert "min=2 max=16 dmin=2 dmax=16" in params["factor"]
    assert "options=Neighbours,None,Left,Right,Up,Down" in params["guidance"]
    assert "options=Full,Draft" in params["quality"]
    assert "OfxParamTypeChoice" in params["timing"] and "options=Even,Exposure only" in params["timing"]
    assert "default=0 " in params["timing"]
    assert "OfxParamTypeDouble" in params["followMotion"]
    assert "default=1.25 min=0 max=2 dmin=0 dmax=2 " in params["followMotion"]  # NodeParams.follow, node.FOLLOW_MAX
    colour = params["colorspace"]
    assert "OfxParamTypeChoice" in colour and 'label="Input colour"' in colour and "default=0 " in colour
    assert "options=Auto,Linear,sRGB,Rec.709" in colour
    for name, line in params.items():  # Resolve clamps numeric parameters without ranges
        if "OfxParamTypeInteger" in line or "OfxParamTypeDouble" in line:
            assert not re.search(r"(^|\s)d?min=-(\s|$)", line), name  # "-": no value (negative ones are fine)
        assert not line.endswith("hint=0"), name

    filt = h.ok("describe_in_context filter")
    assert {line.split()[1] for line in filt if line.startswith("clip ")} == {"Source", "Output"}
    h.ok("describe_in_context retimer")


# ------------------------------------------------------------------ time
def test_time_domain_and_frames_needed(host) -> None:
    h = host()
    h.start("general", frames=(1001, 1025), factor=N)
    facts = h.ok("time_domain")
    assert facts == ["time_domain 1001,1075"]  # 25 frames at N=3 -> 75, inclusive

    def needed(t: int) -> str:
        return facts_dict(h.ok(f"frames_needed {t}"), "out")["OfxImageClipPropFrameRange_Source"]

    # at 360 degrees every output blends toward the previous and next frames' decompositions, whose
    # guidance reads the frames either side of them: two frames each way
    assert needed(1001) == "1001,1003"  # first frame: no previous
    assert needed(1004) == "1001,1004"  # output 1004 = sub-frame 0 of source 1002
    assert needed(1006) == "1001,1004"
    assert needed(1007) == "1001,1005"
    assert needed(1075) == "1023,1025"
    rod = facts_dict(h.ok("rod 1040"), "out")["OfxImageEffectPropRegionOfDefinition"]
    assert rod == f"0,0,{W},{H}"
    roi = facts_dict(h.ok("roi 1040"), "out")["OfxImageClipPropRoI_Source"]
    assert roi == f"0,0,{W},{H}"

    s = host()  # without following the motion nothing blends: the frame and its neighbours only
    s.start("general", frames=(1001, 1025), factor=N, followMotion=0.0)
    assert facts_dict(s.ok("frames_needed 1007"), "out")["OfxImageClipPropFrameRange_Source"] == "1002,1004"

    f = host()
    f.start("filter", frames=(1001, 1025), factor=N)
    status, _ = f.cmd("time_domain")
    assert status == 14  # kOfxStatReplyDefault: the host keeps the clip length
    assert facts_dict(f.ok("frames_needed 1004"), "out")["OfxImageClipPropFrameRange_Source"] == "1001,1004"


# ------------------------------------------------------------------ renders
def render_all(h, outdir: Path, times) -> dict[int, np.ndarray]:
    out = {}
    for t in times:
        status, facts = h.render(t, outdir / f"o.{t}.raw")
        assert status == 0, facts
        out[t] = read_raw(outdir / f"o.{t}.raw")
    return out


def test_general_context_renders_match_cli(host, clip, cli_render, tmp_path: Path) -> None:
    ref = cli_render("--factor", str(N))
    assert sorted(ref) == list(range(FIRST, LAST_OUT + 1))
    h = host(UNSHUTTER_OFX_VERBOSE="1")
    h.start("general", clip, factor=N)
    assert h.ok("time_domain") == [f"time_domain {FIRST},{LAST_OUT}"]
    got = render_all(h, tmp_path, range(FIRST, LAST_OUT + 1))
    for t in ref:
        np.testing.assert_allclose(got[t][..., :3], ref[t], rtol=0, atol=1e-5, err_msg=f"output frame {t}")
        assert np.all(got[t][..., 3] == 1.0)  # the source's alpha
    # reblur: the N sub-frames of each source frame average back to it
    for i in range(FRAMES):
        mean = np.mean([got[FIRST + i * N + k][..., :3] for k in range(N)], axis=0)
        np.testing.assert_allclose(mean, clip.frames[i], atol=1e-4)
    facts = h.ok("stats")
    assert "violations 0" in facts and "images_outstanding 0" in facts
    assert not any(line.startswith("progress_calls 0") for line in facts)
    # one decomposition per source frame: the other N-1 outputs come from the worker's cache (a frame's first
    # output also decomposes the next frame, whose decomposition it blends toward; the last frame's is cached)
    deadline = time.monotonic() + 10  # stderr is read by a thread: let the last replies arrive
    while sum('"ok": true' in line for line in h.stderr) < FRAMES * N and time.monotonic() < deadline:
        time.sleep(0.02)
    replies = [line for line in h.stderr if '"ok": true' in line]
    assert len(replies) == FRAMES * N
    assert sum('"cached": false' in line for line in replies) == FRAMES - 1
    assert replies[-1].endswith(f'"decompositions": {FRAMES}}}')
    h.ok("purge")  # the host's purge-caches action empties the worker's cache
    assert h.render(1001, tmp_path / "again.raw")[0] == 0
    deadline = time.monotonic() + 10  # stderr is read by another thread: wait for this render's reply line
    while not h.stderr[-1].startswith("Unshutter: output 1001 ") and time.monotonic() < deadline:
        time.sleep(0.02)
    # the first frame and the next one, toward whose decomposition its outputs blend
    assert h.stderr[-1].endswith(f'"decompositions": {FRAMES + 2}}}') and '"cached": false' in h.stderr[-1]


def test_filter_and_retimer_contexts_map_time(host, clip, cli_render, tmp_path: Path) -> None:
    ref = cli_render("--factor", str(N))
    f = host()
    f.start("filter", clip, factor=N)
    got = render_all(f, tmp_path, range(FIRST, FIRST + FRAMES))  # the host keeps the clip length
    for t, img in got.items():  # output t shows source a + (t - a) / N
        np.testing.assert_allclose(img[..., :3], ref[t], atol=1e-5, err_msg=f"filter output {t}")

    r = host()
    r.start("retimer", clip, factor=N)
    r.ok(f"retime_speed {1.0 / N!r}")  # SourceTime(t) = a + (t - a) / N
    outdir = tmp_path / "retimer"
    outdir.mkdir()
    got = render_all(r, outdir, [1001, 1005, 1009, 1012])
    for t, img in got.items():
        np.testing.assert_allclose(img[..., :3], ref[t], atol=1e-5, err_msg=f"retimer output {t}")


def test_parameters_reach_the_node_like_cli_flags(host, clip, cli_render, tmp_path: Path) -> None:
    ref = cli_render(
        "--factor",
        "4",
        "--guidance",
        "left",
        "--reverse",
        "--quality",
        "draft",
        "--shutter",
        "180",
        "--threshold",
        "1.5",
    )
    h = host()
    h.start("general", clip, factor=4, guidance=2, reverse=1, quality=1, shutterAngle=180, staticThreshold=1.5)
    assert h.ok("time_domain") == [f"time_domain {FIRST},{FIRST + FRAMES * 4 - 1}"]
    got = render_all(h, tmp_path, [1001, 1006, 1011, 1016])
    for t, img in got.items():
        np.testing.assert_allclose(img[..., :3], ref[t], atol=1e-5, err_msg=f"output {t}")


def worker_replies(h, count: int) -> list[str]:
    """The worker's replies the plugin logged (UNSHUTTER_OFX_VERBOSE), once ``count`` have arrived."""
    deadline = time.monotonic() + 10  # stderr is read by a thread: let the last replies arrive
    while sum('"ok": true' in line for line in h.stderr) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return [line for line in h.stderr if '"ok": true' in line]


def test_180_degrees_even_timing_matches_cli_and_decomposes_each_frame_once(
    host, clip, cli_render, tmp_path: Path
) -> None:
    """At 180 degrees and factor 4 outputs 2 and 3 of every frame fall in the closed-shutter gap: the plugin
    fetches the frame two on, the worker decomposes the next frame and interpolates toward it, as `unshutter run`
    does (the last frame's gap is carried forward in both); in order, each source frame is decomposed once."""
    n = 4
    ref = cli_render("--factor", str(n), "--shutter", "180", "--follow", "1.5")
    h = host(UNSHUTTER_OFX_VERBOSE="1")
    h.start("general", clip, factor=n, shutterAngle=180, followMotion=1.5)
    assert facts_dict(h.ok("frames_needed 1003"), "out")["OfxImageClipPropFrameRange_Source"] == "1001,1003"
    assert facts_dict(h.ok("frames_needed 1005"), "out")["OfxImageClipPropFrameRange_Source"] == "1001,1003"
    assert facts_dict(h.ok("frames_needed 1011"), "out")["OfxImageClipPropFrameRange_Source"] == "1002,1004"
    got = render_all(h, tmp_path, range(FIRST, FIRST + FRAMES * n))
    for t in ref:
        np.testing.assert_allclose(got[t][..., :3], ref[t], rtol=0, atol=1e-5, err_msg=f"output frame {t}")
    facts = h.ok("stats")
    assert "violations 0" in facts and "images_outstanding 0" in facts  # f+2 was declared before it was fetched
    replies = worker_replies(h, FRAMES * n)
    assert len(replies) == FRAMES * n
    assert replies[-1].endswith(f'"decompositions": {FRAMES}}}'), replies[-1]

    # Exposure only: no gap, nothing fetched beyond the next frame; the gap outputs differ from even timing's
    exp = cli_render("--factor", str(n), "--shutter", "180", "--timing", "exposure", "--follow", "0.8")
    x = host()
    x.start("general", clip, factor=n, shutterAngle=180, followMotion=0.8, timing=1)
    assert facts_dict(x.ok("frames_needed 1003"), "out")["OfxImageClipPropFrameRange_Source"] == "1001,1002"
    outdir = tmp_path / "exposure"
    outdir.mkdir()
    got_x = render_all(x, outdir, [1002, 1003, 1008, 1016])
    for t, img in got_x.items():
        np.testing.assert_allclose(img[..., :3], exp[t], rtol=0, atol=1e-5, err_msg=f"exposure output {t}")
    assert np.abs(got_x[1003][..., :3] - got[1003][..., :3]).max() > 1e-3
    assert "violations 0" in x.ok("stats")


# The host image is quantised before the node sees it; flow on the 8-bit luminance and the trained
# network amplify that to a few thousandths in a few pixels.
# Input colour Linear (1) takes integer values as linear, like the EXR the CLI reads; half is linear under Auto.
@pytest.mark.parametrize("depth,atol", [("half", 1.5e-2), ("short", 1e-2), ("byte", 8 / 255)])
def test_integer_and_half_depths(host, clip, cli_render, tmp_path: Path, depth: str, atol: float) -> None:
    ref = cli_render("--factor", str(N))
    h = host()
    h.start("general", clip, depth=depth, factor=N, **({} if depth == "half" else {"colorspace": 1}))
    prefs = h.ok("clip_prefs")
    assert any(
        line.endswith({"half": "OfxBitDepthHalf", "short": "OfxBitDepthShort", "byte": "OfxBitDepthByte"}[depth])
        for line in prefs
        if "Depth_Output" in line
    )
    got = render_all(h, tmp_path, [1001, 1005, 1012])
    for t, img in got.items():
        want = ref[t] if depth == "half" else np.clip(ref[t], 0.0, 1.0)  # integer images hold 0..1
        # The host's quantised (and, for integers, clipped) input moves the network's output a little; on
        # a handful of pixels at sharp edges the model amplifies that. Nearly all match within the
        # quantisation tolerance, none is far off (a wrong colour path, frame or scale would be).
        diff = np.abs(img[..., :3] - want)
        assert np.quantile(diff, 0.999) <= atol, (depth, t, float(np.quantile(diff, 0.999)))
        assert diff.max() <= 2 * atol, (depth, t, float(diff.max()))
        assert np.allclose(img[..., 3], 1.0)


LEVELS = {"byte": 255, "short": 65535}


@pytest.fixture(scope="module")
def srgb_clip(clip, tmp_path_factory: pytest.TempPathFactory):
    """The test clip as a display-referred host holds it: sRGB-encoded (the harness quantises it to the depth)."""
    from tests.ofx.conftest import Clip
    from unshutter import kernels

    folder = tmp_path_factory.mktemp("ofx_srgb")
    encoded = kernels.srgb_encode(np.ascontiguousarray(clip.frames, np.float32))
    for i in range(FRAMES):
        np.concatenate([encoded[i], np.ones((H, W, 1), np.float32)], axis=-1).tofile(folder / f"enc.{FIRST + i}.raw")
    return Clip(folder, "", str(folder / "enc.%d.raw"), encoded)


@pytest.mark.parametrize("depth", ["byte", "short"])
def test_integer_images_reblur_in_linear_light(host, srgb_clip, tmp_path: Path, depth: str) -> None:
    """Input colour Auto takes 8/16-bit images as sRGB: the sub-frames average to the source in linear light."""
    from unshutter import kernels

    levels = LEVELS[depth]
    held = np.floor(np.clip(srgb_clip.frames, 0.0, 1.0) * levels + 0.5) / levels  # what the host's image holds
    linear_source = kernels.srgb_decode(held.astype(np.float32))
    # an output rounded to the depth is off by half a step; sRGB decoding stretches that by at most 2.28 (at 1.0)
    tol = 2.28 * 0.5 / levels + 2e-6

    def linear_mean_errors(colorspace: int, outdir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
        h = host()
        h.start("general", srgb_clip, depth=depth, factor=N, colorspace=colorspace)
        outdir.mkdir()
        found = []
        for i in (1, 3):  # a frame with both neighbours and the last one
            got = np.stack(list(render_all(h, outdir, [FIRST + i * N + k for k in range(N)]).values()))[..., :3]
            err = np.abs(kernels.srgb_decode(np.ascontiguousarray(got)).mean(axis=0) - linear_source[i])
            # integer outputs cannot hold a sub-frame below 0 or above 1: leave out pixels where one clipped
            clipped = ((got <= 0.0) | (got >= 1.0)).any(axis=0)
            found.append((err, clipped))
        return found

    auto = linear_mean_errors(0, tmp_path / "auto")
    old = linear_mean_errors(1, tmp_path / "linear")  # the old behaviour: integer values taken as linear
    for (err, clipped), (old_err, old_clipped) in zip(auto, old):
        assert (~clipped).mean() > 0.7
        assert err[~clipped].max() <= tol, (err[~clipped].max(), tol)
        assert err.mean() < 1e-3 if depth == "byte" else err.mean() < 3e-4
        both = ~clipped & ~old_clipped
        assert old_err[both].max() > 10 * tol and old_err.mean() > 5 * err.mean()


def test_integer_images_rec709_and_float_auto(host, clip, srgb_clip, tmp_path: Path) -> None:
    """Rec.709 decodes with the BT.709 curve; Auto on float images changes nothing (they are scene-linear)."""
    from unshutter import kernels
    from unshutter.node import Node, NodeParams

    node = Node(NodeParams(factor=N, follow=0.0))
    i, k = 1, 2
    f, t = FIRST + i, FIRST + i * N + k
    h = host()
    # 3 = Rec.709; follow 0: one frame's outputs, as the node alone makes them (nothing blends with a neighbour)
    h.start("general", srgb_clip, depth="short", factor=N, colorspace=3, followMotion=0.0)
    assert h.render(t, tmp_path / "rec709.raw")[0] == 0
    held = (np.floor(np.clip(srgb_clip.frames, 0.0, 1.0) * 65535 + 0.5) / 65535).astype(np.float32)
    lin = kernels.rec709_decode(held)
    want = kernels.rec709_encode(node.process(f, lin[i], lin[i - 1], lin[i + 1]).subframes[k])
    np.testing.assert_allclose(read_raw(tmp_path / "rec709.raw")[..., :3], np.clip(want, 0.0, 1.0), atol=1e-3)

    for colorspace in (0, 1):  # float: Auto is Linear
        g = host()
        g.start("general", clip, factor=N, colorspace=colorspace, followMotion=0.0)
        assert g.render(t, tmp_path / f"float{colorspace}.raw")[0] == 0
    want = node.process(f, clip.frames[i], clip.frames[i - 1], clip.frames[i + 1]).subframes[k]
    for colorspace in (0, 1):
        np.testing.assert_allclose(read_raw(tmp_path / f"float{colorspace}.raw")[..., :3], want, atol=1e-5)


def test_override_polygons_follow_the_render_scale(host, clip, tmp_path: Path) -> None:
    """A proxy render at scale 0.5: the override file's full-resolution polygon lands at half its coordinates."""
    from unshutter.node import Node, NodeParams

    full = tmp_path / "full.yaml"  # the top half of the full-resolution frame moves left
    full.write_text(
        f"regions:\n  - name: top\n    direction: left\n    polygon: [[0, 0], [{W}, 0], [{W}, {H // 2}], [0, {H // 2}]]\n"
    )
    half = tmp_path / "half.yaml"  # the same region drawn by hand on the half-size frame
    half.write_text(
        f"regions:\n  - name: top\n    direction: left\n    polygon: [[0, 0], [{W // 2}, 0], [{W // 2}, {H // 4}], [0, {H // 4}]]\n"
    )
    h = host(UNSHUTTER_OFX_VERBOSE="1")
    h.start("general", clip, factor=N, guidance=1, overrideFile=str(full))  # guidance None: only the override guides
    i, k = 1, 1
    status, facts = h.render(FIRST + i * N + k, tmp_path / "proxy.raw", scale=0.5)
    assert status == 0, facts
    got = read_raw(tmp_path / "proxy.raw", W // 2, H // 2)[..., :3]
    small = clip.frames[:, 1::2, 1::2]  # the harness samples the pixel nearest each half-size pixel's centre
    frames = [np.ascontiguousarray(small[j]) for j in (i, i - 1, i + 1)]
    want = Node(NodeParams(factor=N, guidance="none", overrides=str(half), threshold=0.25)).process(FIRST + i, *frames)
    assert "+overrides(region:top)" in want.guidance_source
    np.testing.assert_allclose(got, want.subframes[k], atol=1e-5)
    unscaled = Node(NodeParams(factor=N, guidance="none", overrides=str(full), threshold=0.25)).process(
        FIRST + i, *frames
    )
    assert np.abs(unscaled.subframes[k] - want.subframes[k]).max() > 1e-3  # unscaled, the region covers the whole frame
    # at full scale the same file renders as the CLI would, region and all
    assert h.render(FIRST + i * N + k, tmp_path / "full.raw")[0] == 0
    ref = Node(NodeParams(factor=N, guidance="none", overrides=str(full))).process(
        FIRST + i, clip.frames[i], clip.frames[i - 1], clip.frames[i + 1]
    )
    np.testing.assert_allclose(read_raw(tmp_path / "full.raw")[..., :3], ref.subframes[k], atol=1e-5)


def test_rgb_components_and_render_scale(host, clip, tmp_path: Path) -> None:
    h = host()
    h.start("general", clip, components="RGB", factor=N)
    assert any(line.endswith("OfxImageComponentRGB") for line in h.ok("clip_prefs") if "Components_Output" in line)
    status, facts = h.render(1004, tmp_path / "half.raw", scale=0.5)
    assert status == 0, facts
    assert facts[-1].endswith(f"{W // 2}x{H // 2}")
    img = read_raw(tmp_path / "half.raw", W // 2, H // 2)
    assert np.isfinite(img).all() and img[..., :3].max() > 0.05


def test_parallel_renders_share_one_worker(host, clip, cli_render, tmp_path: Path) -> None:
    ref = cli_render("--factor", str(N))
    h = host()
    h.start("general", clip, factor=N)
    times = [1004, 1005, 1006, 1010]
    h.ok(f"render_parallel {tmp_path}/p.%d.raw " + " ".join(map(str, times)))
    assert len(h.children()) == 1
    for t in times:
        np.testing.assert_allclose(read_raw(tmp_path / f"p.{t}.raw")[..., :3], ref[t], atol=1e-5)


def test_guide_matte_forces_direction(host, clip, tmp_path: Path) -> None:
    from unshutter.node import Node, NodeParams

    h = host()
    matte = guide_left_half(h, tmp_path)
    h.start("general", clip, factor=N, guidance=1, guideDirection=0)  # guidance None, matte direction Left
    status, facts = h.render(1005, tmp_path / "g.raw")
    assert status == 0, facts
    node = Node(NodeParams(factor=N, guidance="none"))
    f = FIRST + 1
    want = node.process(f, clip.frames[1], clip.frames[0], clip.frames[2], matte, "left").subframes[1]
    np.testing.assert_allclose(read_raw(tmp_path / "g.raw")[..., :3], want, atol=1e-5)


# ------------------------------------------------------------------ failures
def test_killed_worker_is_survived(host, clip, cli_render, tmp_path: Path) -> None:
    ref = cli_render("--factor", str(N))
    h = host()
    h.start("general", clip, factor=N)
    status, facts = h.render(1001, tmp_path / "a.raw")
    assert status == 0, facts
    (pid,) = h.children()
    os.kill(pid, signal.SIGKILL)
    status, facts = h.render(1002, tmp_path / "b.raw")
    # the dead worker is noticed (on start or when its socket closes) and replaced within this render
    assert status == 0, (facts, h.stderr[-10:])
    np.testing.assert_allclose(read_raw(tmp_path / "b.raw")[..., :3], ref[1002], atol=1e-5)
    status, facts = h.render(1003, tmp_path / "c.raw")
    assert status == 0, facts
    np.testing.assert_allclose(read_raw(tmp_path / "c.raw")[..., :3], ref[1003], atol=1e-5)
    (new_pid,) = h.children()
    assert new_pid != pid

    # killed in the middle of a render: that render fails or recovers, the next one works
    h.send(f"render 1004 {tmp_path / 'd.raw'} 1.0")
    time.sleep(0.05)
    for p in h.children():
        os.kill(p, signal.SIGKILL)
    status, facts = h.collect("render 1004")
    assert status == 0, (facts, h.stderr[-10:])  # the request is sent again to a new worker
    np.testing.assert_allclose(read_raw(tmp_path / "d.raw")[..., :3], ref[1004], atol=1e-5)
    status, facts = h.render(1005, tmp_path / "e.raw")
    assert status == 0, facts
    np.testing.assert_allclose(read_raw(tmp_path / "e.raw")[..., :3], ref[1005], atol=1e-5)
    h.ok("unload")
    deadline = time.monotonic() + 10
    while h.children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert h.children() == []  # unload stops the worker


def test_missing_worker_fails_with_message(host, clip, tmp_path: Path) -> None:
    h = host(UNSHUTTER_EXECUTABLE=str(tmp_path / "no-such-unshutter"))
    h.start("general", clip, factor=N)
    for t in (1001, 1002):  # every render retries, none crashes the host
        status, facts = h.render(t, tmp_path / "x.raw")
        assert status == 1
        assert any(
            line.startswith("persistent_message OfxMessageError") and "UNSHUTTER_EXECUTABLE" in line for line in facts
        ), facts
    assert "images_outstanding 0" in h.ok("stats")


def fake_worker(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-unshutter"
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_silent_worker_times_out(host, clip, tmp_path: Path) -> None:
    exe = fake_worker(tmp_path, "import time\ntime.sleep(600)\n")
    h = host(UNSHUTTER_EXECUTABLE=exe, UNSHUTTER_OFX_START_TIMEOUT="2")
    h.start("general", clip, factor=N)
    t0 = time.monotonic()
    status, facts = h.render(1001, tmp_path / "x.raw")
    assert status == 1 and time.monotonic() - t0 < 120  # far below the worker's 600 s: a loaded machine still passes
    assert any("did not answer within 2 s" in line for line in facts), facts
    assert h.children() == []  # the stuck process was killed


def test_hanging_render_times_out(host, clip, tmp_path: Path) -> None:
    body = (
        "import json, socket, struct, time\n"
        "s = socket.socket(fileno=3)\n"
        "while True:\n"
        "    n, = struct.unpack('<I', s.recv(4))\n"
        "    req = json.loads(s.recv(n))\n"
        "    if req['op'] == 'hello':\n"
        "        b = json.dumps({'ok': True, 'protocol': 1}).encode()\n"
        "        s.sendall(struct.pack('<I', len(b)) + b)\n"
        "    else:\n"
        "        time.sleep(600)\n"
    )
    h = host(UNSHUTTER_EXECUTABLE=fake_worker(tmp_path, body), UNSHUTTER_OFX_TIMEOUT="2")
    h.start("general", clip, factor=N)
    status, facts = h.render(1001, tmp_path / "x.raw")
    assert status == 1
    assert any("did not answer within 2 s" in line and "UNSHUTTER_OFX_TIMEOUT" in line for line in facts), facts


CRASH_ON_RENDER = """
import json, os, signal, socket, struct, sys
from pathlib import Path
marker = Path({marker!r})
if marker.exists() and not {always!r}:
    os.execv({real!r}, [{real!r}, *sys.argv[1:]])  # later starts: the real worker
marker.touch()
s = socket.socket(fileno=3)
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
while True:
    n, = struct.unpack("<I", recv(4))
    req = json.loads(recv(n))
    if req["op"] != "hello":
        os.kill(os.getpid(), signal.SIGKILL)  # dies in the middle of a render
    b = json.dumps({{"ok": True, "protocol": 1}}).encode()
    s.sendall(struct.pack("<I", len(b)) + b)
"""


def test_worker_dying_mid_render_is_restarted(host, clip, cli_render, tmp_path: Path) -> None:
    from tests.ofx.conftest import unshutter_executable

    ref = cli_render("--factor", str(N))
    exe = fake_worker(
        tmp_path, CRASH_ON_RENDER.format(marker=str(tmp_path / "crashed"), real=unshutter_executable(), always=False)
    )
    h = host(UNSHUTTER_EXECUTABLE=exe)
    h.start("general", clip, factor=N)
    status, facts = h.render(1005, tmp_path / "x.raw")  # the first worker dies; a new one renders
    assert status == 0, (facts, h.stderr[-10:])
    assert (tmp_path / "crashed").exists()
    np.testing.assert_allclose(read_raw(tmp_path / "x.raw")[..., :3], ref[1005], atol=1e-5)


def test_worker_that_always_dies_fails_the_render(host, clip, tmp_path: Path) -> None:
    exe = fake_worker(
        tmp_path, CRASH_ON_RENDER.format(marker=str(tmp_path / "crashed"), real="/bin/false", always=True)
    )
    h = host(UNSHUTTER_EXECUTABLE=exe)
    h.start("general", clip, factor=N)
    for t in (1001, 1002):
        status, facts = h.render(t, tmp_path / "x.raw")
        assert status == 1
        msg = [line for line in facts if line.startswith("persistent_message")]
        assert msg and "killed by signal 9" in msg[0] and "again" in msg[0], facts
    assert "images_outstanding 0" in h.ok("stats")


def test_host_abort_skips_the_render(host, clip, tmp_path: Path) -> None:
    h = host()
    h.start("general", clip, factor=N)
    h.ok("abort_after 0")
    t0 = time.monotonic()
    status, facts = h.render(1001, tmp_path / "x.raw")
    assert status == 0 and time.monotonic() - t0 < 5  # aborted renders return at once; the host discards them
    h.ok("abort_after -1")
    status, facts = h.render(1001, tmp_path / "y.raw")
    assert status == 0 and read_raw(tmp_path / "y.raw")[..., :3].max() > 0.05


def test_bad_override_file_fails_with_message_and_the_next_render_works(host, clip, cli_render, tmp_path: Path) -> None:
    ref = cli_render("--factor", str(N))
    ov = tmp_path / "shot.overrides.yaml"
    ov.write_text("regions: [[[\n")  # not YAML
    h = host()
    h.start("general", clip, factor=N, overrideFile=str(ov))
    status, facts = h.render(1004, tmp_path / "x.raw")
    assert status == 1
    msg = [line for line in facts if line.startswith("persistent_message OfxMessageError")]
    assert msg and str(ov) in msg[0] and "frame 1002" in msg[0], facts
    worker = h.children()
    ov.write_text("version: 1\n")  # fixed in place: an override file with nothing in it
    status, facts = h.render(1004, tmp_path / "y.raw")
    assert status == 0, facts
    assert "persistent_message_cleared" in facts  # the error goes away once the render works
    assert h.children() == worker  # a bad file is the render's error, not the worker's: it keeps running
    np.testing.assert_allclose(read_raw(tmp_path / "y.raw")[..., :3], ref[1004], atol=1e-5)


@pytest.mark.parametrize("message,progress", [(0, 0), (1, 1)])
def test_hosts_with_older_or_no_message_and_progress_suites(
    host, clip, cli_render, tmp_path: Path, message: int, progress: int
) -> None:
    """Without the v2 suites the plugin uses v1 (a plain message, v1 progress); without any it stays quiet."""
    ref = cli_render("--factor", str(N))
    bad = host(UNSHUTTER_EXECUTABLE=str(tmp_path / "no-such-unshutter"))
    bad.ok(f"suites message={message} progress={progress}")
    bad.start("general", clip, factor=N)
    status, facts = bad.render(1001, tmp_path / "x.raw")
    assert status == 1  # kOfxStatFailed, with or without a suite to say why
    assert not any(line.startswith("persistent_message") for line in facts), facts
    said = [line for line in facts if line.startswith("message OfxMessageError unshutter.render")]
    if message:
        assert said and "UNSHUTTER_EXECUTABLE" in said[0], facts
    else:
        assert said == [] and bad.wait_stderr("Unshutter worker not found")  # the console still has it
    assert "images_outstanding 0" in bad.ok("stats")

    good = host()
    good.ok(f"suites message={message} progress={progress}")
    good.start("general", clip, factor=N)
    status, facts = good.render(1005, tmp_path / "y.raw")
    assert status == 0, facts
    np.testing.assert_allclose(read_raw(tmp_path / "y.raw")[..., :3], ref[1005], atol=1e-5)
    calls = good.ok("stats")
    progress_calls = int(next(line for line in calls if line.startswith("progress_calls")).split()[1])
    assert (progress_calls > 0) == bool(progress), calls


def test_worker_found_through_the_bundle_and_host_python_kept_out(host, clip, cli_render, tmp_path: Path) -> None:
    """No UNSHUTTER_EXECUTABLE, no unshutter on PATH: the bundle's Resources file names the worker; the host's
    PYTHONPATH (here one that breaks numpy) does not reach it unless UNSHUTTER_KEEP_PYTHONPATH is set."""
    import shutil

    from tests.ofx.conftest import unshutter_executable

    ref = cli_render("--factor", str(N))
    bundle = tmp_path / "plugins" / "Unshutter.ofx.bundle"
    shutil.copytree(BUNDLE, bundle)
    binary = bundle / BINARY.relative_to(BUNDLE)
    resources = bundle / "Contents" / "Resources" / "unshutter-executable.txt"
    resources.write_text(unshutter_executable() + "\n")
    host_python = tmp_path / "host-python"
    (host_python / "numpy").mkdir(parents=True)
    (host_python / "numpy" / "__init__.py").write_text("raise ImportError('the host application numpy')\n")
    env = {"UNSHUTTER_EXECUTABLE": "", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(host_python)}

    h = host(**env)
    h.start("general", clip, binary=binary, factor=N)
    status, facts = h.render(1004, tmp_path / "x.raw")
    assert status == 0, (facts, h.stderr[-10:])
    np.testing.assert_allclose(read_raw(tmp_path / "x.raw")[..., :3], ref[1004], atol=1e-5)

    kept = host(**env, UNSHUTTER_KEEP_PYTHONPATH="1")
    kept.start("general", clip, binary=binary, factor=N)
    status, facts = kept.render(1004, tmp_path / "y.raw")
    assert status == 1
    assert any("exited with status" in line and "while starting" in line for line in facts), facts
    assert kept.wait_stderr("the host application numpy")

    resources.write_text(str(tmp_path / "moved" / "unshutter") + "\n")  # a bundle copied without editing it
    gone = host(**env)
    gone.start("general", clip, binary=binary, factor=N)
    status, facts = gone.render(1004, tmp_path / "z.raw")
    assert status == 1
    msg = [line for line in facts if line.startswith("persistent_message OfxMessageError")]
    assert msg and str(resources) in msg[0] and str(tmp_path / "moved") in msg[0], facts
    assert "unshutter on PATH" in msg[0] and "UNSHUTTER_EXECUTABLE" in msg[0]


AW, AH = 480, 320  # big enough for several 176 px tiles
TILES = len(tile_spans(AH, 176)) * len(tile_spans(AW, 176))  # the frame's 176 px tiles: 3 rows of 5


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import textured_photo
    from tests.ofx.conftest import Clip
    from unshutter.sample import render_clip

    folder = tmp_path_factory.mktemp("ofx_big")
    frames = render_clip(textured_photo(400, 640), 3, AW, AH, speed=5.0, samples=4, gain=0.9)
    for i, fr in enumerate(frames):
        np.concatenate([fr, np.ones((AH, AW, 1), np.float32)], axis=-1).tofile(folder / f"big.{FIRST + i}.raw")
    return Clip(folder, "", str(folder / "big.%d.raw"), frames)


def progress_values(h) -> list[float]:
    """The host progress values of the harness's last render."""
    (line,) = [line for line in h.ok("stats") if line.startswith("progress_values")]
    return [float(v) for v in line.partition(" ")[2].split(",") if v]


def test_progress_bar_follows_the_tiles(host, big_clip, tmp_path: Path) -> None:
    """While the worker decomposes, the plugin moves the host's progress bar in whole-tile steps from 0.05 to
    0.95 and ends at 1.0; a cached sub-frame has no tiles and goes straight to the end."""
    h = host()
    # follow 0: one decomposition per request (nothing blends with a neighbour's), as the node alone makes it
    h.start("general", big_clip, frames=(FIRST, FIRST + 2), size=(AW, AH), factor=N, tileSize=176, followMotion=0.0)
    assert h.render(FIRST, tmp_path / "a.raw")[0] == 0
    values = progress_values(h)
    steps = [0.05 + 0.9 * d / TILES for d in range(TILES + 1)]
    assert values[0] == pytest.approx(0.05) and values[-1] == 1.0, values
    assert values == sorted(values), values
    assert all(min(abs(v - s) for s in steps) < 1e-6 for v in values[:-1]), values
    assert values[-2] == pytest.approx(0.95), values
    inside = {round(v, 6) for v in values if 0.051 < v < 0.949}
    assert len(inside) >= TILES // 2, values  # the bar moved during the decomposition, not only at its end
    assert h.render(FIRST + 1, tmp_path / "b.raw")[0] == 0  # sub-frame 1 of the same source frame: cached
    assert sorted(set(progress_values(h))) == [0.05, 0.95, 1.0]
    assert "progress_cancels 0" in h.ok("stats")


@pytest.mark.parametrize("how", ["abort_at_progress", "cancel_at_progress"])
def test_host_abort_or_cancel_during_a_render_stops_the_worker_between_tiles(
    host, big_clip, tmp_path: Path, how: str
) -> None:
    """The host aborts (abort() answers true) or the user cancels the progress bar (progressUpdate answers
    kOfxStatReplyNo) once the worker has reported its first tile: the plugin raises the abort flag, the worker
    stops at the next tile and stays up, and the host gets kOfxStatOK with nothing written (it discards aborted
    renders). The worker's reply says how many tiles it decomposed: at least one, fewer than the frame has.
    Triggered by progress, not by a clock, which a loaded machine makes flaky."""
    from unshutter.node import Node, NodeParams

    h = host(UNSHUTTER_OFX_VERBOSE="1")
    # follow 0: one decomposition per request (nothing blends with a neighbour's), as the node alone makes it
    h.start("general", big_clip, frames=(FIRST, FIRST + 2), size=(AW, AH), factor=N, tileSize=176, followMotion=0.0)
    assert h.render(FIRST, tmp_path / "warm.raw")[0] == 0  # starts the worker and loads the model
    (pid,) = h.children()

    h.ok(f"{how} {0.05 + 0.5 * 0.9 / TILES!r}")  # reached when the worker reports its first tile
    status, facts = h.render(FIRST + N + 1, tmp_path / "aborted.raw")  # source frame 1002, not decomposed yet
    assert status == 0, facts
    assert not read_raw(tmp_path / "aborted.raw", AW, AH).any()  # the plugin wrote nothing into the output
    said = 'aborted by the worker: {"ok": false, "kind": "aborted"'
    assert h.wait_stderr(said), h.stderr[-5:]
    (line,) = [line for line in h.stderr if said in line]
    reply = json.loads(line.split("aborted by the worker: ", 1)[1])
    assert reply["tiles"] == TILES and 1 <= reply["tiles_done"] < reply["tiles"], reply  # stopped before the last
    assert h.children() == [pid]  # the worker honoured the flag: nobody had to kill it
    values = progress_values(h)
    assert 1.0 not in values and max(values) < 0.95, values  # the bar never claimed the frame done
    cancels = int(next(x for x in h.ok("stats") if x.startswith("progress_cancels")).split()[1])
    assert cancels == (how == "cancel_at_progress")  # the plugin stops updating a cancelled bar

    h.ok(f"{how} -1")
    status, facts = h.render(FIRST + N + 1, tmp_path / "done.raw")  # the aborted frame was not cached half-done
    assert status == 0, facts
    done = f"= frame {FIRST + 1} sub-frame 1: "
    assert h.wait_stderr(done), h.stderr[-5:]
    assert [line for line in h.stderr if done in line and '"cached": false' in line], h.stderr[-5:]  # decomposed anew
    assert progress_values(h)[-1] == 1.0
    want = Node(NodeParams(factor=N, tile=176, follow=0.0)).process(FIRST + 1, *(big_clip.frames[j] for j in (1, 0, 2)))
    np.testing.assert_allclose(read_raw(tmp_path / "done.raw", AW, AH)[..., :3], want.subframes[1], atol=1e-5)


def test_unsupported_depth_is_refused_with_a_message(host, clip, tmp_path: Path) -> None:
    """A depth the plugin cannot read is kOfxStatErrUnsupported with a message naming it, not a silent failure."""
    h = host()
    h.start("general", clip, depth="none", factor=N)
    status, facts = h.render(1004, tmp_path / "x.raw")
    assert status == 5, facts  # kOfxStatErrUnsupported
    msg = [line for line in facts if line.startswith("persistent_message OfxMessageError")]
    assert msg and "unsupported output image" in msg[0] and "OfxBitDepthNone" in msg[0], facts
    assert not (tmp_path / "x.raw").exists() or not read_raw(tmp_path / "x.raw").any()


# ------------------------------------------------------------------ what the host lends the plugin
def test_worker_does_not_inherit_the_hosts_descriptors(host, clip, tmp_path: Path) -> None:
    """Descriptors the host keeps without close-on-exec (a locked file, a listening socket, a pipe) stay out of the
    worker: holding them, it would keep the host's locks and ports alive after the host exits."""
    h = host()
    held = [int(line.split()[1]) for line in h.ok(f"hold_fds {tmp_path / 'host.lock'}") if line.startswith("held ")]
    assert len(held) == 4
    targets = {os.readlink(f"/proc/{h.proc.pid}/fd/{fd}") for fd in held}
    h.start("general", clip, factor=N)
    status, facts = h.render(1001, tmp_path / "a.raw")
    assert status == 0, facts
    (pid,) = h.children()
    inherited = {}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            inherited[int(fd.name)] = os.readlink(fd)
        except OSError:  # closed while listed
            pass
    assert {0, 1, 2, 3} <= set(inherited)  # /dev/null, the host's stderr twice, the socket
    assert not targets & set(inherited.values()), (targets, inherited)


# Never answers; ends with the host. Once running it leaves `up-<host pid>` beside itself: from then on the host's
# spawn of it is over (until its exec the spawned child shares the host's memory, the segment's mapping with it).
SILENT_WORKER = (
    "import os, pathlib, socket\n"
    "pathlib.Path(__file__).with_name(f'up-{os.getppid()}').touch()\n"
    "s = socket.socket(fileno=3)\n"
    "while s.recv(65536):\n"
    "    pass\n"
)


def test_shared_memory_of_a_host_killed_mid_render_is_swept_on_the_next_load(host, clip, tmp_path: Path) -> None:
    """A host killed while a render waits for the worker cannot unlink that render's /dev/shm segment; the next
    plugin load, in any host process, removes it and leaves the segments of hosts still rendering alone.

    Each host is killed only once its worker runs: killed while it spawns the worker, the spawned child holds the
    host's memory (and so the segment's lock) until its exec, and only a load after that exec can sweep it."""
    from tests.ofx.conftest import Host

    def segments(pid: int) -> list[Path]:
        return sorted(Path("/dev/shm").glob(f"unshutter-ofx-{pid}-*"))

    def waiting(h: Host) -> bool:
        """Whether the host's render made its segment and now waits for a worker that runs."""
        return bool(segments(h.proc.pid)) and (tmp_path / f"up-{h.proc.pid}").exists()

    exe = fake_worker(tmp_path, SILENT_WORKER)
    crashed, live = host(UNSHUTTER_EXECUTABLE=exe), host(UNSHUTTER_EXECUTABLE=exe)
    for h in (crashed, live):
        h.start("general", clip, factor=N)
        h.send(f"render 1001 {tmp_path / 'x.raw'} 1.0")  # waits for the worker's hello (120 s)
    deadline = time.monotonic() + 20
    while not (waiting(crashed) and waiting(live)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting(crashed) and waiting(live)
    live_segments = segments(live.proc.pid)

    def kill(h: Host) -> int:
        h.proc.kill()
        h.proc.wait()
        return h.proc.pid

    dead = kill(crashed)
    assert segments(dead)  # nothing could remove it yet
    host().ok(f"load {BINARY}")
    assert segments(dead) == []
    assert segments(live.proc.pid) == live_segments  # its host still renders: left alone
    dead = kill(live)
    host().ok(f"load {BINARY}")
    assert segments(dead) == []


def test_abandoned_segment_whose_pid_was_reused_is_swept_once_unlocked_and_old(host, tmp_path: Path) -> None:
    """A crashed host's pid can be reused by an unrelated process: the segment is still abandoned when
    nobody holds its lock and it is older than the grace period; a fresh one, or a locked one, stays."""
    import fcntl

    other = subprocess.Popen(["sleep", "120"])  # an unrelated live process now holding the pid
    try:
        made = []
        for tag in ("old", "fresh", "locked"):
            p = Path("/dev/shm") / f"unshutter-ofx-{other.pid}-0-{tag}"
            p.write_bytes(b"\0" * 4096)
            made.append(p)
        old, fresh, locked = made
        hour_ago = time.time() - 3600
        os.utime(old, (hour_ago, hour_ago))
        os.utime(locked, (hour_ago, hour_ago))
        holder = open(locked, "rb")
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live owner (in any pid namespace) holds its lock
        try:
            host().ok(f"load {BINARY}")
            assert not old.exists()
            assert fresh.exists() and locked.exists()
        finally:
            holder.close()
    finally:
        other.kill()
        other.wait()
        for p in made:
            p.unlink(missing_ok=True)
