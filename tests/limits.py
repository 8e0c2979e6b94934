"""How long a test waits for a subprocess before it calls it hung."""

HANG = 600
"""Seconds: the limit on a subprocess that takes seconds on a quiet machine (Python and the engine's libraries
starting, a small file written or refused, a killed process exiting). It only ends a hang, so a test that passes
never waits for it; it is far above what the slowest start-up needs on a loaded 2-core machine (tens of seconds)
and above a test process suspended for a while, whose clock runs on meanwhile (60 s failed such runs)."""
