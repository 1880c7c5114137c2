"""Exact spike-time gradients (EventProp, Wunderlich & Pehle 2021) and training.

``SNN`` (layered network), ``loss_and_grad`` / ``evaluate`` / ``fit`` / ``simulate``,
the losses ``FirstSpikeCE``, ``MaxVoltageCE``, ``SpikeTimeMSE``, ``CountBounds``, the
optimiser ``Adam`` and the operation counts ``EventPropCounts``.
"""
from .eventprop import EventPropCounts
from .losses import CountBounds, FirstSpikeCE, MaxVoltageCE, SpikeTimeMSE
from .optim import Adam
from .snn import SNN, ProjectionSpec
from .train import BatchResult, Trace, evaluate, fit, loss_and_grad, simulate

__all__ = ["SNN", "ProjectionSpec", "loss_and_grad", "evaluate", "fit", "simulate", "Trace", "BatchResult",
           "FirstSpikeCE", "MaxVoltageCE", "SpikeTimeMSE", "CountBounds", "Adam", "EventPropCounts"]
