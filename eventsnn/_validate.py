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
