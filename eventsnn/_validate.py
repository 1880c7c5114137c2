"""Scalar argument checks shared by every public entry point.

Each returns the value converted to a Python scalar, or raises TypeError (wrong
kind of value) or ValueError (right kind, value not allowed) with a message that
names the argument, the value and what is allowed.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def _kind_error(name, value, what):
    return TypeError(f"{name} must be {what}, got {value!r} of type {type(value).__name__}")


def real(name, value, *, lo=None, lo_open=False, allow_inf=False, finite=True) -> float:
    """A real number; by default finite (``allow_inf`` admits +-inf, ``finite=False``
    skips the check so the caller can phrase it), optionally >= lo (> lo)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _kind_error(name, value, "a real number")
    v = float(value)
    if finite and (math.isnan(v) or (math.isinf(v) and not allow_inf)):
        allowed = "a finite number or inf" if allow_inf else "a finite number"
        raise ValueError(f"{name}={v!r} is not allowed; {name} must be {allowed}")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise ValueError(f"{name}={v!r} is not allowed; {name} must be {'>' if lo_open else '>='} {lo}")
    return v


def integer(name, value, *, lo=None, hi=None) -> int:
    """An integer (not a bool), optionally in [lo, hi]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _kind_error(name, value, "an integer")
    v = int(value)
    if lo is not None and v < lo:
        raise ValueError(f"{name}={v} is not allowed; {name} must be >= {lo}")
    if hi is not None and v > hi:
        raise ValueError(f"{name}={v} is not allowed; {name} must be <= {hi}")
    return v


def boolean(name, value) -> bool:
    """A bool (Python or NumPy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise _kind_error(name, value, "a bool")
    return bool(value)


# ------------------------------------------------------------------ memory guard
_memory_limit = None      # bytes, or None: what the machine has available


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux MemAvailable, else psutil),
    or None if neither can tell."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass                # no /proc/meminfo (not Linux): ask psutil below
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except Exception:       # psutil missing or failing: no estimate
        return None


def set_memory_limit(nbytes=None) -> None:
    """Refuse calls whose allocations are estimated to need more than ``nbytes`` bytes
    (None: the memory the machine has available when the call is made)."""
    global _memory_limit
    if nbytes is not None:
        nbytes = integer("nbytes", nbytes, lo=1)
    _memory_limit = nbytes


def memory_limit() -> int | None:
    """The limit ``check_memory`` applies now (bytes), or None if none is known."""
    return _memory_limit if _memory_limit is not None else available_memory()


def fmt_bytes(n) -> str:
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            return f"{n / f:.3g} {unit}"
    return f"{int(n)} bytes"


def check_memory(name, value, nbytes, what) -> None:
    """MemoryError naming the argument, its value and the estimate if ``nbytes`` (an
    estimate of what a call with ``name=value`` would allocate for ``what``) exceeds
    the memory limit (``set_memory_limit``; by default what the machine has
    available).  Called before allocating, so a refused call changes nothing."""
    limit = memory_limit()
    if limit is not None and nbytes > limit:
        raise MemoryError(f"{name}={value!r} needs about {fmt_bytes(nbytes)} for {what}; "
                          f"{'the limit is' if _memory_limit is not None else 'the machine has'} "
                          f"{fmt_bytes(limit)} available (eventsnn.set_memory_limit changes the limit)")
