"""Augmentations for feature vectors ``(N, F)``: Gaussian noise per feature.

MixUp of feature vectors (with regression targets) is ``reglab.augment.MixUp(alpha,
layout="tabular")``.

Example:
    >>> import torch
    >>> from reglab.augment import tabular
    >>> x = torch.randn(32, 4) * torch.tensor([1.0, 10.0, 100.0, 0.1])
    >>> noise = tabular.FeatureNoise(0.1).fit(x)
    >>> y = noise(x, generator=torch.Generator().manual_seed(0))
    >>> y.shape
    torch.Size([32, 4])
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import Boolean, check_floating, check_ndim
from ..errors import ConfigError
from ._base import Augmentation, Draw, Draws, Setting, get, normal
from .intensity import STD

__all__ = ["FeatureNoise"]


class FeatureNoise(Augmentation):
    """Add Gaussian noise to each feature: ``x'_ij = x_ij + std * s_j * z_ij``, ``z ~ N(0, 1)``.

    With ``per_feature_scale=True`` the noise of feature ``j`` is scaled by that feature's
    standard deviation ``s_j``, so one ``std`` suits features of any unit. ``s_j`` comes from
    :meth:`fit` (the population standard deviation of each column of the training features,
    kept in ``scale_`` and in ``state_dict()``) when it was called, otherwise from the batch
    being augmented (which needs at least 2 rows). With ``per_feature_scale=False``, ``s_j = 1``.

    Args:
        std: noise standard deviation, relative to ``s_j`` (``>= 0``).
        per_feature_scale: scale the noise by each feature's standard deviation.
        p: per-sample (row) probability.

    Example:
        >>> import torch
        >>> from reglab.augment.tabular import FeatureNoise
        >>> aug = FeatureNoise(0.5, per_feature_scale=False)
        >>> y = aug(torch.zeros(4000, 2), generator=torch.Generator().manual_seed(0))
        >>> [round(v, 1) for v in y.std(0).tolist()]
        [0.5, 0.5]
    """

    _layout = "features"
    settings = (STD, Setting("per_feature_scale", (Boolean(),), True))
    draws = (Draw("noise", normal("std")),)
    std: float
    per_feature_scale: bool

    def _setup(self) -> None:
        self.scale_: torch.Tensor | None = None

    def fit(self, x: torch.Tensor) -> FeatureNoise:
        """Store each feature's population standard deviation from training features (N, F)."""
        owner = type(self).__name__
        check_floating(owner, x, "x")
        check_ndim(owner, x, (2,), "(N, F)", "x")
        if x.shape[0] < 2:
            raise ConfigError(
                f"{owner}.fit needs at least 2 rows to estimate a standard deviation. "
                f"Got {x.shape[0]} instead."
            )
        self.scale_ = x.detach().std(0, correction=0).to(torch.float64).cpu()
        return self

    def state_dict(self) -> dict[str, Any]:
        return {"scale": None if self.scale_ is None else self.scale_.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        scale = state.get("scale")
        self.scale_ = None if scale is None else torch.as_tensor(scale, dtype=torch.float64)

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        owner = type(self).__name__
        if not self.per_feature_scale:
            return torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
        if self.scale_ is not None:
            if self.scale_.shape[0] != x.shape[1]:
                raise ConfigError(
                    f"{owner} was fitted on {self.scale_.shape[0]} features; the input has "
                    f"{x.shape[1]}."
                )
            return self.scale_.to(device=x.device, dtype=x.dtype)
        if x.shape[0] < 2:
            raise ConfigError(
                f"{owner} with per_feature_scale=True needs a fitted scale (call fit(X_train)) "
                f"or a batch of at least 2 rows. Got {x.shape[0]} row instead."
            )
        return x.detach().std(0, correction=0)

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        noise = get(draws, "noise", "FeatureNoise").to(device=x.device, dtype=x.dtype)
        apply = get(draws, "apply", "FeatureNoise").to(x.device)
        noise = noise * self._scale(x)
        if not bool(apply.all()):
            noise = noise * apply.view(-1, 1).to(x.dtype)
        return x + noise
