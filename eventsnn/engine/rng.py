"""Per-stream random numbers: SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators", OOPSLA).

Every random stream (a Poisson source, one neuron's external drive) owns one uint64
state, so draws never depend on event order.  Streams are seeded by hashing
(seed, stream kind, stream id) through the SplitMix64 finaliser.  Streams are
segments of one Weyl sequence of period 2**64 at hashed offsets; for 10**6 streams
of 10**6 draws each the chance that two segments overlap is about 10**-7.

Exponential draws (every Poisson inter-arrival time: sources and external drive):
``exp_step`` samples Exp(1) by the ziggurat method (Marsaglia & Tsang 2000, "The ziggurat method for generating random
variables", J. Stat. Softw. 5(8), exponential version).  The area under exp(-x) is covered
by 256 pieces of equal area v: 255 horizontal rectangles stacked on a base strip whose
part beyond x = r stands for the tail.  One 64-bit SplitMix64 output picks a piece (its
low 8 bits) and a point along it (its top 52 bits); about 97.8% of draws land in the part
of a rectangle that lies wholly under the curve and are returned after one table lookup,
one multiply and one compare, with no logarithm.  The rest go to a slow path that decides
a wedge point by the exact density test y < exp(-x) or, for the tail, adds r and draws
again (Exp(1) is memoryless: Exp(1) given > r is r + Exp(1)).  The result is exactly
Exp(1) apart from the 2**-52 grid of the uniforms and float64 rounding of the tables.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# stream kinds: every stream is seeded from (network seed, kind, index)
STREAM_SOURCES, STREAM_DRIVE, STREAM_BUILD, STREAM_INIT = 1, 2, 3, 4

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

    Scalar in, scalar out: a Numba call with an array argument pays atomic reference
    counting, so hot loops keep the state in a local."""
    s = s + _GOLDEN
    return s, (np.float64(_mix(s) >> _S11) + 1.0) * _INV53


@njit(cache=True)
def seed_streams(seed, kind, n):
    """States of n independent streams for one (seed, kind) pair."""
    out = np.empty(n, np.uint64)
    base = _mix(np.uint64(seed) * _GOLDEN + np.uint64(kind) + _GOLDEN)
    for i in range(n):
        out[i] = _mix(base ^ _mix(np.uint64(i) + _GOLDEN))
    return out


# ------------------------------------------------------------------ ziggurat Exp(1) sampler
#
# Layout (indices 0..256).  X[1] = r > X[2] > ... > X[255] > X[256] = 0 and F[i] = exp(-X[i]).
# Layer i in 1..255 is the rectangle [0, X[i]) x [F[i], F[i+1]) of area X[i] (F[i+1] - F[i]);
# its part x < X[i+1] lies under the curve, its part x >= X[i+1] is the wedge.  Layer 0 is
# the base strip [0, X[0]) x [0, F[1]) with X[0] = r + 1: its part x < r lies under the curve
# and its part x >= r has area F[1] * 1 = exp(-r), the mass of the tail x > r.  All 256
# layers have area v = exp(-r) (r + 1), so picking one uniformly and then a uniform point in
# it, keeping the point iff it lies under the curve, gives exactly the density exp(-x).
#
# r.  The layers follow from r by X[i+1] = -log(F[i] + v / X[i]); r is right when the top
# rectangle [0, X[255]) x [F[255], 1) then has area v too.  The paper's r,
# 7.69711747013104972, rounds to a float64 for which that top area is v (1 + 1.3e-13), so
# points of the top layer would come 1.3e-13 (relative) too rarely.  Any r whose top area
# with height 1 is below v can be made exact instead: raise the top edge to
# F[256] = F[255] + v / X[255] > 1, which gives the top layer area v while it still covers
# the curve (points above y = 1 always fail the wedge test).  We take the nearest such
# float64, one ulp below the paper's r (top area v (1 - 6e-14), F[256] = 1 + 4e-15).  Every
# layer's area is then v up to the float64 rounding of its F entries (at most 2.6e-14
# relative, in the mid-height layers).  The sign of a 1e-13 residual depends on the
# rounding of ~500 log/exp calls (the recursion amplifies rounding ~3000-fold); with another
# libm it may come out positive, and then max() keeps the top edge at 1 and the top layer
# is off by ~1e-13, the paper's level.
_ZIG_R = 7.697117470131049
_ZIG_N = 256
_ZIG_V = math.exp(-_ZIG_R) * (_ZIG_R + 1.0)


def _zig_tables():
    """Ziggurat tables (X, F) of length 257 in float64, built from r by the recursion above.

    Plain scalar ``math.log`` / ``math.exp`` (not NumPy's vectorised ones) so that the
    tests' pure-Python reference can rebuild them bit for bit."""
    r, v, n = _ZIG_R, _ZIG_V, _ZIG_N
    x = np.zeros(n + 1)
    f = np.zeros(n + 1)
    x[0] = r + 1.0                      # base strip width: X[0] F[1] = v
    x[1] = r
    f[1] = math.exp(-r)
    for i in range(1, n - 1):
        x[i + 1] = -math.log(f[i] + v / x[i])
        f[i + 1] = math.exp(-x[i + 1])
    x[n] = 0.0
    f[n] = max(1.0, f[n - 1] + v / x[n - 1])
    return x, f


_ZIG_X, _ZIG_F = _zig_tables()
# Scaled by 2**-52 (exact: a power of two, and no product is subnormal) so that
# (k + 0.5) * _ZIG_W[i] == ((k + 0.5) / 2**52) * X[i] bit for bit with one multiply less.
_ZIG_W = _ZIG_X * 2.0 ** -52
_ZIG_DH = np.zeros(_ZIG_N + 1)
_ZIG_DH[1:_ZIG_N] = (_ZIG_F[2:] - _ZIG_F[1:_ZIG_N]) * 2.0 ** -52   # wedge heights / 2**52

_LAYER = np.uint64(_ZIG_N - 1)
_ONE = np.uint64(1)
_S12 = np.uint64(12)

# Bits of one 64-bit SplitMix64 output z:  z & 255 (bits 0-7) picks the layer and z >> 12
# (bits 12-63, k in [0, 2**52)) the uniform u = (k + 0.5) / 2**52 in (0, 1); bits 8-11 are
# unused so the two never share a bit.  The midpoint grid keeps u away from 0 and 1 (so the
# result is > 0) and is exact in float64: k + 0.5 < 2**52 needs 53 significant bits.


@intrinsic
def _likely(typingctx, cond):
    """``cond`` unchanged, marked as almost always true (LLVM ``llvm.expect``).

    Without the hint LLVM treats the ziggurat's fast and slow branches as equally likely:
    it inlines ``_exp_slow`` into the caller and, because the slow path calls ``exp``,
    keeps the caller's loop-carried floats in memory across every iteration (3.4 ns per
    draw in benchmarks/rng_exponential.py instead of 2.0).  With it the slow path stays an
    out-of-line call on a cold branch."""
    sig = types.boolean(types.boolean)

    def codegen(context, builder, signature, args):
        i1 = ir.IntType(1)
        fn = builder.module.declare_intrinsic("llvm.expect", [i1], ir.FunctionType(i1, [i1, i1]))
        return builder.call(fn, [args[0], ir.Constant(i1, 1)])

    return sig, codegen


@njit(cache=True)
def _exp_slow(s, i, x):
    """Slow path of ``exp_step``: finish a draw whose first point (layer i, abscissa x)
    missed the part of its layer under the curve.  Returns (new state, Exp(1) draw).

    Kept out of line so that the inlined fast path stays small; ~2.2% of draws get here."""
    offset = 0.0
    while True:
        if i == 0:
            # Base strip beyond r: the tail.  Exp(1) given > r is r + Exp(1); draw that
            # Exp(1) afresh by the same method (no log, and no 36.7 cap from -log(2**-53)).
            offset += _ZIG_R
        else:
            # Wedge: uniform y over the layer's height, kept iff the point is under exp(-x).
            s = s + _GOLDEN
            y = _ZIG_F[i] + (np.float64(_mix(s) >> _S12) + 0.5) * _ZIG_DH[i]
            if y < math.exp(-x):
                return s, offset + x
        s = s + _GOLDEN
        z = _mix(s)
        i = z & _LAYER
        x = (np.float64(z >> _S12) + 0.5) * _ZIG_W[i]
        if x < _ZIG_X[i + _ONE]:
            return s, offset + x


@njit(cache=True, inline="always")
def exp_step(s):
    """Advance a stream state by an Exp(1) draw (ziggurat method, Marsaglia & Tsang 2000).

    Parameters
    ----------
    s : uint64
        Stream state, the same kind of state as ``step`` uses.

    Returns
    -------
    s : uint64
        New state: ``s + k * 0x9E3779B97F4A7C15`` (mod 2**64), where k >= 1 is the number of
        64-bit SplitMix64 outputs consumed (k = 1 for ~97.8% of draws; each wedge test and
        each restart after a rejected wedge point or a tail step costs one more).
    e : float64
        Exp(1) variate, strictly > 0.

    Notes
    -----
    Deterministic: the same state always gives the same (s, e), bit for bit.  The
    distribution is exactly Exp(1) up to the resolution of the uniforms (2**-52: each
    point's abscissa is a midpoint of a grid of 2**52 cells across its layer) and float64
    rounding of the tables, of the products and of ``exp`` in the wedge test; no part of
    the density is approximated.  Only the common path is inlined (one 64-bit output, a
    table load, a multiply and a compare: ~2 ns per draw against ~5 ns for ``-log(u)``);
    wedge and tail cases call ``_exp_slow`` on a branch marked unlikely.  Inlining the slow
    path too measured ~5% slower.
    """
    s = s + _GOLDEN
    z = _mix(s)
    i = z & _LAYER
    x = (np.float64(z >> _S12) + 0.5) * _ZIG_W[i]
    if _likely(x < _ZIG_X[i + _ONE]):
        return s, x
    return _exp_slow(s, i, x)


@njit(cache=True)
def next_exponential(state, i, rate):
    """Exponential draw with the given rate (1/ms) from stream i of ``state`` (uint64 array)
    by the ziggurat sampler ``exp_step``; advances it."""
    s, e = exp_step(state[i])
    state[i] = s
    # e * (1/rate), not e / rate: the engines' inner loops use this form, which keeps
    # the divide off the chain of arrival times; every stream must use the same one
    return e * (1.0 / rate)
