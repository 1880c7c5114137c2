"""Adam (Kingma & Ba 2015, "Adam: a method for stochastic optimization", ICLR) with a
per-epoch exponential learning-rate decay and optional decoupled weight decay
(Loshchilov & Hutter 2019, "Decoupled weight decay regularization", ICLR), on a flat
float64 parameter vector."""
from __future__ import annotations

import numpy as np

from .._validate import real

__all__ = ["Adam"]


class Adam:
    """Adam on a flat parameter vector, updated in place.

    Parameters
    ----------
    lr : float
        Learning rate (mV per step for weights in mV), > 0.
    betas : (float, float)
        Decay rates of the first and second moment estimates, in [0, 1).
    eps : float
        Denominator guard, > 0.
    decay : float
        Learning-rate factor applied by :meth:`end_epoch` (lr <- lr * decay), in (0, 1].
    weight_decay : float
        Decoupled weight decay per step (params <- params - lr * weight_decay * params),
        >= 0 (dimensionless).
    """

    def __init__(self, lr=5e-3, betas=(0.9, 0.999), eps=1e-8, decay=1.0, weight_decay=0.0):
        self.lr = real("lr", lr, lo=0.0, lo_open=True)
        if np.ndim(betas) != 1 or len(betas) != 2:
            raise ValueError(f"betas={betas!r} is not allowed; give two numbers in [0, 1)")
        self.b1 = real("betas[0]", betas[0], lo=0.0)
        self.b2 = real("betas[1]", betas[1], lo=0.0)
        if not (self.b1 < 1.0 and self.b2 < 1.0):
            raise ValueError(f"betas={betas!r} is not allowed; each must be in [0, 1)")
        self.eps = real("eps", eps, lo=0.0, lo_open=True)
        self.decay = real("decay", decay, lo=0.0, lo_open=True)
        if self.decay > 1.0:
            raise ValueError(f"decay={decay!r} is not allowed; decay must be in (0, 1]")
        self.weight_decay = real("weight_decay", weight_decay, lo=0.0)
        self.m = None
        self.v = None
        self.t = 0

    def step(self, params, grad):
        """One update of ``params`` (in place) with gradient ``grad`` (same shape)."""
        if grad.shape != params.shape:
            raise ValueError(f"grad has shape {grad.shape}; params have shape {params.shape}")
        if self.m is None:
            self.m = np.zeros_like(params)
            self.v = np.zeros_like(params)
        self.t += 1
        self.m *= self.b1
        self.m += (1.0 - self.b1) * grad
        self.v *= self.b2
        self.v += (1.0 - self.b2) * grad * grad
        mh = self.m / (1.0 - self.b1 ** self.t)
        vh = self.v / (1.0 - self.b2 ** self.t)
        if self.weight_decay > 0.0:
            params -= (self.lr * self.weight_decay) * params
        params -= self.lr * mh / (np.sqrt(vh) + self.eps)

    def end_epoch(self):
        """Apply the per-epoch learning-rate decay."""
        self.lr *= self.decay
