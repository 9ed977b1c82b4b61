"""NumPy oracles for normalization, written from the seed formulas (float64 throughout).

- Batch norm steps 1-3 of seed 000: batch mean and (biased) variance per feature, normalize with
  eps, scale and shift.
- Running averages of seed 002 ("a running average of mean/variance ... at test time normalize by
  these quantities"), with torch's momentum convention and unbiased running variance.
- Layer norm rows of seeds 001/002: each sample's row normalized by its own mean and variance.
- Batch renormalization from Ioffe 2017, Algorithm 1, with Keras 3's two sets of averages.
"""

from __future__ import annotations

import numpy as np


def _to_channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, *) -> (m, C): one row per value that shares a channel's statistics."""
    x = np.moveaxis(x, 1, -1)
    return x.reshape(-1, x.shape[-1])


def bn_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seed 000 step 1: mu_B = 1/m sum x_i, sigma_B^2 = 1/m sum (x_i - mu_B)^2 per channel."""
    rows = _to_channels_last(x)
    m = rows.shape[0]
    mu = rows.sum(axis=0) / m
    var = ((rows - mu) ** 2).sum(axis=0) / m
    return mu, var


def _bcast(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def bn_normalize(
    x: np.ndarray, mu: np.ndarray, var: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> np.ndarray:
    """Seed 000 steps 2-3: x_hat = (x - mu) / sqrt(var + eps); BN(x) = gamma x_hat + beta."""
    d = x.ndim
    x_hat = (x - _bcast(mu, d)) / np.sqrt(_bcast(var, d) + eps)
    return _bcast(gamma, d) * x_hat + _bcast(beta, d)


def bn_train(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training-mode output and the batch statistics (mean, biased variance)."""
    mu, var = bn_statistics(x)
    return bn_normalize(x, mu, var, gamma, beta, eps), mu, var


def running_update(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    x: np.ndarray,
    momentum: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Seed 002's running averages: new = (1 - momentum) old + momentum batch (unbiased var)."""
    mu, var = bn_statistics(x)
    m = _to_channels_last(x).shape[0]
    unbiased = var * m / (m - 1)
    return (
        (1 - momentum) * running_mean + momentum * mu,
        (1 - momentum) * running_var + momentum * unbiased,
    )


def layer_norm_rows(
    x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, eps: float, k: int = 1
) -> np.ndarray:
    """Seeds 001/002: normalize each sample's trailing k dims by its own mean and variance."""
    lead = x.shape[: x.ndim - k]
    rows = x.reshape(*lead, -1)
    n = rows.shape[-1]
    mean = rows.sum(axis=-1, keepdims=True) / n
    var = ((rows - mean) ** 2).sum(axis=-1, keepdims=True) / n
    y = ((rows - mean) / np.sqrt(var + eps)).reshape(x.shape)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def rms_rows(x: np.ndarray, gamma: np.ndarray | None, eps: float) -> np.ndarray:
    """RMSNorm over the last dim: x / sqrt(mean(x^2) + eps) * gamma."""
    y = x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + eps)
    return y if gamma is None else y * gamma


def renorm_step(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    state: dict[str, np.ndarray],
    *,
    eps: float,
    momentum: float,
    renorm_momentum: float,
    rmax: float,
    rmin: float,
    dmax: float,
) -> np.ndarray:
    """One training step of batch renormalization; ``state`` is updated in place.

    Ioffe 2017, Algorithm 1: sigma_B = sqrt(var_B + eps); r = clip(sigma_B / sigma), d =
    clip((mu_B - mu) / sigma); y = gamma (x_hat r + d) + beta. Keras 3 keeps the (mu, sigma)
    used for r, d ("renorm_*", renorm momentum) apart from the inference averages ("moving_*",
    momentum), floors sigma at sqrt(eps), and sets moving_var = max(moving_std^2 - eps, 0).
    Momenta here use torch's convention (weight of the new batch).
    """
    mu_b, var_b = bn_statistics(x)
    sigma_b = np.sqrt(var_b + eps)
    sigma = np.maximum(state["renorm_std"], np.sqrt(eps))
    r = np.clip(sigma_b / sigma, rmin, rmax)
    d = np.clip((mu_b - state["renorm_mean"]) / sigma, -dmax, dmax)
    x_hat = (x - _bcast(mu_b, x.ndim)) / _bcast(sigma_b, x.ndim)
    y = _bcast(gamma, x.ndim) * (x_hat * _bcast(r, x.ndim) + _bcast(d, x.ndim)) + _bcast(
        beta, x.ndim
    )
    state["renorm_mean"] = (1 - renorm_momentum) * state["renorm_mean"] + renorm_momentum * mu_b
    state["renorm_std"] = (1 - renorm_momentum) * state["renorm_std"] + renorm_momentum * sigma_b
    state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mu_b
    state["running_std"] = (1 - momentum) * state["running_std"] + momentum * sigma_b
    state["running_var"] = np.maximum(state["running_std"] ** 2 - eps, 0.0)
    return y
