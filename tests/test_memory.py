"""Large buffers go back to the system when freed (the 4K peak memory)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = """
import numpy as np
from unshutter import memory

def rss():
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS:')) // 1024

if {tuned}:
    assert memory.return_large_buffers() and memory.return_large_buffers()
# a big buffer that sets glibc's dynamic threshold, then 20 MB buffers freed while a small one stays behind them
big = np.ones(30 << 18, np.float32); del big
before = rss()
keep = []
for _ in range(12):
    a = np.ones(5 << 20, np.float32)
    keep.append(np.ones(16, np.float32))
    del a
print(rss() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_freed_large_buffers_leave_the_process() -> None:
    """Tuned, the freed 20 MB buffers leave the process. (Untuned, glibc usually keeps one in its heap,
    +20 MB, but not in every environment: in one full-suite run it returned it too, so the untuned
    process is reported, not asserted on.)"""
    got = {}
    for tuned in (False, True):
        out = subprocess.run([sys.executable, "-c", CHILD.format(tuned=tuned)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        got[tuned] = int(out.stdout.split()[-1])
    assert got[True] < 8, got  # MB kept after the loop, against ~20 untuned here
