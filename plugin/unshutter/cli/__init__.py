"""Unshutter cli."""
