"""NumPy oracles for weight regularization, written from the formulas (seeds 002 and 004, papers).

Everything works on float64 NumPy arrays; the tests compare reglab's tensors against these.
"""

from __future__ import annotations

import numpy as np


def l1_penalty(ws: list[np.ndarray], l1: float) -> float:
    """``l1 * sum |w|`` (Keras L1)."""
    return float(l1 * sum(np.abs(w).sum() for w in ws))


def l2_penalty(ws: list[np.ndarray], l2: float) -> float:
    """``l2 * sum w^2`` (Keras L2, no 1/2)."""
    return float(l2 * sum((w * w).sum() for w in ws))


def elastic_net_grad(w: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """``l1 * sign(w) + 2 * l2 * w`` with ``sign(0) = 0``."""
    return l1 * np.sign(w) + 2.0 * l2 * w


def sgd_l2_update(w: np.ndarray, grad: np.ndarray, lr: float, lam: float) -> np.ndarray:
    """Seed 002: ``W := (1 - alpha*lambda) W - alpha*grad`` for the penalty ``lambda/2 ||W||^2``."""
    return (1.0 - lr * lam) * w - lr * grad


def soft_threshold(w: np.ndarray, t: float) -> np.ndarray:
    """``sign(w) * max(|w| - t, 0)``."""
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


def max_norm(w: np.ndarray, c: float) -> np.ndarray:
    """Rows of ``w.reshape(out, -1)`` with L2 norm above ``c`` are scaled to norm ``c``."""
    flat = w.reshape(w.shape[0], -1)
    norms = np.sqrt((flat * flat).sum(axis=1, keepdims=True))
    scale = np.where(norms > c, c / np.where(norms > 0, norms, 1.0), 1.0)
    return (flat * scale).reshape(w.shape)


def unit_norm(w: np.ndarray) -> np.ndarray:
    """Rows of ``w.reshape(out, -1)`` scaled to L2 norm 1 (zero rows stay zero)."""
    flat = w.reshape(w.shape[0], -1)
    norms = np.sqrt((flat * flat).sum(axis=1, keepdims=True))
    return (flat / np.where(norms > 0, norms, 1.0)).reshape(w.shape)


def adam_steps(
    w: np.ndarray,
    grads: list[np.ndarray],
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    wd: float = 0.0,
    decoupled: bool = False,
) -> np.ndarray:
    """Adam (Kingma & Ba 2015) with coupled L2 ``g + wd*w`` or AdamW's ``w(1 - lr*wd)`` decay.

    ``grads`` are the loss gradients of successive steps (fixed in advance, so the oracle needs no
    model): it shows the two decays give different weights under Adam.
    """
    b1, b2 = betas
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    w = w.copy()
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1.0 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return w
