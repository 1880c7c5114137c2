"""Per-stream random numbers: SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators", OOPSLA).

Every random stream (a Poisson source, one neuron's external drive) owns one uint64
state, so draws never depend on event order.  Streams are seeded by hashing
(seed, stream kind, stream id) through the SplitMix64 finaliser.  Streams are
segments of one Weyl sequence of period 2**64 at hashed offsets; for 10**6 streams
of 10**6 draws each the chance that two segments overlap is about 10**-7.
"""
import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def step(s):
    """Advance a stream state (uint64) by one step: returns (new state, uniform in (0, 1]).

    Scalar in, scalar out: hot loops call this instead of ``next_uniform`` because a
    Numba call with an array argument pays atomic reference counting."""
    s = s + _GOLDEN
    return s, (np.float64(_mix(s) >> _S11) + 1.0) * _INV53


@njit(cache=True)
def next_uniform(state, i):
    """Uniform draw in (0, 1] from stream i of ``state`` (uint64 array); advances it."""
    s = state[i] + _GOLDEN
    state[i] = s
    return (np.float64(_mix(s) >> _S11) + 1.0) * _INV53


@njit(cache=True)
def next_exponential(state, i, rate):
    """Exponential draw with the given rate (1/ms) from stream i; advances it."""
    return -np.log(next_uniform(state, i)) / rate


@njit(cache=True)
def seed_streams(seed, kind, n):
    """States of n independent streams for one (seed, kind) pair."""
    out = np.empty(n, np.uint64)
    base = _mix(np.uint64(seed) * _GOLDEN + np.uint64(kind) + _GOLDEN)
    for i in range(n):
        out[i] = _mix(base ^ _mix(np.uint64(i) + _GOLDEN))
    return out
