"""Unshutter io."""
