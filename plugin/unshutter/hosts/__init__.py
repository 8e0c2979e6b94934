"""Unshutter hosts."""
