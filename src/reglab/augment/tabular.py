"""Augmentations for feature vectors ``(N, F)``: Gaussian noise per feature and MixUp.

Example:
    >>> import torch
    >>> from reglab.augment import tabular
    >>> x = torch.randn(32, 4) * torch.tensor([1.0, 10.0, 100.0, 0.1])
    >>> noise = tabular.GaussianNoise(0.1).fit(x)
    >>> y = noise(x, generator=torch.Generator().manual_seed(0))
    >>> y.shape
    torch.Size([32, 4])
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import Boolean, Interval, check, check_floating, check_ndim
from ..errors import ConfigError
from . import _random
from ._base import Augmentation, Params, get
from .mix import MixUp as _ImageMixUp

__all__ = ["GaussianNoise", "MixUp"]


class GaussianNoise(Augmentation):
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
        >>> from reglab.augment.tabular import GaussianNoise
        >>> aug = GaussianNoise(0.5, per_feature_scale=False)
        >>> y = aug(torch.zeros(4000, 2), generator=torch.Generator().manual_seed(0))
        >>> [round(v, 1) for v in y.std(0).tolist()]
        [0.5, 0.5]
    """

    _layout = "features"

    def __init__(
        self,
        std: float = 0.1,
        per_feature_scale: bool = True,
        *,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, value_range=value_range)
        owner = type(self).__name__
        check(owner, "std", std, Interval(float, 0, None))
        check(owner, "per_feature_scale", per_feature_scale, Boolean())
        self.std = float(std)
        self.per_feature_scale = per_feature_scale
        self.scale_: torch.Tensor | None = None

    def fit(self, x: torch.Tensor) -> GaussianNoise:
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

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        return {"noise": _random.normal(shape, self.std, generator, dtype=dtype, device=device)}

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

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        noise = get(params, "noise", "GaussianNoise").to(device=x.device, dtype=x.dtype)
        apply = get(params, "apply", "GaussianNoise").to(x.device)
        noise = noise * self._scale(x)
        if not bool(apply.all()):
            noise = noise * apply.view(-1, 1).to(x.dtype)
        return x + noise

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("std", self.std), ("per_feature_scale", self.per_feature_scale)]


class MixUp(_ImageMixUp):
    """MixUp for feature vectors ``(N, F)``; targets may also be regression values.

    Same mixing as :class:`reglab.augment.MixUp` (``lam ~ Beta(alpha, alpha)`` per row, partner
    from a random permutation). Integer labels need ``num_classes``; float targets of shape
    ``(N, K)`` are mixed as soft targets, float targets of shape ``(N,)`` as regression values
    (returned as ``(N,)``; no label smoothing).

    Example:
        >>> import torch
        >>> from reglab.augment.tabular import MixUp
        >>> x, y = torch.rand(6, 3), torch.rand(6)          # regression targets
        >>> xm, ym = MixUp(alpha=0.4).mix(x, y, torch.Generator().manual_seed(0))
        >>> xm.shape, ym.shape
        (torch.Size([6, 3]), torch.Size([6]))
    """

    _layout = "features"

    def _regression_ok(self) -> bool:
        return True
