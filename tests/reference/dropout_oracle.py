"""NumPy oracles for the dropout family, written from the formulas (not from reglab's code).

Seed 002: ``(z_{i+1})_j = z_j / (1 - p)`` with probability ``1 - p``, else 0 (inverted dropout).
Seeds 001 and 004: no rescaling in training; at inference multiply by ``1 - p`` (classic dropout).
DropBlock: Ghiasi et al. 2018, Algorithm 1 and eq. (1). Alpha dropout: Klambauer et al. 2017,
section "New Dropout Technique".
"""

from __future__ import annotations

import numpy as np
from scipy import stats

SELU_ALPHA_PRIME = -1.0507009873554805 * 1.6732632423543772  # -lambda * alpha


def dropout_forward(
    x: np.ndarray, keep: np.ndarray, p: float, scaling: str, training: bool
) -> np.ndarray:
    """Seed 002 (inverted) / seeds 001, 004 (classic) forward rule, given the keep mask."""
    if not training:
        return x.copy() if scaling == "inverted" else x * (1.0 - p)
    out = np.where(keep, x, 0.0)
    return out / (1.0 - p) if scaling == "inverted" else out


def dropout_backward(g: np.ndarray, keep: np.ndarray, p: float, scaling: str) -> np.ndarray:
    """Seed 000: only the kept units pass gradient; the scale of the forward rule applies."""
    out = np.where(keep, g, 0.0)
    return out / (1.0 - p) if scaling == "inverted" else out


def binomial_interval(n: int, p: float, level: float = 0.999) -> tuple[float, float]:
    """Two-sided ``level`` interval of the dropped fraction ``Binomial(n, p) / n``."""
    lo, hi = stats.binom.interval(level, n, p)
    return float(lo) / n, float(hi) / n


def drop_block_gamma(p: float, b: int, h: int, w: int) -> float:
    """Eq. (1) of Ghiasi et al.: gamma = p / b^2 * (h w) / ((h - b + 1)(w - b + 1))."""
    return p / (b * b) * (h * w) / ((h - b + 1) * (w - b + 1))


def drop_block_mask(seeds: np.ndarray, b: int) -> np.ndarray:
    """Dropped map (1 = dropped) of shape (h, w) from seeds of shape (h - b + 1, w - b + 1).

    Each seed at (i, j) zeroes the block of rows i..i+b-1 and columns j..j+b-1.
    """
    sh, sw = seeds.shape
    out = np.zeros((sh + b - 1, sw + b - 1))
    for i, j in zip(*np.nonzero(seeds)):
        out[i : i + b, j : j + b] = 1.0
    return out


def drop_block_expected_fraction(p: float, b: int, h: int, w: int) -> float:
    """Expected dropped fraction: unit (i, j) is dropped unless all c_ij covering seeds are off."""
    gamma = drop_block_gamma(p, b, h, w)
    covered = drop_block_coverage(b, h, w)
    return float(np.mean(1.0 - (1.0 - gamma) ** covered))


def drop_block_coverage(b: int, h: int, w: int) -> np.ndarray:
    """Number of valid seed positions whose block covers each unit."""
    cov = np.zeros((h, w))
    for i in range(h - b + 1):
        for j in range(w - b + 1):
            cov[i : i + b, j : j + b] += 1
    return cov


def alpha_dropout_coefficients(p: float) -> tuple[float, float]:
    """a = (q + alpha'^2 q (1 - q))^(-1/2), b = -a (1 - q) alpha' with keep rate q = 1 - p."""
    q = 1.0 - p
    a = (q + SELU_ALPHA_PRIME**2 * q * (1.0 - q)) ** -0.5
    return a, -a * (1.0 - q) * SELU_ALPHA_PRIME


def alpha_dropout_forward(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """a * (x d + alpha' (1 - d)) + b."""
    a, b = alpha_dropout_coefficients(p)
    return a * np.where(keep, x, SELU_ALPHA_PRIME) + b


def gaussian_dropout_moments(x: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of x * e, e ~ N(1, p / (1 - p))."""
    return x.copy(), x**2 * p / (1.0 - p)
