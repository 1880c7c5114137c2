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
        >= 0 (dimensionless); see ``step`` for which entries it applies to.
    lr_scale : array or None
        Per-parameter factors of the learning rate (>= 0, one per parameter), e.g.
        ``SNN.lr_scale(delays=20)`` for delays in ms beside weights in mV.
    """

    def __init__(self, lr=5e-3, betas=(0.9, 0.999), eps=1e-8, decay=1.0, weight_decay=0.0, lr_scale=None):
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
        if lr_scale is not None:
            a = np.asarray(lr_scale)
            if a.dtype.kind not in "iuf" or a.ndim != 1:
                raise TypeError(f"lr_scale must be a 1-D real array or None, got {type(lr_scale).__name__} "
                                f"{getattr(a, 'shape', '')}")
            a = a.astype(np.float64)
            if not (np.isfinite(a).all() and (a >= 0).all()):
                raise ValueError("lr_scale must be finite and >= 0")
            lr_scale = a
        self.lr_scale = lr_scale
        self.m = None
        self.v = None
        self.t = 0

    def step(self, params, grad, wd_stop=None):
        """One update of ``params`` (in place) with gradient ``grad`` (same shape).
        Weight decay applies to ``params[:wd_stop]`` (all when None; ``fit`` passes the
        number of weights so that learned delays and thresholds are not decayed)."""
        if grad.shape != params.shape:
            raise ValueError(f"grad has shape {grad.shape}; params have shape {params.shape}")
        if self.lr_scale is not None and self.lr_scale.shape != params.shape:
            raise ValueError(f"lr_scale has shape {self.lr_scale.shape}; params have shape {params.shape}")
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
            wp = params[:wd_stop]
            wp -= (self.lr * self.weight_decay) * wp
        if self.lr_scale is None:
            params -= self.lr * mh / (np.sqrt(vh) + self.eps)
        else:
            params -= self.lr * self.lr_scale * mh / (np.sqrt(vh) + self.eps)

    def end_epoch(self):
        """Apply the per-epoch learning-rate decay."""
        self.lr *= self.decay
