"""eventsnn: exact event-driven simulation of sparse spiking networks on the CPU."""
from ._compile import Stopwatch, compile_time
from .connectivity import (CSR, all_to_all, fixed_indegree, fixed_outdegree, fixed_probability,
                           from_dense, from_lists, from_scipy, one_to_one)
from .models import LIF
from .network import Network, PoissonSource, Population, Projection, SpikeSource
from .results import OpCounts, PopulationRate, Result, Spikes, StateSamples
from .recording import RateRecorder, SpikeRecorder, StateProbe, WeightRecorder
from .plasticity import STDP, RewardSTDP, Triplet, Vogels
from .counting import EnergyTable
from .engine.clock import ClockEngine, run_clock
from .io import load, save
from ._validate import set_memory_limit

__version__ = "0.1.0"

__all__ = ["LIF", "Network", "Population", "SpikeSource", "PoissonSource", "Projection",
           "CSR", "fixed_indegree", "fixed_outdegree", "fixed_probability", "one_to_one",
           "all_to_all", "from_dense", "from_scipy", "from_lists",
           "OpCounts", "Result", "Spikes", "StateSamples", "PopulationRate",
           "SpikeRecorder", "StateProbe", "RateRecorder", "WeightRecorder", "compile_time", "Stopwatch",
           "STDP", "Triplet", "Vogels", "RewardSTDP", "EnergyTable", "ClockEngine", "run_clock",
           "save", "load", "set_memory_limit", "from_nir", "to_nir"]


def __getattr__(name):
    # NIR support (and the scipy.sparse it needs) loads on first use, not at import
    if name in ("from_nir", "to_nir"):
        from . import nir_io
        return getattr(nir_io, name)
    raise AttributeError(f"module 'eventsnn' has no attribute {name!r}")
