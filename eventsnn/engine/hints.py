"""Code-generation hints for the engine's kernels (Numba intrinsics)."""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _prefetch_call(builder, ptr, write=0, locality=3):
    """Emit ``llvm.prefetch(ptr, write, locality, data cache)``."""
    i32 = ir.IntType(32)
    fn = builder.module.declare_intrinsic(
        "llvm.prefetch", [ptr.type], ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]))
    builder.call(fn, [ptr, ir.Constant(i32, write), ir.Constant(i32, locality),
                      ir.Constant(i32, 1)])


def _array_prefetch(name, write, locality, doc):
    """An intrinsic ``name(arr, idx)`` prefetching the cache line of ``arr[idx]``
    (``arr[idx, 0, ...]`` for more dimensions) with the given access (1 write, 0 read)
    and locality (3 all cache levels, 2 L2 and outer)."""

    def typer(typingctx, arr, idx):
        if not isinstance(arr, types.Array):
            return None
        sig = types.void(arr, idx)

        def codegen(context, builder, signature, args):
            aty, ity = signature.args
            a, i = args
            ary = context.make_array(aty)(context, builder, a)
            inds = [context.cast(builder, i, ity, types.intp)]
            inds += [context.get_constant(types.intp, 0)] * (aty.ndim - 1)
            ptr = cgutils.get_item_pointer(context, builder, aty, ary, inds, wraparound=False)
            _prefetch_call(builder, ptr, write, locality)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


prefetch = _array_prefetch("prefetch", 1, 3, """Ask the CPU to start loading the cache line
    of ``arr[idx]`` (``arr[idx, 0]`` for a 2-D array), for writing, without waiting for it
    (LLVM ``llvm.prefetch``).  No effect on results; an index out of range is harmless (a
    prefetch never faults).

    Why: a row of synapses touches its targets' state lines at random; the CPU overlaps
    only the few misses that fit in its reorder window, so the delivery loops first
    issue a prefetch for every target of the row and then do the work.  Measured on a
    10**6-neuron state array: 12.5 ns per target without, 5.0 with.""")

prefetch_l2 = _array_prefetch("prefetch_l2", 0, 2, """``prefetch`` for reading into the L2
    cache (``prefetcht1``), not L1 and without asking for ownership.  For lines loaded
    well ahead of their use: measured on the 10**6-neuron case, the target lines of the
    next delivery loaded this way cost about 9 % less run time than with ``prefetch``,
    whose ownership request (the line will be written) and L1 fill take longer and evict
    lines in use.""")


@intrinsic
def prefetch_addr(typingctx, addr):
    """``prefetch`` of the cache line at a raw address (int64), for reading: for data
    seen through raw pointers in functions compiled without reference counting, which
    cannot build array views (``numba.carray``)."""
    sig = types.void(types.int64)

    def codegen(context, builder, signature, args):
        _prefetch_call(builder, builder.inttoptr(args[0], ir.IntType(8).as_pointer()))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def load_int32(typingctx, addr, j):
    """The int32 at element j of the array whose data starts at address ``addr``."""
    sig = types.int32(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        base = builder.inttoptr(args[0], i32.as_pointer())
        return builder.load(builder.gep(base, [args[1]]))

    return sig, codegen


@intrinsic
def float_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits``."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def load_float64(typingctx, addr, j):
    """The float64 at element j of the array whose data starts at address ``addr``."""
    sig = types.float64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        base = builder.inttoptr(args[0], ir.DoubleType().as_pointer())
        return builder.load(builder.gep(base, [args[1]]))

    return sig, codegen


@intrinsic
def store_float64(typingctx, addr, j, x):
    """Write the float64 x to element j of the array whose data starts at ``addr``."""
    sig = types.void(types.int64, types.int64, types.float64)

    def codegen(context, builder, signature, args):
        base = builder.inttoptr(args[0], ir.DoubleType().as_pointer())
        builder.store(args[2], builder.gep(base, [args[1]]))
        return context.get_dummy_value()

    return sig, codegen
