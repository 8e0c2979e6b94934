"""Unshutter farm."""
