"""Input checks shared by every kernel backend (NumPy, native, CuPy).

The public functions in :mod:`unshutter.kernels` call these before handing
arrays to a kernel that trusts its inputs. Wrong type or dtype raises
``TypeError``; wrong number of dimensions, shape, layout, a read-only output
or an impossible parameter raises ``ValueError``. Nothing is copied.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def is_cupy(a: Any) -> bool:
    """True for a CuPy array, without importing CuPy."""
    return type(a).__module__.split(".", 1)[0] == "cupy"


def array(
    fn: str,
    name: str,
    a: Any,
    *,
    layout: str | None = None,
    ndim: int | None = None,
    last: int | None = None,
    dtype: type = np.float32,
    writeable: bool = False,
    gpu: bool = False,
) -> None:
    """Check that ``a`` is a C-contiguous array a kernel can use in place.

    Args:
        fn, name: the function and argument, for the message.
        layout: the expected shape in words (``"[H, W, 2]"``).
        ndim: required number of dimensions (None: any).
        last: required size of the last axis (None: any).
        dtype: required dtype (float32 unless told).
        writeable: the kernel writes into ``a``.
        gpu: ``a`` must be a CuPy array instead of a NumPy one.
    """
    where = f"{fn}: {name}"
    if gpu:
        if not is_cupy(a):
            raise TypeError(f"{where} must be a CuPy array like the other inputs, got {type(a).__name__}")
    elif is_cupy(a):  # kernels with a CuPy twin check ``same_kind`` first: this one has none
        raise TypeError(_host_only(fn, name))
    elif not isinstance(a, np.ndarray):
        raise TypeError(f"{where} must be a NumPy array, got {type(a).__name__}")
    if a.dtype != np.dtype(dtype):
        raise TypeError(f"{where} must be {np.dtype(dtype).name} (native byte order), got {a.dtype}")
    shape = tuple(a.shape)
    want = f" {layout}" if layout else ""
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{where} must have {ndim} dimensions{want}, got shape {shape}")
    if last is not None and (a.ndim == 0 or shape[-1] != last):
        raise ValueError(f"{where} must be{want} with last axis {last}, got shape {shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{where} must be C-contiguous (np.ascontiguousarray), got strides {a.strides}")
    if not gpu:
        if not a.flags.aligned:
            raise ValueError(f"{where} is not aligned to its dtype")
        if writeable and not a.flags.writeable:
            raise ValueError(f"{where} is read-only but is written in place")


def _host_only(fn: str, name: str) -> str:
    return f"{fn}: {name} must be a NumPy array, got a CuPy array ({fn} runs on the host only; cupy.asnumpy copies it)"


def host(fn: str, **arrays: Any) -> None:
    """TypeError for a CuPy array handed to a kernel without a CuPy twin that does not go through
    :func:`array`: a kernel never copies a device array to the host behind its caller's back."""
    for name, a in arrays.items():
        if is_cupy(a):
            raise TypeError(_host_only(fn, name))


def same_kind(fn: str, *arrays: Any) -> bool:
    """True if all arrays are CuPy arrays, False if none is; TypeError if mixed."""
    kinds = {is_cupy(a) for a in arrays}
    if len(kinds) > 1:
        raise TypeError(f"{fn}: inputs mix NumPy and CuPy arrays; move them to one device")
    return kinds.pop()


def same_shape(fn: str, what: str, *shapes: tuple[int, ...]) -> None:
    """ValueError unless all shapes are equal."""
    if len({tuple(s) for s in shapes}) > 1:
        raise ValueError(f"{fn}: {what} must agree, got shapes {', '.join(str(tuple(s)) for s in shapes)}")


def integer(fn: str, name: str, v: Any, minimum: int | None = None) -> int:
    """``v`` as a Python int (TypeError if not integral, ValueError if below ``minimum``)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an integer, got {type(v).__name__}")
    v = int(v)
    if minimum is not None and v < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {v}")
    return v


def real(fn: str, name: str, v: Any) -> float:
    """``v`` as a Python float (TypeError if not a real number)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(v).__name__}")
    return float(v)
