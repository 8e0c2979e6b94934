"""Shipped decomposer models (package data of unshutter)."""
