"""Synaptic connectivity: the CSR container, connection rules and constructors.

A projection from a presynaptic population of ``n_pre`` neurons to a
postsynaptic population of ``n_post`` neurons is stored as a :class:`CSR`
(compressed sparse rows): row ``i`` holds the outgoing synapses of presynaptic
neuron ``i`` (local ids).  Per synapse it stores the local target id
(``int32``), the weight (mV, ``float64`` or ``float32``) and optionally the
delay (ms, ``float64``); when every synapse of a projection has the same delay
the delay is kept by the caller as one scalar and ``CSR.delays`` is ``None``.

Structure is produced either by a *connection rule* (:func:`fixed_indegree`,
:func:`fixed_outdegree`, :func:`fixed_probability`, :func:`one_to_one`,
:func:`all_to_all`) whose ``build`` method returns ``(indptr, indices)``, or
by an explicit constructor (:func:`from_dense`, :func:`from_scipy`,
:func:`from_lists`) that returns a complete :class:`CSR`.  :func:`connect`
combines a rule with weights and delays.

Random rules are Numba-compiled and seeded: the same ``seed`` gives the same
structure.  They make two passes over the same seeded random stream (the
first counts the synapses of every row, the second regenerates the stream and
fills the rows), so no list of ``(pre, post)`` pairs is ever materialised and
the peak memory of a build is the final ``indices`` array plus O(n_pre +
n_post) work space.

Notes
-----
Building a rule reseeds Numba's global random generator (``np.random.seed``
inside compiled code); it does not touch NumPy's generator.
"""
from .csr import (CSR, MAX_NEURONS, is_shared, make_delays, make_weights, shared_weights,  # noqa: F401
                  _kernel_weights)
from .rules import (AllToAll, ConnectionRule, FixedIndegree, FixedOutdegree, FixedProbability,  # noqa: F401
                    OneToOne, RuleSpec, all_to_all, connect, fixed_indegree, fixed_outdegree, fixed_probability,
                    one_to_one)
from .explicit import from_dense, from_lists, from_scipy  # noqa: F401
from .conv import (avg_pool2d, channel_bias, conv1d, conv2d, conv_output_shape,  # noqa: F401
                   sum_pool2d)


__all__ = [
    "CSR",
    "is_shared",
    "shared_weights",
    "ConnectionRule",
    "FixedIndegree",
    "FixedOutdegree",
    "FixedProbability",
    "OneToOne",
    "AllToAll",
    "fixed_indegree",
    "fixed_outdegree",
    "fixed_probability",
    "one_to_one",
    "all_to_all",
    "from_dense",
    "from_scipy",
    "from_lists",
    "make_weights",
    "make_delays",
    "connect",
    "conv1d",
    "conv2d",
    "sum_pool2d",
    "avg_pool2d",
    "conv_output_shape",
    "channel_bias",
]
