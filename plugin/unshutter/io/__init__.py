"""Clip input and output: image sequences (OpenImageIO) and movies (PyAV)."""
