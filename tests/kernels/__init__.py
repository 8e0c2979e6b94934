"""Tests of unshutter.kernels: native/CuPy/NumPy agreement, input checks, bench."""
