"""Unshutter train."""
