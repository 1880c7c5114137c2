"""Training spiking networks: exact spike-time gradients (EventProp, Wunderlich & Pehle
2021) and surrogate-gradient BPTT on a time grid.

Exact: ``SNN`` (layered network), ``loss_and_grad`` / ``evaluate`` / ``fit`` /
``simulate``, the losses ``FirstSpikeCE``, ``MaxVoltageCE``, ``SpikeTimeMSE``,
``CountBounds``, the optimiser ``Adam`` and the operation counts ``EventPropCounts``.

Surrogate: ``GridSNN`` with layers ``Dense`` and ``Conv2d`` (:mod:`.gridnet`), and the
module :mod:`.bptt` (``bptt.fit``, ``bptt.evaluate``, ``bptt.loss_and_grad``,
``Surrogate``, ``CountCE``).
"""
from . import bptt
from .bptt import CountCE, Surrogate
from .eventprop import EventPropCounts
from .gridnet import Conv2d, Dense, GridSNN
from .losses import CountBounds, FirstSpikeCE, MaxVoltageCE, SpikeTimeMSE
from .optim import Adam
from .snn import SNN, ProjectionSpec
from .train import BatchResult, Trace, evaluate, fit, loss_and_grad, simulate

__all__ = ["SNN", "ProjectionSpec", "loss_and_grad", "evaluate", "fit", "simulate", "Trace", "BatchResult",
           "FirstSpikeCE", "MaxVoltageCE", "SpikeTimeMSE", "CountBounds", "Adam", "EventPropCounts",
           "GridSNN", "Dense", "Conv2d", "bptt", "Surrogate", "CountCE"]
