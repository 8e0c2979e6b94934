"""``unshutter bench native`` runs on a small frame and prints what it promises."""

from __future__ import annotations

import argparse
import json

import pytest

import unshutter.kernels as K
from unshutter.bench import native as bench


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    return p.parse_args(list(argv))


@pytest.fixture(autouse=True)
def needs_native():
    if K.BACKEND != "native":
        pytest.skip("unshutter._native not built or disabled")


def test_json_lines(capsys):
    assert bench.run(parse("--size", "64x48", "--repeat", "1", "--json")) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kernel"] for r in rows] == list(bench._cases(8, 8, 2, 2))
    for r in rows:
        assert set(r) == {"kernel", "native_s", "numpy_s", "speedup"}
        assert r["native_s"] > 0 and r["numpy_s"] > 0 and r["speedup"] > 0


def test_table_and_subset(capsys):
    assert bench.run(parse("--size", "33x17", "--repeat", "1", "--kernels", "srgb_encode,reblur_project")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("native kernels vs NumPy reference at 33x17")
    assert [line.split()[0] for line in out[2:]] == ["srgb_encode", "reblur_project"]


@pytest.mark.parametrize("argv", [("--size", "big"), ("--kernels", "nope"), ("--factor", "0")])
def test_bad_arguments(capsys, argv):
    assert bench.run(parse(*argv, "--size", "8x8") if argv[0] != "--size" else parse(*argv)) == 2
    assert "unshutter bench native:" in capsys.readouterr().out


def test_refuses_without_native(monkeypatch, capsys):
    monkeypatch.setattr(K, "BACKEND", "numpy")
    assert bench.run(parse("--size", "8x8")) == 1
    assert "unavailable" in capsys.readouterr().out
