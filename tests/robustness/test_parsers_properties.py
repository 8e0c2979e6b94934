"""Property tests of the parsers: any text, YAML or request either parses or gives a one-line UnshutterError.

Frame ranges, sequence specs, batch specs and the OFX worker's messages are
fed generated input; nothing else may escape (no traceback, no hang), and
what parses means what it says.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import tempfile
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from unshutter.cli.worker import Worker, serve  # noqa: E402
from unshutter.errors import UnshutterError  # noqa: E402
from unshutter.farm.spec import load_spec  # noqa: E402
from unshutter.io.sequence import parse_pattern  # noqa: E402
from unshutter.pipeline import parse_frame_range  # noqa: E402

EXIT_CODES = {1, 2, 3, 4, 5, 6}


def one_line(exc: UnshutterError) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg, repr(msg)
    assert exc.exit_code in EXIT_CODES
    return msg


# ------------------------------------------------------------------ frame ranges and sequence specs
range_text = st.one_of(
    st.text(max_size=20),
    st.builds(
        lambda a, b, sep: f"{a}{sep}{b}",
        st.integers(-(10**6), 10**6),
        st.integers(-(10**6), 10**6),
        st.sampled_from(["-", " - ", "--", ":", ","]),
    ),
)


@given(range_text)
def test_frame_range_parses_or_refuses(text: str) -> None:
    try:
        a, b = parse_frame_range(text)
    except UnshutterError as exc:
        assert exc.exit_code == 2
        one_line(exc)
        return
    assert a <= b


@given(st.integers(-(10**5), 10**5), st.integers(-(10**5), 10**5))
def test_frame_range_means_what_it_says(a: int, b: int) -> None:
    if a <= b:
        assert parse_frame_range(f"{a}-{b}") == (a, b)
    else:
        with pytest.raises(UnshutterError):
            parse_frame_range(f"{a}-{b}")


spec_text = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda pre, rng, pad, ext: f"{pre}{rng}{pad}{ext}",
        st.text(alphabet="abc._-v1", max_size=8),
        st.one_of(st.just(""), st.builds(lambda a, b: f"{a}-{b}", st.integers(-50, 2000), st.integers(-50, 2000))),
        st.sampled_from(["#", "####", "@@", "%04d", "%d", "$F4", "%0d", "##@", ""]),
        st.sampled_from([".exr", ".png", "", ".tar.gz", "."]),
    ),
)


@given(spec_text)
def test_sequence_spec_parses_or_refuses(spec: str) -> None:
    try:
        pat, frames = parse_pattern(spec)
    except UnshutterError as exc:
        one_line(exc)
        return
    assert pat.padding >= 0
    if frames is not None:
        assert frames == sorted(frames)  # a range never runs backwards


@given(st.integers(0, 3000), st.integers(0, 3000))
def test_range_in_a_sequence_spec(a: int, b: int) -> None:
    spec = f"shot.{a}-{b}#.exr"
    if a <= b:
        pat, frames = parse_pattern(spec)
        assert frames == list(range(a, b + 1)) and (pat.prefix, pat.suffix) == ("shot.", ".exr")
    else:
        with pytest.raises(UnshutterError, match="ends before it starts"):
            parse_pattern(spec)


# ------------------------------------------------------------------ batch specs
number = st.one_of(
    st.integers(-(10**9), 10**9), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none()
)
anything = st.recursive(
    st.one_of(number, st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
shot = st.fixed_dictionaries(
    {
        "name": st.one_of(st.sampled_from(["a", "b", "hero.1"]), st.text(max_size=10)),
        "input": st.sampled_from(["in/a.####.exr", "in/b.%04d.exr", "clip.mov", "in/a.1001-1003#.exr", ""]),
        "output": st.sampled_from(["out/a.####.exr", "out/", "out/a.mp4", "in/a.####.exr", "out/b.####.png"]),
    },
    optional={
        "factor": st.one_of(st.integers(-2, 20), number),
        "shutter": number,
        "follow": number,
        "guidance": st.sampled_from(["neighbors", "left", "sideways"]),
        "chunk": number,
        "frames": st.one_of(st.text(max_size=10), st.integers()),
        "timing": st.sampled_from(["even", "x"]),
        "extra": anything,
    },
)
spec_doc = st.one_of(
    anything,
    st.fixed_dictionaries(
        {"shots": st.lists(shot, max_size=3)},
        optional={"chunk": number, "name": st.text(max_size=10), "device": st.text(max_size=5)},
    ),
)


@given(spec_doc)
def test_batch_spec_loads_or_refuses(doc: object) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "reel.yaml"
        try:
            path.write_text(yaml.safe_dump(doc, allow_unicode=True))
        except yaml.YAMLError:
            return
        try:
            spec = load_spec(path)
        except UnshutterError as exc:
            assert "reel.yaml" in one_line(exc)
            return
        for s in spec.shots:  # what the farm accepts, run accepts
            s.params().validate()
            assert math.isfinite(s.shutter) and math.isfinite(s.follow) and 1 <= s.factor <= 16 and s.chunk >= 1


@given(st.binary(max_size=200))
def test_batch_spec_of_any_bytes_loads_or_refuses(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "reel.yaml"
        path.write_bytes(data)
        try:
            load_spec(path)
        except UnshutterError as exc:
            assert "reel.yaml" in one_line(exc)


# ------------------------------------------------------------------ worker messages
params = st.fixed_dictionaries(
    {},
    optional={
        "factor": number,
        "shutter": number,
        "guidance": st.one_of(st.sampled_from(["none", "left", "up"]), number),
        "reverse": number,
        "overrides": st.one_of(st.none(), st.text(max_size=8)),
        "tile": number,
        "quality": st.sampled_from(["full", "draft", "best"]),
        "threshold": number,
        "colorspace": anything,
        "render_scale": anything,
        "motion": anything,
    },
)
request = st.one_of(
    anything,
    st.fixed_dictionaries(
        {"op": st.sampled_from(["render", "hello", "purge", "nope"])},
        optional={
            "shm": st.one_of(st.text(max_size=8), number),
            "width": number,
            "height": number,
            "frame": number,
            "k": number,
            "cur": number,
            "prev": number,
            "next": number,
            "matte": number,
            "output": number,
            "matte_direction": anything,
            "matte_motion": anything,
            "next2": number,
            "next_matte": number,
            "params": st.one_of(params, anything),
        },
    ),
)


@pytest.fixture(scope="module")
def worker() -> Worker:
    return Worker(None, "cpu", 1 << 20)


@given(req=request)
def test_worker_answers_any_request_in_one_line(worker: Worker, req: object) -> None:
    reply = worker.handle(req) if isinstance(req, dict) else worker.handle({"op": req})
    assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool)
    json.dumps(reply)  # it can be sent
    if not reply["ok"]:
        assert reply["kind"] in ("error", "aborted")
        assert reply["error"] and "\n" not in reply["error"]
        assert not reply["error"].startswith("internal error"), reply["error"]


@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.builds(lambda b: struct.pack("<I", len(b)) + b, st.binary(max_size=40)),
            st.builds(lambda o: (lambda b: struct.pack("<I", len(b)) + b)(json.dumps(o).encode()), anything),
        ),
        max_size=4,
    )
)
def test_worker_stream_survives_any_bytes(worker: Worker, chunks: list[bytes]) -> None:
    a, b = socket.socketpair()
    with a:
        a.sendall(b"".join(chunks))
        a.shutdown(socket.SHUT_WR)
        assert serve(b, worker) is False  # the stream ends; the worker neither raises nor quits
