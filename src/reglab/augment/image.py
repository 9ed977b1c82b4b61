"""Batched image augmentations with per-sample parameters, and ``Compose`` that resamples once.

Conventions (pixel coordinates, shared with kornia's geometric augmentations):

* a pixel's centre has integer coordinates ``(x, y)``; the top-left pixel is ``(0, 0)`` and the
  image centre is ``((W - 1) / 2, (H - 1) / 2)``; rotations, zooms and shears are about it;
* a transform's matrix maps input pixel coordinates to output pixel coordinates;
* a positive angle rotates the displayed image counter-clockwise (kornia's ``RandomRotation``;
  kornia's ``RandomAffine`` turns the other way);
* a positive translation moves the content right and down;
* resampling is ``grid_sample`` with pixel centres aligned (``align_corners=False`` normalisation
  built from the pixel-space matrix), which is the same pixel-space map as kornia's
  ``align_corners=True`` path; points that fall outside the input take ``fill``.

Example:
    >>> import torch, reglab.augment as A
    >>> aug = A.Compose([A.RandomFlip(), A.RandomRotation(15.0), A.RandomTranslation(0.1)])
    >>> x = torch.rand(8, 3, 32, 32)
    >>> y = aug(x, generator=torch.Generator().manual_seed(0))
    >>> y.shape, y.dtype
    (torch.Size([8, 3, 32, 32]), torch.float32)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .._checks import Interval, OneOf, check
from ..errors import ConfigError
from . import _random
from ._base import Augmentation, FloatSequence, Params, RangePair, as_range, get

__all__ = [
    "Compose",
    "GaussianNoise",
    "RandomAffine",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomErasing",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
]

_INTERP = OneOf("bilinear", "nearest")
_FILL = (
    Interval(float, None, None),
    FloatSequence(None, "a float or a sequence of per-channel floats"),
)


def _fill_tuple(fill: float | Sequence[float]) -> tuple[float, ...]:
    if isinstance(fill, (int, float)):
        return (float(fill),)
    return tuple(float(v) for v in fill)


def _fill_tensor(
    owner: str, fill: tuple[float, ...], c: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    if len(fill) not in (1, c):
        raise ConfigError(
            f"{owner} has a fill of {len(fill)} values for an image with {c} channels: "
            f"give one value or one per channel."
        )
    return torch.tensor(fill, dtype=dtype, device=device).view(1, -1, 1, 1)


# ------------------------------------------------------------------------------ geometry kernel
def _eye(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.eye(3, dtype=dtype, device=device).expand(n, 3, 3).clone()


def _affine(
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    d: torch.Tensor,
    tx: torch.Tensor,
    ty: torch.Tensor,
) -> torch.Tensor:
    """Stack per-sample entries into (N, 3, 3) matrices ``[[a, b, tx], [c, d, ty], [0, 0, 1]]``."""
    zero = torch.zeros_like(a)
    one = torch.ones_like(a)
    return torch.stack([a, b, tx, c, d, ty, zero, zero, one], dim=-1).view(-1, 3, 3)


def _about_centre(
    lin: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], h: int, w: int
) -> torch.Tensor:
    """The linear map ``lin = (a, b, c, d)`` applied about the image centre: C @ L @ C^-1."""
    a, b, c, d = lin
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    return _affine(a, b, c, d, cx - a * cx - b * cy, cy - c * cx - d * cy)


def _rotation_linear(
    degrees: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    # y points down, so a counter-clockwise turn on screen has +sin in the first row.
    rad = torch.deg2rad(degrees)
    cos, sin = torch.cos(rad), torch.sin(rad)
    return cos, sin, -sin, cos


def _masked(matrix: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    """Identity for the samples that are not transformed."""
    eye = torch.eye(3, dtype=matrix.dtype, device=matrix.device)
    return torch.where(apply.to(matrix.device).view(-1, 1, 1), matrix, eye)


_GRIDS: dict[tuple[int, int, torch.dtype, torch.device], torch.Tensor] = {}


def _base_grid(h: int, w: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(3, H*W) rows x, y, 1 of the normalised pixel centres (align_corners=False)."""
    key = (h, w, dtype, device)
    grid = _GRIDS.get(key)
    if grid is None:
        xs = (torch.arange(w, dtype=torch.float64) * 2 + 1) / w - 1
        ys = (torch.arange(h, dtype=torch.float64) * 2 + 1) / h - 1
        grid = torch.stack(
            [xs.expand(h, w), ys[:, None].expand(h, w), torch.ones(h, w, dtype=torch.float64)]
        ).view(3, h * w)
        grid = grid.to(dtype=dtype, device=device)
        if len(_GRIDS) > 32:
            _GRIDS.clear()
        _GRIDS[key] = grid
    return grid


def _sample(
    x: torch.Tensor,
    theta: torch.Tensor,
    out_hw: tuple[int, int],
    interpolation: str,
    fill: tuple[float, ...],
) -> torch.Tensor:
    """``grid_sample`` of ``x`` at the normalised affine grid ``theta`` (N, 2, 3) of size ``out_hw``."""
    n, c = x.shape[:2]
    h, w = out_hw
    # One (2N, 3) x (3, HW) product; the permuted view is what grid_sample reads (a copy to
    # contiguous memory costs more than the product itself).
    grid = (theta.reshape(2 * n, 3) @ _base_grid(h, w, x.dtype, x.device)).view(n, 2, h, w)
    grid = grid.permute(0, 2, 3, 1)
    fill_t = _fill_tensor("warp_affine", fill, c, x.dtype, x.device)
    if not bool((fill_t == 0).all()):
        # Sample a ones channel alongside: its value is the in-image weight, exact 1 inside.
        ones = torch.ones(n, 1, *x.shape[2:], dtype=x.dtype, device=x.device)
        s = F.grid_sample(torch.cat([x, ones], 1), grid, mode=interpolation, align_corners=False)
        return s[:, :c] + (1 - s[:, c:]) * fill_t
    return F.grid_sample(x, grid, mode=interpolation, padding_mode="zeros", align_corners=False)


def warp_affine(
    x: torch.Tensor,
    matrix: torch.Tensor,
    interpolation: str = "bilinear",
    fill: tuple[float, ...] = (0.0,),
) -> torch.Tensor:
    """Resample ``x`` (N, C, H, W) under per-sample pixel-space affine maps ``matrix`` (N, 3, 3).

    ``matrix`` maps input pixel coordinates to output ones; output pixels whose source falls
    outside the input take ``fill``. With bilinear interpolation, samples whose matrix is
    exactly the identity are copied unchanged (nearest sampling is exact for them anyway).
    Always returns a new tensor.

    Example:
        >>> import torch, reglab.augment as A
        >>> x = torch.arange(3.0).view(1, 1, 1, 3)
        >>> shift = torch.tensor([[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
        >>> A.warp_affine(x, shift, fill=(-1.0,))
        tensor([[[[-1.,  0.,  1.]]]])
    """
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    m = matrix.to(device=x.device, dtype=x.dtype)
    if interpolation == "bilinear":
        eye = torch.eye(3, dtype=m.dtype, device=m.device)
        moving = (m != eye).flatten(1).any(1)
        count = int(moving.sum())
        if count == 0:
            return x.clone()
        if count < n:
            idx = moving.nonzero().squeeze(1)
            out = x.clone()
            out[idx] = warp_affine(x[idx], m[idx], interpolation, fill)
            return out
    # Output pixel p, output normalised coordinate u: p = D u + k with D = (W/2, H/2) and
    # k = the centre (align_corners=False). The source pixel is q = A^-1 (p - t); its
    # normalised coordinate is D^-1 (q - k), so theta = D^-1 A^-1 D and
    # theta_t = D^-1 (A^-1 (k - t) - k).
    a, b, cc, d = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    tx, ty = m[:, 0, 2], m[:, 1, 2]
    det = a * d - b * cc
    ia, ib, ic, id_ = d / det, -b / det, -cc / det, a / det
    kx, ky = (w - 1) / 2.0, (h - 1) / 2.0
    dx, dy = w / 2.0, h / 2.0
    sx, sy = kx - tx, ky - ty
    theta = torch.stack(
        [
            ia,
            ib * (dy / dx),
            (ia * sx + ib * sy - kx) / dx,
            ic * (dx / dy),
            id_,
            (ic * sx + id_ * sy - ky) / dy,
        ],
        dim=-1,
    ).view(n, 2, 3)
    return _sample(x, theta, (h, w), interpolation, fill)


def _flip_matrix(
    horizontal: torch.Tensor, vertical: torch.Tensor, h: int, w: int, dtype: torch.dtype
) -> torch.Tensor:
    sx = torch.where(horizontal, -1.0, 1.0).to(dtype)
    sy = torch.where(vertical, -1.0, 1.0).to(dtype)
    zero = torch.zeros_like(sx)
    return _affine(sx, zero, zero, sy, (1 - sx) * (w - 1) / 2, (1 - sy) * (h - 1) / 2)


def _flip(x: torch.Tensor, horizontal: torch.Tensor, vertical: torch.Tensor) -> torch.Tensor:
    """Exact per-sample flips; always returns a new tensor.

    Nearest sampling at the mirrored pixel centres (exact integer coordinates) copies the
    values bit for bit, in one pass over the batch, cheaper than ``flip`` + ``where``.
    """
    h = horizontal.to(x.device)
    v = vertical.to(x.device)
    if not bool(h.any()) and not bool(v.any()):
        return x.clone()
    m = _flip_matrix(h, v, x.shape[-2], x.shape[-1], x.dtype)
    return warp_affine(x, m, "nearest")


# ------------------------------------------------------------------------------ geometric base
class _Geometric(Augmentation):
    """An affine augmentation: provides per-sample matrices, so ``Compose`` can fuse it."""

    def __init__(
        self,
        *,
        interpolation: str = "bilinear",
        fill: float | Sequence[float] = 0.0,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, value_range=value_range)
        owner = type(self).__name__
        check(owner, "interpolation", interpolation, _INTERP)
        check(owner, "fill", fill, *_FILL)
        self.interpolation = interpolation
        self.fill = _fill_tuple(fill)

    def matrix(
        self, params: Params, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """Per-sample (N, 3, 3) maps from input to output pixel coordinates (identity if skipped)."""
        raise NotImplementedError

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        _fill_tensor(type(self).__name__, self.fill, x.shape[1], x.dtype, x.device)
        m = self.matrix(params, x.shape[-2], x.shape[-1], x.dtype)
        return warp_affine(x, m, self.interpolation, self.fill)

    def _resample_fields(self) -> list[tuple[str, Any]]:
        fill: Any = self.fill[0] if len(self.fill) == 1 else self.fill
        return [("interpolation", self.interpolation), ("fill", fill)]


def _check_degrees(owner: str, name: str, value: Any) -> tuple[float, float]:
    check(
        owner,
        name,
        value,
        Interval(float, 0, 180),
        RangePair(-180, 180),
    )
    return as_range(value)


def _check_fraction(owner: str, name: str, value: Any) -> tuple[float, float]:
    check(owner, name, value, Interval(float, 0, 1), RangePair(0, 1, ordered=False))
    if isinstance(value, (tuple, list)):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def _check_scale(owner: str, name: str, value: Any) -> tuple[float, float]:
    check(
        owner,
        name,
        value,
        Interval(float, 0, 1, closed="left"),
        RangePair(0, math.inf, open_left=True, open_right=True),
    )
    return as_range(value, centre=1.0)


class RandomFlip(_Geometric):
    """Flip each sample horizontally and/or vertically with probability ``p`` (exact, no resampling).

    ``mode="both"`` draws the horizontal and the vertical flip independently. Labels are kept
    (for classes a mirror image does not change, unlike digits 2/5 or 6/9 upside down).

    Args:
        mode: ``"horizontal"``, ``"vertical"`` or ``"both"``.
        p: per-sample probability of each flip.

    Example:
        >>> import torch, reglab.augment as A
        >>> x = torch.arange(4.0).view(1, 1, 1, 4)
        >>> A.RandomFlip(p=1.0)(x)
        tensor([[[[3., 2., 1., 0.]]]])
    """

    _draws_mask = False

    def __init__(
        self,
        mode: str = "horizontal",
        *,
        p: float = 0.5,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, value_range=value_range)
        check(type(self).__name__, "mode", mode, OneOf("horizontal", "vertical", "both"))
        self.mode = mode

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        none = torch.zeros(n, dtype=torch.bool, device=_random._device_of(generator, device))
        h = (
            _random.bernoulli(n, self.p, generator, device=device)
            if self.mode != "vertical"
            else none
        )
        v = (
            _random.bernoulli(n, self.p, generator, device=device)
            if self.mode != "horizontal"
            else none
        )
        return {"horizontal": h, "vertical": v}

    def matrix(
        self, params: Params, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        h = get(params, "horizontal", "RandomFlip")
        v = get(params, "vertical", "RandomFlip")
        return _flip_matrix(h, v, height, width, dtype)

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return _flip(
            x, get(params, "horizontal", "RandomFlip"), get(params, "vertical", "RandomFlip")
        )

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("mode", self.mode)]


class RandomRotation(_Geometric):
    """Rotate each sample about the image centre by an angle drawn uniformly from ``degrees``.

    Output pixel ``p`` takes the input at ``R^-1 (p - c) + c``, with ``c`` the centre and ``R``
    the rotation by ``theta ~ U[min, max]`` degrees (positive: counter-clockwise on screen).

    Args:
        degrees: ``d`` for ``[-d, d]`` (``0 <= d <= 180``), or a ``(min, max)`` range.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill: value (or per-channel values) for points rotated in from outside the image.
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> x = torch.zeros(1, 1, 3, 3); x[0, 0, 1, 2] = 1.0   # right of centre
        >>> A.RandomRotation((90.0, 90.0))(x)[0, 0].round()     # turns to above the centre
        tensor([[0., 1., 0.],
                [0., 0., 0.],
                [0., 0., 0.]])
    """

    def __init__(
        self,
        degrees: float | tuple[float, float],
        *,
        interpolation: str = "bilinear",
        fill: float | Sequence[float] = 0.0,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(
            interpolation=interpolation,
            fill=fill,
            p=p,
            same_on_batch=same_on_batch,
            value_range=value_range,
        )
        self.degrees = _check_degrees(type(self).__name__, "degrees", degrees)

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        lo, hi = self.degrees
        return {"angle": _random.uniform(n, lo, hi, generator, dtype=dtype, device=device)}

    def matrix(
        self, params: Params, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        angle = get(params, "angle", "RandomRotation").to(dtype)
        m = _about_centre(_rotation_linear(angle), height, width)
        return _masked(m, get(params, "apply", "RandomRotation"))

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("degrees", self.degrees), *self._resample_fields()]


class RandomTranslation(_Geometric):
    """Shift each sample by ``(u W, v H)`` pixels with ``u ~ U[-fx, fx]``, ``v ~ U[-fy, fy]``.

    Sub-pixel shifts are interpolated (use ``interpolation="nearest"`` for whole pixels).

    Args:
        fraction: ``f`` (both axes) or ``(fx, fy)``, fractions of the width and height in [0, 1].
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill: value (or per-channel values) for the uncovered border.
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> aug = A.RandomTranslation(0.1)
        >>> aug.generate_params((2, 3, 10, 10), torch.Generator().manual_seed(0))["translate"].abs().max() <= 1.0
        tensor(True)
    """

    def __init__(
        self,
        fraction: float | tuple[float, float],
        *,
        interpolation: str = "bilinear",
        fill: float | Sequence[float] = 0.0,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(
            interpolation=interpolation,
            fill=fill,
            p=p,
            same_on_batch=same_on_batch,
            value_range=value_range,
        )
        self.fraction = _check_fraction(type(self).__name__, "fraction", fraction)

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        h, w = shape[-2], shape[-1]
        u = _random.uniform(2 * n, -1.0, 1.0, generator, dtype=dtype, device=device).view(n, 2)
        scale = torch.tensor(
            [self.fraction[0] * w, self.fraction[1] * h], dtype=dtype, device=u.device
        )
        return {"translate": u * scale}

    def matrix(
        self, params: Params, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        t = get(params, "translate", "RandomTranslation").to(dtype)
        one = torch.ones_like(t[:, 0])
        zero = torch.zeros_like(one)
        m = _affine(one, zero, zero, one, t[:, 0], t[:, 1])
        return _masked(m, get(params, "apply", "RandomTranslation"))

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("fraction", self.fraction), *self._resample_fields()]


class RandomZoom(_Geometric):
    """Scale each sample about the centre by ``s ~ U[min, max]`` (``s > 1`` zooms in).

    Args:
        range: ``r`` in [0, 1) for ``[1 - r, 1 + r]``, or a ``(min, max)`` pair of positive factors.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill: value (or per-channel values) for the border uncovered when zooming out.
        p: per-sample probability.

    Example:
        >>> import reglab.augment as A
        >>> A.RandomZoom(0.2).range
        (0.8, 1.2)
    """

    def __init__(
        self,
        range: float | tuple[float, float],
        *,
        interpolation: str = "bilinear",
        fill: float | Sequence[float] = 0.0,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(
            interpolation=interpolation,
            fill=fill,
            p=p,
            same_on_batch=same_on_batch,
            value_range=value_range,
        )
        self.range = _check_scale(type(self).__name__, "range", range)

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        lo, hi = self.range
        return {"scale": _random.uniform(n, lo, hi, generator, dtype=dtype, device=device)}

    def matrix(
        self, params: Params, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        s = get(params, "scale", "RandomZoom").to(dtype)
        zero = torch.zeros_like(s)
        m = _about_centre((s, zero, zero, s), height, width)
        return _masked(m, get(params, "apply", "RandomZoom"))

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("range", self.range), *self._resample_fields()]


class RandomAffine(_Geometric):
    """Random rotation, translation, isotropic scale and shear in one affine map per sample.

    ``M = T(t) C R(theta) S(s) Sh(sx, sy) C^-1`` with ``C`` the move to the centre, ``R`` a
    counter-clockwise rotation, ``S`` the scale and ``Sh`` the shear
    ``[[1, -tan sx, 0], [-tan sy, 1 + tan sx tan sy, 0]]`` (x shear, then y shear; kornia's
    ``get_shear_matrix2d``). Rotation direction: kornia's ``RandomAffine`` turns clockwise for a
    positive angle, this class counter-clockwise, as ``RandomRotation`` in both libraries.

    Args:
        degrees: ``d`` for ``[-d, d]`` or a ``(min, max)`` range, in degrees.
        translate: ``None``, ``f`` or ``(fx, fy)``: shifts up to ``fx W`` and ``fy H`` pixels.
        scale: ``None`` or a ``(min, max)`` range of positive factors.
        shear: ``None``, ``s`` for an x shear in ``[-s, s]`` degrees, a ``(min, max)`` x range,
            or ``(xmin, xmax, ymin, ymax)``.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill: value (or per-channel values) for points mapped in from outside.
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> aug = A.RandomAffine(10.0, translate=0.1, scale=(0.9, 1.1), shear=5.0)
        >>> sorted(aug.generate_params((4, 1, 8, 8), torch.Generator().manual_seed(0)))
        ['angle', 'apply', 'scale', 'shear', 'translate']
    """

    def __init__(
        self,
        degrees: float | tuple[float, float] = 0.0,
        translate: float | tuple[float, float] | None = None,
        scale: tuple[float, float] | None = None,
        shear: float | Sequence[float] | None = None,
        *,
        interpolation: str = "bilinear",
        fill: float | Sequence[float] = 0.0,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(
            interpolation=interpolation,
            fill=fill,
            p=p,
            same_on_batch=same_on_batch,
            value_range=value_range,
        )
        owner = type(self).__name__
        self.degrees = _check_degrees(owner, "degrees", degrees)
        self.translate = (
            None if translate is None else _check_fraction(owner, "translate", translate)
        )
        if scale is not None:
            check(
                owner,
                "scale",
                scale,
                RangePair(0, math.inf, open_left=True, open_right=True),
            )
        self.scale = None if scale is None else (float(scale[0]), float(scale[1]))
        self.shear: tuple[float, float, float, float] | None = None
        if shear is not None:
            check(
                owner,
                "shear",
                shear,
                Interval(float, 0, 90, closed="left"),
                RangePair(-90, 90, open_left=True, open_right=True),
                RangePair(-90, 90, length=4, open_left=True, open_right=True),
            )
            if isinstance(shear, (tuple, list)) and len(shear) == 4:
                self.shear = tuple(float(v) for v in shear)  # type: ignore[assignment]
            else:
                lo, hi = as_range(shear)  # type: ignore[arg-type]
                self.shear = (lo, hi, 0.0, 0.0)

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        h, w = shape[-2], shape[-1]
        dev = _random._device_of(generator, device)
        lo, hi = self.degrees
        out: Params = {"angle": _random.uniform(n, lo, hi, generator, dtype=dtype, device=dev)}
        if self.translate is None:
            out["translate"] = torch.zeros(n, 2, dtype=dtype, device=dev)
        else:
            u = _random.uniform(2 * n, -1.0, 1.0, generator, dtype=dtype, device=dev).view(n, 2)
            fx, fy = self.translate
            out["translate"] = u * torch.tensor([fx * w, fy * h], dtype=dtype, device=dev)
        if self.scale is None:
            out["scale"] = torch.ones(n, dtype=dtype, device=dev)
        else:
            out["scale"] = _random.uniform(n, *self.scale, generator, dtype=dtype, device=dev)
        if self.shear is None:
            out["shear"] = torch.zeros(n, 2, dtype=dtype, device=dev)
        else:
            sx = _random.uniform(n, *self.shear[:2], generator, dtype=dtype, device=dev)
            sy = _random.uniform(n, *self.shear[2:], generator, dtype=dtype, device=dev)
            out["shear"] = torch.stack([sx, sy], dim=1)
        return out

    def matrix(
        self, params: Params, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        owner = "RandomAffine"
        angle = get(params, "angle", owner).to(dtype)
        t = get(params, "translate", owner).to(dtype)
        s = get(params, "scale", owner).to(dtype)
        sh = torch.tan(torch.deg2rad(get(params, "shear", owner).to(dtype)))
        ra, rb, rc, rd = _rotation_linear(angle)
        kx, ky = sh[:, 0], sh[:, 1]
        # (R S) @ Sh with Sh = [[1, -kx], [-ky, 1 + kx ky]].
        sa, sb, sc, sd = torch.ones_like(kx), -kx, -ky, 1 + kx * ky
        a = s * (ra * sa + rb * sc)
        b = s * (ra * sb + rb * sd)
        c = s * (rc * sa + rd * sc)
        d = s * (rc * sb + rd * sd)
        m = _about_centre((a, b, c, d), height, width)
        m[:, 0, 2] += t[:, 0]
        m[:, 1, 2] += t[:, 1]
        return _masked(m, get(params, "apply", owner))

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [
            ("degrees", self.degrees),
            ("translate", self.translate),
            ("scale", self.scale),
            ("shear", self.shear),
            *self._resample_fields(),
        ]


# ------------------------------------------------------------------------------ crop and erase
class RandomCrop(Augmentation):
    """Pad by ``padding`` pixels (value ``fill``) and crop a random ``size`` window per sample.

    Exact (integer offsets, no interpolation). A sample that is not transformed (probability
    ``1 - p``) gets the centre window. The output size differs from the input when ``size``
    does, so ``Compose`` does not fuse a crop with the affine transforms around it.

    Args:
        size: ``s`` or ``(h, w)`` of the output.
        padding: pixels added on every side before cropping.
        fill: value (or per-channel values) of the padding.
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> A.RandomCrop(32, padding=4)(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        padding: int = 0,
        *,
        fill: float | Sequence[float] = 0.0,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, value_range=value_range)
        owner = type(self).__name__
        size_ok = Interval(int, 1, None)
        if isinstance(size, (tuple, list)) and len(size) == 2:
            for v in size:
                check(owner, "size", v, size_ok)
            self.size = (int(size[0]), int(size[1]))
        else:
            check(owner, "size", size, size_ok)
            self.size = (int(size), int(size))  # type: ignore[arg-type]
        check(owner, "padding", padding, Interval(int, 0, None))
        check(owner, "fill", fill, *_FILL)
        self.padding = int(padding)
        self.fill = _fill_tuple(fill)

    def _out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*shape[:-2], *self.size)

    def _room(self, h: int, w: int) -> tuple[int, int]:
        ph, pw = h + 2 * self.padding, w + 2 * self.padding
        th, tw = self.size
        if th > ph or tw > pw:
            raise ConfigError(
                f"RandomCrop cannot cut a {self.size} window from a ({h}, {w}) image padded by "
                f"{self.padding} to ({ph}, {pw})."
            )
        return ph - th, pw - tw

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        ry, rx = self._room(shape[-2], shape[-1])
        high = torch.tensor([ry + 1, rx + 1]).expand(n, 2)
        return {"offset": _random.randint(high, generator, device=device)}

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        n, c, h, w = x.shape
        ry, rx = self._room(h, w)
        apply = get(params, "apply", "RandomCrop").to(x.device)
        off = get(params, "offset", "RandomCrop").to(x.device).long()
        centre = torch.tensor([ry // 2, rx // 2], device=x.device)
        off = torch.where(apply.view(-1, 1), off, centre)
        if bool((off < 0).any()) or bool((off[:, 0] > ry).any()) or bool((off[:, 1] > rx).any()):
            raise ConfigError(
                f"RandomCrop.apply got crop offsets outside the padded image ({h + 2 * self.padding}, "
                f"{w + 2 * self.padding}): draw the params for this batch's shape."
            )
        _fill_tensor("RandomCrop", self.fill, c, x.dtype, x.device)
        th, tw = self.size
        # Output pixel p reads input pixel p + offset - padding. Nearest sampling at those exact
        # integer coordinates copies values bit for bit and reads the fill outside the image,
        # without building the padded batch. In normalised coordinates (align_corners=False):
        # m = u * tw / w + (tw + 2 d) / w - 1.
        d = (off - self.padding).to(x.dtype)
        zero = torch.zeros(n, dtype=x.dtype, device=x.device)
        theta = torch.stack(
            [
                zero + tw / w,
                zero,
                (tw + 2 * d[:, 1]) / w - 1,
                zero,
                zero + th / h,
                (th + 2 * d[:, 0]) / h - 1,
            ],
            dim=1,
        ).view(n, 2, 3)
        return _sample(x, theta, (th, tw), "nearest", self.fill)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        fill: Any = self.fill[0] if len(self.fill) == 1 else self.fill
        return [("size", self.size), ("padding", self.padding), ("fill", fill)]


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

    def __init__(
        self,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: float | Sequence[float] = 0.0,
        *,
        p: float = 0.5,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, value_range=value_range)
        owner = type(self).__name__
        check(owner, "scale", scale, RangePair(0, 1, open_left=True))
        check(owner, "ratio", ratio, RangePair(0, math.inf, open_left=True, open_right=True))
        check(owner, "value", value, *_FILL)
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.value = _fill_tuple(value)

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        h, w = shape[-2], shape[-1]
        dev = _random._device_of(generator, device)
        area = _random.uniform(n, *self.scale, generator, dtype=torch.float64, device=dev) * (h * w)
        log_r = _random.uniform(
            n,
            math.log(self.ratio[0]),
            math.log(self.ratio[1]),
            generator,
            dtype=torch.float64,
            device=dev,
        )
        r = torch.exp(log_r)
        eh = torch.sqrt(area * r).round().clamp(1, h).long()
        ew = torch.sqrt(area / r).round().clamp(1, w).long()
        y0 = _random.randint(h - eh + 1, generator, device=dev)
        x0 = _random.randint(w - ew + 1, generator, device=dev)
        return {"box": torch.stack([y0, x0, eh, ew], dim=1)}

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        c, h, w = x.shape[1:]
        box = get(params, "box", "RandomErasing").to(x.device)
        apply = get(params, "apply", "RandomErasing").to(x.device)
        mask = _box_mask(box, h, w) & apply.view(-1, 1, 1, 1)
        value = _fill_tensor("RandomErasing", self.value, c, x.dtype, x.device)
        return torch.where(mask, value, x)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        value: Any = self.value[0] if len(self.value) == 1 else self.value
        return [("scale", self.scale), ("ratio", self.ratio), ("value", value)]


def _box_mask(box: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, 1, H, W) booleans, True inside each sample's ``(y0, x0, height, width)`` box."""
    y0, x0, bh, bw = box.long().unbind(1)
    ys = torch.arange(h, device=box.device)
    xs = torch.arange(w, device=box.device)
    rows = (ys >= y0[:, None]) & (ys < (y0 + bh)[:, None])
    cols = (xs >= x0[:, None]) & (xs < (x0 + bw)[:, None])
    return (rows[:, :, None] & cols[:, None, :]).unsqueeze(1)


# ------------------------------------------------------------------------------ intensity
class GaussianNoise(Augmentation):
    """Add ``N(0, std^2)`` noise to every pixel: ``y = x + std * z``, ``z ~ N(0, 1)``.

    The noise is a parameter (``params["noise"]``, zero for samples not transformed), so a
    batch replays exactly. Large CPU draws are split into a fixed number of seeded streams filled
    in parallel (same bits for the same seed whatever the thread count).

    Args:
        std: standard deviation in the image's units (``>= 0``).
        p: per-sample probability.

    Example:
        >>> import torch, reglab.augment as A
        >>> y = A.GaussianNoise(0.1)(torch.zeros(64, 3, 32, 32), torch.Generator().manual_seed(0))
        >>> round(y.std().item(), 2)
        0.1
    """

    def __init__(
        self,
        std: float = 0.1,
        *,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, value_range=value_range)
        check(type(self).__name__, "std", std, Interval(float, 0, None))
        self.std = float(std)

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        noise = _random.normal(shape, self.std, generator, dtype=dtype, device=device)
        return {"noise": noise}

    def generate_params(
        self,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Params:
        params = super().generate_params(shape, generator, dtype=dtype, device=device)
        apply = params["apply"]
        if not bool(apply.all()):
            params["noise"] = params["noise"] * apply.view(-1, 1, 1, 1).to(params["noise"].dtype)
        return params

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        noise = get(params, "noise", "GaussianNoise")
        return x + noise.to(device=x.device, dtype=x.dtype)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("std", self.std)]


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

    def __init__(
        self,
        delta: float | tuple[float, float] = 0.2,
        *,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, value_range=value_range)
        check(
            type(self).__name__,
            "delta",
            delta,
            Interval(float, 0, None),
            RangePair(-math.inf, math.inf, open_left=True, open_right=True),
        )
        self.delta = as_range(delta)

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        return {"delta": _random.uniform(n, *self.delta, generator, dtype=dtype, device=device)}

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        delta = get(params, "delta", "RandomBrightness").to(device=x.device, dtype=x.dtype)
        apply = get(params, "apply", "RandomBrightness").to(x.device)
        delta = torch.where(apply, delta, torch.zeros_like(delta))
        return x + delta.view(-1, 1, 1, 1)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("delta", self.delta)]


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

    def __init__(
        self,
        factor: float | tuple[float, float] = 0.2,
        *,
        p: float = 1.0,
        same_on_batch: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, value_range=value_range)
        check(
            type(self).__name__,
            "factor",
            factor,
            Interval(float, 0, 1),
            RangePair(0, math.inf, open_right=True),
        )
        self.factor = as_range(factor, centre=1.0)

    def _draw(
        self,
        n: int,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device | None,
    ) -> Params:
        return {"factor": _random.uniform(n, *self.factor, generator, dtype=dtype, device=device)}

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        c = get(params, "factor", "RandomContrast").to(device=x.device, dtype=x.dtype)
        apply = get(params, "apply", "RandomContrast").to(x.device)
        mean = x.mean(dim=(-2, -1), keepdim=True)
        y = (x - mean) * c.view(-1, 1, 1, 1) + mean
        return torch.where(apply.view(-1, 1, 1, 1), y, x)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("factor", self.factor)]


# ------------------------------------------------------------------------------ Compose
class Compose(Augmentation):
    """Apply augmentations in order, resampling once per run of consecutive affine transforms.

    Consecutive geometric transforms (flip, rotation, translation, zoom, affine) that share
    ``interpolation`` and ``fill`` are fused: their per-sample matrices are multiplied
    (``M = M_k ... M_1``) and the batch is resampled once (one ``grid_sample``), so a
    flip + rotation + translation pipeline interpolates once instead of three times. A run of
    flips alone takes the exact flip path (no interpolation). Parameters are the children's,
    keyed ``"<index>.<name>"``.

    Args:
        transforms: the augmentations, in order (nested ``Compose`` objects are flattened).
        value_range: ``(low, high)`` of the pixel values (integer images; clips float output).

    Example:
        >>> import torch, reglab.augment as A
        >>> aug = A.Compose([A.RandomFlip(), A.RandomRotation(15.0), A.GaussianNoise(0.05)])
        >>> params = aug.generate_params((4, 3, 8, 8), torch.Generator().manual_seed(0))
        >>> sorted(params)[:3]
        ['0.horizontal', '0.vertical', '1.angle']
    """

    _draws_mask = False

    def __init__(
        self,
        transforms: Sequence[Augmentation],
        *,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(p=1.0, same_on_batch=False, value_range=value_range)
        if not isinstance(transforms, (list, tuple)):
            raise ConfigError(
                "The 'transforms' parameter of Compose must be a list of augmentations. "
                f"Got {type(transforms).__name__} instead."
            )
        flat: list[Augmentation] = []
        for t in transforms:
            if getattr(t, "mixes_labels", False):
                raise ConfigError(
                    f"Compose takes augmentations of the input only; {type(t).__name__} mixes "
                    f"labels: call its mix(x, y) on the batch after the augmentations."
                )
            if not isinstance(t, Augmentation):
                raise ConfigError(
                    "The 'transforms' parameter of Compose must be a list of augmentations. "
                    f"Got an element of type {type(t).__name__} instead."
                )
            if isinstance(t, Compose) and t.value_range is None:
                flat.extend(t.transforms_list())
            else:
                flat.append(t)
        layouts = {t._layout for t in flat}
        if len(layouts) > 1:
            raise ConfigError("Compose cannot mix image and tabular augmentations in one pipeline.")
        self._layout = layouts.pop() if layouts else "image"  # type: ignore[misc]
        self.transforms: list[Augmentation] = flat
        self._segments = self._plan()

    def transforms_list(self) -> list[Augmentation]:
        """The (flattened) augmentations, in order."""
        return list(self.transforms)

    def _plan(self) -> list[list[int]]:
        """Group indices into runs: a fusable geometric run, or a single other transform.

        Flips fit any run (they never sample outside the image); other geometric transforms
        join a run when their interpolation and fill match the run's.
        """
        segments: list[list[int]] = []
        in_run = False
        run_key: tuple[str, tuple[float, ...]] | None = None
        for i, t in enumerate(self.transforms):
            if isinstance(t, _Geometric) and t.value_range is None:
                key = None if isinstance(t, RandomFlip) else (t.interpolation, t.fill)
                if in_run and (key is None or run_key is None or key == run_key):
                    segments[-1].append(i)
                    run_key = run_key or key
                    continue
                segments.append([i])
                in_run, run_key = True, key
            else:
                segments.append([i])
                in_run, run_key = False, None
        return segments

    def generate_params(
        self,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Params:
        full = self._full_shape(shape)
        params: Params = {}
        for i, t in enumerate(self.transforms):
            sub = t.generate_params(full, generator, dtype=dtype, device=device)
            params.update({f"{i}.{k}": v for k, v in sub.items()})
            full = t._out_shape(full)
        return params

    def _child_params(self, params: Params, i: int) -> Params:
        prefix = f"{i}."
        return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        out = x
        fresh = False  # whether `out` is our own buffer (safe to update in place)
        for seg in self._segments:
            first = self.transforms[seg[0]]
            if isinstance(first, _Geometric) and first.value_range is None:
                subs = [self._child_params(params, i) for i in seg]
                if all(isinstance(self.transforms[i], RandomFlip) for i in seg):
                    h = torch.zeros(out.shape[0], dtype=torch.bool)
                    v = torch.zeros(out.shape[0], dtype=torch.bool)
                    for sp in subs:
                        h = h ^ get(sp, "horizontal", "RandomFlip").cpu()
                        v = v ^ get(sp, "vertical", "RandomFlip").cpu()
                    out = _flip(out, h, v)
                else:
                    hh, ww = out.shape[-2], out.shape[-1]
                    geo = [t for i in seg if isinstance(t := self.transforms[i], _Geometric)]
                    m = geo[0].matrix(subs[0], hh, ww, out.dtype).to(out.device)
                    for t, sp in zip(geo[1:], subs[1:]):
                        m = torch.bmm(t.matrix(sp, hh, ww, out.dtype).to(out.device), m)
                    lead = next(t for t in geo if not isinstance(t, RandomFlip))
                    _fill_tensor(
                        type(lead).__name__, lead.fill, out.shape[1], out.dtype, out.device
                    )
                    out = warp_affine(out, m, lead.interpolation, lead.fill)
                fresh = True
                continue
            t = self.transforms[seg[0]]
            sp = self._child_params(params, seg[0])
            if isinstance(t, GaussianNoise) and fresh and t.value_range is None:
                out.add_(get(sp, "noise", "GaussianNoise").to(device=out.device, dtype=out.dtype))
                continue
            if isinstance(t, Compose):
                y = t.apply(out, sp)
            else:
                t._check_params(sp, out.shape[0])
                y = t._apply(out, sp)
                if t.value_range is not None:
                    y = y.clamp(*t.value_range)
            fresh = y is not out and y is not x
            out = y
        return out if out is not x else x.clone()

    def _out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        for t in self.transforms:
            shape = t._out_shape(shape)
        return shape

    def __repr__(self) -> str:
        inner = "".join(f"\n  {t!r}," for t in self.transforms)
        extra = f", value_range={self.value_range!r}" if self.value_range is not None else ""
        return f"Compose([{inner}\n]{extra})"
