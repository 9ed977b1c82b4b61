"""Geometric image augmentations: flips, rotations, translations, zooms, affine maps and crops.

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

Each affine augmentation declares its draws and ``build``, the function that turns them into
per-sample matrices; :class:`~reglab.augment.Compose` multiplies the matrices of consecutive
ones and resamples once. Flips and crops copy pixels exactly (no interpolation).

Example:
    >>> import torch, reglab.augment as A
    >>> aug = A.RandomRotation(15.0)
    >>> sorted(aug.generate_params((8, 3, 32, 32), torch.Generator().manual_seed(0)))
    ['angle', 'apply']
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from .. import _rng
from .._checks import Constraints, Interval, OneOf, validate_params
from ..errors import ConfigError
from ._base import (
    SAME_ON_BATCH,
    VALUE_RANGE,
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
    p_option,
    uniform,
)

__all__ = [
    "RandomAffine",
    "RandomCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "warp_affine",
]


# ------------------------------------------------------------------------------ geometry kernel
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
    fill_t = fill_tensor("warp_affine", fill, c, x.dtype, x.device)
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


# ------------------------------------------------------------------------------ flips
def flip_matrix(
    horizontal: torch.Tensor, vertical: torch.Tensor, h: int, w: int, dtype: torch.dtype
) -> torch.Tensor:
    """Per-sample (N, 3, 3) pixel maps of the flips (``x -> W - 1 - x``, ``y -> H - 1 - y``)."""
    sx = torch.where(horizontal, -1.0, 1.0).to(dtype)
    sy = torch.where(vertical, -1.0, 1.0).to(dtype)
    zero = torch.zeros_like(sx)
    return _affine(sx, zero, zero, sy, (1 - sx) * (w - 1) / 2, (1 - sy) * (h - 1) / 2)


def flip(x: torch.Tensor, horizontal: torch.Tensor, vertical: torch.Tensor) -> torch.Tensor:
    """Exact per-sample flips of an (N, C, H, W) batch; always returns a new tensor.

    Only the flipped samples are read twice: they are gathered, flipped and written into a copy
    of the batch (values copied bit for bit; no resampling).
    """
    h = horizontal.to(x.device)
    v = vertical.to(x.device)
    out: torch.Tensor | None = None
    for sel, dims in ((h & ~v, (-1,)), (v & ~h, (-2,)), (h & v, (-2, -1))):
        count = int(sel.sum())
        if count == 0:
            continue
        if count == x.shape[0]:
            return x.flip(dims)
        idx = sel.nonzero().squeeze(1)
        if out is None:
            out = x.clone()
        out.index_copy_(0, idx, x.index_select(0, idx).flip(dims))
    return x.clone() if out is None else out


# ------------------------------------------------------------------------------ declarations
def _degrees(owner: str, value: Any) -> tuple[float, float]:
    return as_range(value)


def _fraction(owner: str, value: Any) -> tuple[float, float]:
    if isinstance(value, (tuple, list)):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def _zoom(owner: str, value: Any) -> tuple[float, float]:
    return as_range(value, centre=1.0)


def _pair(owner: str, value: Any) -> tuple[float, float]:
    return float(value[0]), float(value[1])


def _shear(owner: str, value: Any) -> tuple[float, float, float, float]:
    if isinstance(value, (tuple, list)) and len(value) == 4:
        return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))
    lo, hi = as_range(value)
    return (lo, hi, 0.0, 0.0)


DEGREES = (Interval(float, 0, 180), RangePair(-180, 180))
FRACTION = (Interval(float, 0, 1), RangePair(0, 1, ordered=False))
INTERPOLATION = Setting("interpolation", (OneOf("bilinear", "nearest"),), "bilinear")
FILL_OPTION = fill_setting("fill")
#: The options of an augmentation that resamples: how, what fills the outside, and the usual three.
WARP_OPTIONS = (INTERPOLATION, FILL_OPTION, p_option(1.0), SAME_ON_BATCH, VALUE_RANGE)


def _shift(setting: str) -> Any:
    """Sampler of per-sample shifts ``(u fx W, v fy H)``, ``u, v ~ U[-1, 1]`` (zero if unset)."""

    def sample(aug: Any, at: Sampling) -> torch.Tensor:
        fraction = getattr(aug, setting)
        n, dtype = at.n, at.dtype
        if fraction is None:
            return torch.zeros(n, 2, dtype=dtype, device=at.home)
        u = _rng.uniform(2 * n, -1.0, 1.0, at.generator, dtype=dtype, device=at.device).view(n, 2)
        h, w = at.shape[-2], at.shape[-1]
        return u * torch.tensor([fraction[0] * w, fraction[1] * h], dtype=dtype, device=u.device)

    return sample


def _coin(axis: str) -> Any:
    """Sampler of per-sample flips along ``axis`` with probability ``p`` (none if excluded)."""

    def sample(aug: Any, at: Sampling) -> torch.Tensor:
        if aug.mode not in (axis, "both"):
            return torch.zeros(at.n, dtype=torch.bool, device=at.home)
        return _rng.bernoulli(at.n, aug.p, at.generator, device=at.device)

    return sample


# ------------------------------------------------------------------------------ matrices
def rotation_matrix(angle: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Counter-clockwise (on screen) rotations by ``angle`` degrees about the image centre."""
    return _about_centre(_rotation_linear(angle), h, w)


def translation_matrix(translate: torch.Tensor) -> torch.Tensor:
    """Shifts by ``translate[:, 0]`` pixels right and ``translate[:, 1]`` down."""
    one = torch.ones_like(translate[:, 0])
    zero = torch.zeros_like(one)
    return _affine(one, zero, zero, one, translate[:, 0], translate[:, 1])


def zoom_matrix(scale: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Isotropic scaling by ``scale`` about the image centre."""
    zero = torch.zeros_like(scale)
    return _about_centre((scale, zero, zero, scale), h, w)


def affine_matrix(
    angle: torch.Tensor,
    translate: torch.Tensor,
    scale: torch.Tensor,
    shear: torch.Tensor,
    h: int,
    w: int,
) -> torch.Tensor:
    """``T(t) C R(angle) S(scale) Sh(shear) C^-1`` (see :class:`RandomAffine`)."""
    sh = torch.tan(torch.deg2rad(shear))
    ra, rb, rc, rd = _rotation_linear(angle)
    kx, ky = sh[:, 0], sh[:, 1]
    # (R S) @ Sh with Sh = [[1, -kx], [-ky, 1 + kx ky]].
    sa, sb, sc, sd = torch.ones_like(kx), -kx, -ky, 1 + kx * ky
    a = scale * (ra * sa + rb * sc)
    b = scale * (ra * sb + rb * sd)
    c = scale * (rc * sa + rd * sc)
    d = scale * (rc * sb + rd * sd)
    m = _about_centre((a, b, c, d), h, w)
    m[:, 0, 2] += translate[:, 0]
    m[:, 1, 2] += translate[:, 1]
    return m


# ------------------------------------------------------------------------------ geometric base
class _Geometric(Augmentation):
    """An affine augmentation: its draws build per-sample matrices, so ``Compose`` can fuse it.

    ``build(draws, height, width)`` maps the drawn parameters (cast to the working dtype) to
    (N, 3, 3) maps from input to output pixel coordinates; samples not transformed get the
    identity.
    """

    options: ClassVar[tuple[Setting, ...]] = WARP_OPTIONS
    interpolation: str = "bilinear"
    fill: tuple[float, ...] = (0.0,)
    build: ClassVar[Any] = None

    def matrix(
        self, draws: Draws, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """Per-sample (N, 3, 3) maps from input to output pixel coordinates (identity if skipped)."""
        owner = type(self).__name__
        values = {d.key: get(draws, d.key, owner).to(dtype) for d in self.draws}
        m = type(self).build(values, height, width)
        return _masked(m, get(draws, "apply", owner))

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        fill_tensor(type(self).__name__, self.fill, x.shape[1], x.dtype, x.device)
        m = self.matrix(draws, x.shape[-2], x.shape[-1], x.dtype)
        return warp_affine(x, m, self.interpolation, self.fill)


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
    settings = (Setting("mode", (OneOf("horizontal", "vertical", "both"),), "horizontal"),)
    options = (p_option(0.5), SAME_ON_BATCH, VALUE_RANGE)
    draws = (Draw("horizontal", _coin("horizontal")), Draw("vertical", _coin("vertical")))
    mode: str

    def matrix(
        self, draws: Draws, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        h = get(draws, "horizontal", "RandomFlip")
        v = get(draws, "vertical", "RandomFlip")
        return flip_matrix(h, v, height, width, dtype)

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        return flip(x, get(draws, "horizontal", "RandomFlip"), get(draws, "vertical", "RandomFlip"))


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

    settings = (Setting("degrees", DEGREES, store=_degrees),)
    draws = (Draw("angle", uniform("degrees")),)
    degrees: tuple[float, float]

    @staticmethod
    def build(v: Draws, h: int, w: int) -> torch.Tensor:
        return rotation_matrix(v["angle"], h, w)


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

    settings = (Setting("fraction", FRACTION, store=_fraction),)
    draws = (Draw("translate", _shift("fraction")),)
    fraction: tuple[float, float]

    @staticmethod
    def build(v: Draws, h: int, w: int) -> torch.Tensor:
        return translation_matrix(v["translate"])


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

    settings = (
        Setting(
            "range",
            (
                Interval(float, 0, 1, closed="left"),
                RangePair(0, math.inf, open_left=True, open_right=True),
            ),
            store=_zoom,
        ),
    )
    draws = (Draw("scale", uniform("range")),)
    range: tuple[float, float]

    @staticmethod
    def build(v: Draws, h: int, w: int) -> torch.Tensor:
        return zoom_matrix(v["scale"], h, w)


_OPEN_ANGLE = {"open_left": True, "open_right": True}


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

    settings = (
        Setting("degrees", DEGREES, 0.0, store=_degrees),
        Setting("translate", FRACTION, None, store=_fraction, optional=True),
        Setting("scale", (RangePair(0, math.inf, **_OPEN_ANGLE),), None, _pair, optional=True),
        Setting(
            "shear",
            (
                Interval(float, 0, 90, closed="left"),
                RangePair(-90, 90, **_OPEN_ANGLE),
                RangePair(-90, 90, length=4, **_OPEN_ANGLE),
            ),
            None,
            _shear,
            optional=True,
        ),
    )
    draws = (
        Draw("angle", uniform("degrees")),
        Draw("translate", _shift("translate")),
        Draw("scale", uniform("scale", missing=1.0)),
        Draw("shear", uniform("shear", columns=2)),
    )
    degrees: tuple[float, float]
    translate: tuple[float, float] | None
    scale: tuple[float, float] | None
    shear: tuple[float, float, float, float] | None

    @staticmethod
    def build(v: Draws, h: int, w: int) -> torch.Tensor:
        return affine_matrix(v["angle"], v["translate"], v["scale"], v["shear"], h, w)


# ------------------------------------------------------------------------------ crop
#: The constraints of a crop size (an int, or each of a pair), checked by validate_params.
_SIZE_CONSTRAINTS: Constraints = {"size": [Interval(int, 1, None)]}


def _size(owner: str, value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        for v in value:
            validate_params(owner, {"size": v}, _SIZE_CONSTRAINTS)
        return int(value[0]), int(value[1])
    validate_params(owner, {"size": value}, _SIZE_CONSTRAINTS)
    return int(value), int(value)


def _crop_offset(aug: Any, at: Sampling) -> torch.Tensor:
    ry, rx = aug._room(at.shape[-2], at.shape[-1])
    high = torch.tensor([ry + 1, rx + 1]).expand(at.n, 2)
    return _rng.randint(high, at.generator, device=at.device)


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

    settings = (
        Setting("size", store=_size),
        Setting("padding", (Interval(int, 0, None),), 0, store=lambda o, v: int(v)),
    )
    options = (FILL_OPTION, p_option(1.0), SAME_ON_BATCH, VALUE_RANGE)
    draws = (Draw("offset", _crop_offset),)
    size: tuple[int, int]
    padding: int
    fill: tuple[float, ...]

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

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        n, c, h, w = x.shape
        ry, rx = self._room(h, w)
        apply = get(draws, "apply", "RandomCrop").to(x.device)
        off = get(draws, "offset", "RandomCrop").to(x.device).long()
        centre = torch.tensor([ry // 2, rx // 2], device=x.device)
        off = torch.where(apply.view(-1, 1), off, centre)
        if bool((off < 0).any()) or bool((off[:, 0] > ry).any()) or bool((off[:, 1] > rx).any()):
            raise ConfigError(
                f"RandomCrop.apply got crop offsets outside the padded image ({h + 2 * self.padding}, "
                f"{w + 2 * self.padding}): redraw them for this batch's shape."
            )
        fill_tensor("RandomCrop", self.fill, c, x.dtype, x.device)
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
