"""The OpenFX plugin's JSON writer (ofx_bridge/src/json_lite.hpp): what it writes Python's json reads back exactly."""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.limits import HANG

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = r"""
#include "json_lite.hpp"
#include <cstdio>
#include <cstdlib>
#include <string>
using namespace unshutter;
// argv: S text | N hex-double | I integer | B 0/1 | Z (null), nested in an object {"values": [...]}
int main(int argc, char **argv) {
    JsonWriter w;
    w.begin_object().key("op").str("test").key("values").begin_array();
    for (int i = 1; i + 1 < argc || (i < argc && argv[i][0] == 'Z'); i += 2) {
        const char kind = argv[i][0];
        if (kind == 'Z') { w.null(); --i; continue; }
        const char *v = argv[i + 1];
        if (kind == 'S') w.str(v);
        else if (kind == 'N') w.number(std::strtod(v, nullptr));
        else if (kind == 'I') w.integer(std::strtoll(v, nullptr, 10));
        else if (kind == 'B') w.boolean(v[0] == '1');
    }
    w.end_array().key("empty").begin_object().end_object().key("pair").begin_array().integer(1).begin_array()
        .end_array().end_array().end_object();
    std::fputs(w.text().c_str(), stdout);
    return 0;
}
"""


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    folder = tmp_path_factory.mktemp("json")
    (folder / "main.cpp").write_text(PROGRAM)
    exe = folder / "json_writer"
    subprocess.run(
        [
            cxx,
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(ROOT / "ofx_bridge" / "src"),
            str(folder / "main.cpp"),
            "-o",
            str(exe),
        ],
        check=True,
        timeout=HANG,
    )
    return exe


def write(exe: Path, *args: str) -> tuple[str, dict]:
    text = subprocess.run([str(exe), *args], capture_output=True, text=True, check=True).stdout
    return text, json.loads(text)


def test_strings_are_escaped_and_read_back(writer: Path) -> None:
    strings = [
        "plain",
        'a "quoted" word',
        "back\\slash",
        "tab\tnew\nline\rret",
        "\x01\x1f bell\x07",
        "/shots/Ünïcode ✓/file.yaml",
        "",
        '{"not": [json]}',
    ]
    args = [a for s in strings for a in ("S", s)]
    text, doc = write(writer, *args)
    assert doc["values"] == strings
    assert "\n" not in text and "\t" not in text  # control characters only as escapes


def test_numbers_read_back_as_the_same_double(writer: Path) -> None:
    rng = random.Random(7)
    values = [0.0, -0.0, 1.0, 180.0, 0.1, 0.8, 1 / 3, 2.5e-308, 5e-324, 1.7976931348623157e308, -123.456, 1e21, 1e-7]
    values += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(200)]
    values = [v for v in values if math.isfinite(v)]
    args = [a for v in values for a in ("N", v.hex())]
    text, doc = write(writer, *args)
    got = doc["values"]
    assert len(got) == len(values)
    for want, have in zip(values, got):
        assert float(have) == want and math.copysign(1.0, float(have)) == math.copysign(1.0, want), (want, have)
    assert '"values": [0, -0.0, 1, 180, 0.1, 0.8, 0.3333333333333333, 2.5e-308' in text  # shortest of %.15g..%.17g


def test_non_finite_numbers_become_null_and_other_scalars(writer: Path) -> None:
    _, doc = write(writer, "N", "nan", "N", "inf", "N", "-inf", "I", "-9223372036854775807", "B", "1", "B", "0", "Z")
    assert doc["values"] == [None, None, None, -9223372036854775807, True, False, None]
    assert doc["op"] == "test" and doc["empty"] == {} and doc["pair"] == [1, []]


def test_separators_match_the_worker_protocol(writer: Path) -> None:
    text, _ = write(writer, "I", "1", "I", "2")
    assert text == '{"op": "test", "values": [1, 2], "empty": {}, "pair": [1, []]}'
