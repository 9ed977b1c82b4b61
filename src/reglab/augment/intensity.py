"""Intensity image augmentations: Gaussian noise, brightness, contrast and random erasing (cutout).

They change pixel values, never positions: ``Compose`` applies each on its own (between the fused
runs of geometric transforms), and adds a noise draw in place to a buffer it owns.

Example:
    >>> import torch, reglab.augment as A
    >>> aug = A.RandomBrightness(0.2)
    >>> sorted(aug.generate_params((8, 3, 32, 32), torch.Generator().manual_seed(0)))
    ['apply', 'delta']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import _rng
from .._checks import Interval, validate_params
from ._base import (
    GENERATE_CONSTRAINTS,
    Augmentation,
    Draw,
    Draws,
    RangePair,
    Sampling,
    Setting,
    as_range,
    fill_setting,
    fill_tensor,
    get,
    normal,
    p_option,
    uniform,
)

__all__ = ["RandomBrightness", "RandomContrast", "RandomErasing", "RandomGaussianNoise"]


def _nothing() -> None:
    return None


STD = Setting("std", (Interval(float, 0, None),), 0.1, store=lambda o, v: float(v))


class RandomGaussianNoise(Augmentation):
    """Add ``N(0, std^2)`` noise to every pixel: ``y = x + std * z``, ``z ~ N(0, 1)``.

    The noise is a parameter (``draws["noise"]``, zero for samples not transformed), so a
    batch replays exactly. It comes from :func:`reglab._rng.normal`: large CPU draws are split
    into fixed, independently seeded chunks filled in parallel (Box-Muller), so the bits depend
    on the seed and the shape, never on the thread count.

    Args:
        std: standard deviation in the image's units (``>= 0``).
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> aug = A.RandomGaussianNoise(0.1)
        >>> y = aug(torch.zeros(64, 3, 32, 32), torch.Generator().manual_seed(0))
        >>> round(y.std().item(), 2)
        0.1
    """

    settings = (STD,)
    draws = (Draw("noise", normal("std")),)
    std: float

    def _settle(self, draws: Draws) -> Draws:
        # Zero noise for the samples not transformed, so that the draws say what is added.
        apply = draws["apply"]
        if not bool(apply.all()):
            draws["noise"] = draws["noise"] * apply.view(-1, 1, 1, 1).to(draws["noise"].dtype)
        return draws

    def generate_params_async(
        self,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
    ) -> tuple[Draws, Callable[[], None]]:
        """``(draws, wait)``: float32 :meth:`generate_params`, the noise filled by helper threads.

        The parameters hold the same bits as ``generate_params`` from the same generator state
        once ``wait()`` has returned; meanwhile the caller can work (``Compose`` resamples).
        """
        if self.same_on_batch:
            return self.generate_params(shape, generator, device=device), _nothing
        validate_params("RandomGaussianNoise", locals(), GENERATE_CONSTRAINTS)
        full = self._full_shape(shape)
        dev = torch.device(device) if device is not None else None
        apply = _rng.bernoulli(full[0], self.p, generator, device=dev)
        noise, fill = _rng.normal_async(full, self.std, generator, device=dev)

        def wait() -> None:
            fill()
            if not bool(apply.all()):
                noise.mul_(apply.view(-1, 1, 1, 1).to(noise.dtype))

        return {"apply": apply, "noise": noise}, wait

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x`` plus fresh noise: the draws of :meth:`generate_params`, added as they are made."""
        x4, restore = self._prepare(x)
        if self.same_on_batch or x4.dtype != torch.float32:
            return super().__call__(x, generator)
        validate_params("RandomGaussianNoise", locals(), GENERATE_CONSTRAINTS)
        full = self._full_shape(x4.shape)
        apply = _rng.bernoulli(full[0], self.p, generator, device=x4.device)
        out = _rng.add_normal(x4, self.std, generator)
        if not bool(apply.all()):
            out[~apply] = x4[~apply]
        return restore(out)

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        noise = get(draws, "noise", "RandomGaussianNoise")
        return x + noise.to(device=x.device, dtype=x.dtype)

    def _apply_fresh(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        # The noise was drawn for this call alone: add the image into its buffer (x + z == z + x).
        noise = draws["noise"]
        own = noise.dtype == x.dtype and noise.device == x.device and noise.shape == x.shape
        if own and noise.is_contiguous() and not x.requires_grad:
            return noise.add_(x)
        return self._apply(x, draws)


class RandomBrightness(Augmentation):
    """Add one random offset per sample: ``y = x + delta``, ``delta ~ U[min, max]``.

    Pass ``value_range`` (e.g. ``(0, 1)``) to clip the result, as kornia's ``RandomBrightness``
    clips to [0, 1] (its factor ``b`` is ``delta = b - 1`` here).

    Args:
        delta: ``d`` for ``[-d, d]`` or a ``(min, max)`` range, in the image's units.
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> y = A.RandomBrightness((0.5, 0.5))(torch.zeros(1, 1, 2, 2))
        >>> y.flatten().tolist()
        [0.5, 0.5, 0.5, 0.5]
    """

    settings = (
        Setting(
            "delta",
            (
                Interval(float, 0, None),
                RangePair(-math.inf, math.inf, open_left=True, open_right=True),
            ),
            0.2,
            store=lambda o, v: as_range(v),
        ),
    )
    draws = (Draw("delta", uniform("delta")),)
    delta: tuple[float, float]

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        delta = get(draws, "delta", "RandomBrightness").to(device=x.device, dtype=x.dtype)
        apply = get(draws, "apply", "RandomBrightness").to(x.device)
        delta = torch.where(apply, delta, torch.zeros_like(delta))
        return x + delta.view(-1, 1, 1, 1)


class RandomContrast(Augmentation):
    """Scale each sample's deviations from its per-channel mean: ``y = (x - m) c + m``.

    ``m`` is the mean over H and W of each channel of each sample (Keras' ``RandomContrast``,
    TensorFlow's ``adjust_contrast``), ``c ~ U[min, max]``. kornia's ``RandomContrast``
    multiplies ``x`` by ``c`` without the mean.

    Args:
        factor: ``f`` in [0, 1] for ``[1 - f, 1 + f]``, or a ``(min, max)`` range of factors >= 0.
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> x = torch.tensor([[[[0.0, 1.0]]]])
        >>> A.RandomContrast((2.0, 2.0))(x)
        tensor([[[[-0.5000,  1.5000]]]])
    """

    settings = (
        Setting(
            "factor",
            (Interval(float, 0, 1), RangePair(0, math.inf, open_right=True)),
            0.2,
            store=lambda o, v: as_range(v, centre=1.0),
        ),
    )
    draws = (Draw("factor", uniform("factor")),)
    factor: tuple[float, float]

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        c = get(draws, "factor", "RandomContrast").to(device=x.device, dtype=x.dtype)
        apply = get(draws, "apply", "RandomContrast").to(x.device)
        mean = x.mean(dim=(-2, -1), keepdim=True)
        y = (x - mean) * c.view(-1, 1, 1, 1) + mean
        return torch.where(apply.view(-1, 1, 1, 1), y, x)


def box_mask(box: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, 1, H, W) booleans, True inside each sample's ``(y0, x0, height, width)`` box."""
    y0, x0, bh, bw = box.long().unbind(1)
    ys = torch.arange(h, device=box.device)
    xs = torch.arange(w, device=box.device)
    rows = (ys >= y0[:, None]) & (ys < (y0 + bh)[:, None])
    cols = (xs >= x0[:, None]) & (xs < (x0 + bw)[:, None])
    return (rows[:, :, None] & cols[:, None, :]).unsqueeze(1)


def _erasing_box(aug: Any, at: Sampling) -> torch.Tensor:
    n, generator, dev = at.n, at.generator, at.home
    h, w = at.shape[-2], at.shape[-1]
    f64 = torch.float64
    a_lo, a_hi = aug.scale
    area = _rng.uniform(n, a_lo, a_hi, generator, dtype=f64, device=dev) * (h * w)
    lo, hi = math.log(aug.ratio[0]), math.log(aug.ratio[1])
    r = torch.exp(_rng.uniform(n, lo, hi, generator, dtype=f64, device=dev))
    eh = torch.sqrt(area * r).round().clamp(1, h).long()
    ew = torch.sqrt(area / r).round().clamp(1, w).long()
    y0 = _rng.randint(h - eh + 1, generator, device=dev)
    x0 = _rng.randint(w - ew + 1, generator, device=dev)
    return torch.stack([y0, x0, eh, ew], dim=1)


def _pair(owner: str, value: Any) -> tuple[float, float]:
    return float(value[0]), float(value[1])


class RandomErasing(Augmentation):
    """Cutout: set a random rectangle of each sample to ``value`` (Zhong et al., 2017).

    The rectangle's area is ``a H W`` with ``a ~ U[scale]`` and its aspect ``h / w = r`` with
    ``log r ~ U[log ratio]``; ``h = round(sqrt(a H W r))``, ``w = round(sqrt(a H W / r))``,
    clipped to the image, placed uniformly where it fits.

    Args:
        scale: ``(min, max)`` fraction of the image area.
        ratio: ``(min, max)`` aspect ratio ``h / w``.
        value: value (or per-channel values) written into the rectangle.
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> y = A.RandomErasing(p=1.0)(torch.ones(4, 1, 16, 16), torch.Generator().manual_seed(0))
        >>> bool((y == 0).any(dim=(1, 2, 3)).all())
        True
    """

    settings = (
        Setting("scale", (RangePair(0, 1, open_left=True),), (0.02, 0.33), _pair),
        Setting(
            "ratio",
            (RangePair(0, math.inf, open_left=True, open_right=True),),
            (0.3, 3.3),
            _pair,
        ),
        fill_setting("value"),
    )
    options = (p_option(0.5), *Augmentation.options[1:])
    draws = (Draw("box", _erasing_box),)
    scale: tuple[float, float]
    ratio: tuple[float, float]
    value: tuple[float, ...]

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        c, h, w = x.shape[1:]
        box = get(draws, "box", "RandomErasing").to(x.device)
        apply = get(draws, "apply", "RandomErasing").to(x.device)
        mask = box_mask(box, h, w) & apply.view(-1, 1, 1, 1)
        value = fill_tensor("RandomErasing", self.value, c, x.dtype, x.device)
        return torch.where(mask, value, x)
