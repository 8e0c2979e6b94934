"""Benchmarks that print numbers: quality, native kernels, speed."""
