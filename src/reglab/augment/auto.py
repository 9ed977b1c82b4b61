"""Automatic augmentation policies: ``RandAugment`` and ``TrivialAugment``, batched per sample.

Both draw, for every sample on its own, an operation from the same list of 14 (RandAugment's
paper, Cubuk et al. 2020, and torchvision's ``RandAugment``/``TrivialAugmentWide``) and a
magnitude, then apply it. The draws are ``draws["op"]`` (``(N, num_ops)`` int64 indices into
:data:`OPERATIONS`) and ``draws["magnitude"]`` (``(N, num_ops)`` float32, the signed value in
the operation's own units, table below), so a batch replays exactly through
``generate_params``/``apply``.

Operations and magnitude ranges (torchvision's ``_augmentation_space``, ``num_magnitude_bins``
bins from ``linspace(0, max, bins)``; "signed" ones get a random sign per sample):

============  ============================  =====================  =========================
operation     magnitude (its units)         RandAugment max        TrivialAugment (Wide) max
============  ============================  =====================  =========================
Identity      none                          --                     --
ShearX/Y      shear factor ``s``, signed    0.3                    0.99
TranslateX/Y  pixels, signed, truncated     ``150/331 W`` (``H``)  32
Rotate        degrees, signed               30                     135
Brightness    ``f - 1``, signed             0.9                    0.99
Color         ``f - 1``, signed             0.9                    0.99
Contrast      ``f - 1``, signed             0.9                    0.99
Sharpness     ``f - 1``, signed             0.9                    0.99
Posterize     bits kept                     8 down to 4            8 down to 2
Solarize      threshold, fraction of range  1 down to 0            1 down to 0
AutoContrast  none                          --                     --
Equalize      none                          --                     --
============  ============================  =====================  =========================

Posterize keeps ``round(8 - k / ((bins - 1) / 4))`` bits at bin ``k`` (``/ 6`` for
TrivialAugment); translations are truncated towards zero to whole pixels, as torchvision does.

What each operation does, for values in ``[lo, hi]`` (``value_range``, default ``(0, 1)`` for float
images; ``(0, 255)`` for ``uint8``), every result clipped to ``[lo, hi]``:

* shears and rotations are one affine map per sample about the image centre (``x' = x - s y``
  for ShearX, ``y' = y - s x`` for ShearY, a positive angle turns counter-clockwise), resampled
  with ``interpolation`` (default bilinear), ``fill`` outside the image; the samples of a round
  that drew one are resampled in one ``grid_sample``. torchvision shears about the top-left
  corner and resamples with ``nearest`` by default; kornia, whose convention this follows,
  shears about the centre, bilinearly. Translations move the content right/down by whole
  pixels, copied exactly (``fill`` in the uncovered border).
* Brightness ``lo + f (x - lo)``; Color ``g + f (x - g)`` with ``g`` the grey level
  ``0.299 R + 0.587 G + 0.114 B``; Contrast ``m + f (x - m)`` with ``m`` the mean grey level of the
  image; Sharpness ``b + f (x - b)`` with ``b`` the 3x3 ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13``
  smoothing inside the border (border pixels kept); ``f = 1 + magnitude``.
* Posterize keeps the high ``bits`` of the 8-bit level ``floor(255 (x - lo) / (hi - lo))`` (8 bits:
  unchanged; 0: ``lo``); Solarize replaces ``x >= lo + t (hi - lo)`` by ``hi + lo - x``;
  AutoContrast stretches each channel's ``[min, max]`` to ``[lo, hi]`` (a constant channel is
  kept); Equalize equalizes each channel's 256-level histogram (PIL's ``ImageOps.equalize``
  lookup table on the 8-bit levels above).

Speed: every round sorts the samples by operation; each operation gathers its samples into their
contiguous run of the round's new batch and transforms them there, in place where it can, while
they are in cache (Brightness, Color and Contrast as one blend).

Grey (1-channel) images: Color leaves them unchanged (their grey level is themselves) and
Contrast blends towards the image's mean; every other operation is the same per channel.

Example:
    >>> import torch, reglab.augment as A
    >>> aug = A.RandAugment(num_ops=2, magnitude=9)
    >>> x = torch.rand(8, 3, 32, 32)
    >>> draws = aug.generate_params(x.shape, torch.Generator().manual_seed(0))
    >>> draws["op"].shape, draws["magnitude"].shape
    (torch.Size([8, 2]), torch.Size([8, 2]))
    >>> torch.equal(aug.apply(x, draws), aug(x, torch.Generator().manual_seed(0)))
    True
"""

from __future__ import annotations

from typing import ClassVar

import torch

from .. import _rng
from .._checks import Constraints, Interval, validate_params
from ..errors import ConfigError
from ._base import (
    Augmentation,
    Sampling,
    Setting,
    fill_tensor,
    get,
)
from .geometric import WARP_OPTIONS, _sample

__all__ = ["OPERATIONS", "RandAugment", "TrivialAugment"]

#: The operations, in the order of their index in ``draws["op"]`` (torchvision's, with Rotate
#: moved next to the shears: a round resamples the samples of those three in one call).
OPERATIONS = (
    "Identity",
    "ShearX",
    "ShearY",
    "Rotate",
    "TranslateX",
    "TranslateY",
    "Brightness",
    "Color",
    "Contrast",
    "Sharpness",
    "Posterize",
    "Solarize",
    "AutoContrast",
    "Equalize",
)
_NUM_OPS = len(OPERATIONS)
_RESAMPLED = (1, 4)  # indices [1, 4): ShearX, ShearY, Rotate
_SIGNED = (False, True, True, True, True, True, True, True, True, True, False, False, False, False)
_GREY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, kornia's and PIL's rgb_to_grayscale

_Values = dict[str, torch.Tensor]


def _table(
    bins: int,
    shear: float,
    translate: tuple[float, float],
    rotate: float,
    enhance: float,
    posterize_span: int,
) -> torch.Tensor:
    """(14, bins) float64: the magnitude of every operation at every bin (unsigned)."""
    t = torch.zeros(_NUM_OPS, bins, dtype=torch.float64)

    def ramp(top: float) -> torch.Tensor:
        return torch.linspace(0.0, top, bins, dtype=torch.float64)

    t[1] = t[2] = ramp(shear)
    t[3] = ramp(rotate)
    t[4] = ramp(translate[0]).trunc()
    t[5] = ramp(translate[1]).trunc()
    t[6] = t[7] = t[8] = t[9] = ramp(enhance)
    k = torch.arange(bins, dtype=torch.float64)
    t[10] = (8 - k / ((bins - 1) / posterize_span)).round()
    t[11] = torch.linspace(1.0, 0.0, bins, dtype=torch.float64)
    return t


# ------------------------------------------------------------------------------ operations
# Each takes a float (n, C, H, W) slice of a batch the policy owns, its (n,) magnitudes and the
# value range, and returns the new values: ``x`` itself updated in place, or a new tensor.
def _grey(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (r * _GREY[0]).add_(g, alpha=_GREY[1]).add_(b, alpha=_GREY[2]).unsqueeze(1)


def _blend_(
    x: torch.Tensor, other: torch.Tensor, m: torch.Tensor, lo: float, hi: float
) -> torch.Tensor:
    """PIL's ``ImageEnhance`` blend ``other + f (x - other)``, ``f = 1 + m``, clipped, in place.

    Written as ``x + (1 - f) (other - x) = x - m (other - x)``: one in-place ``lerp``.
    """
    return x.lerp_(other, -m.view(-1, 1, 1, 1)).clamp_(lo, hi)


def _brightness(x: torch.Tensor, m: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    f = (1 + m).view(-1, 1, 1, 1)
    if lo == 0.0:
        return x.mul_(f).clamp_(lo, hi)
    return x.sub_(lo).mul_(f).add_(lo).clamp_(lo, hi)


def _color(x: torch.Tensor, m: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    return _blend_(x, _grey(x), m, lo, hi)


def _contrast(x: torch.Tensor, m: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    mean = _grey(x).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend_(x, mean, m, lo, hi)


def _enhance(
    x: torch.Tensor, op: torch.Tensor, m: torch.Tensor, lo: float, hi: float
) -> torch.Tensor:
    """Brightness, Color and Contrast (``op`` 6, 7, 8) in one in-place blend.

    Each blends towards its own image: black (``lo``), the grey level, the mean grey level.
    """
    grey = _grey(x)
    w = torch.stack([op == 6, op == 7, op == 8], dim=1).to(x.dtype).view(-1, 3, 1, 1)
    mean = grey.mean(dim=(-2, -1), keepdim=True)
    other = (grey * w[:, 1:2]).add_(mean * w[:, 2:3]).add_(w[:, 0:1] * lo)
    if x.shape[1] == 1:  # Color leaves a grey image as it is
        m = torch.where(op == 7, 0.0, m)
    return _blend_(x, other, m, lo, hi)


def _sharpness(x: torch.Tensor, m: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    h, w = x.shape[-2:]
    if h < 3 or w < 3:
        return x  # no interior: the smoothed image is the image
    # The 3x3 kernel [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13 is the 3x3 box sum plus 4 times the
    # centre: two shifted sums (rows, then columns) instead of a convolution, which is several
    # times slower on CPU for one-channel planes this small. Border pixels keep their values.
    rows = x[..., :, :-2] + x[..., :, 1:-1] + x[..., :, 2:]
    box = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]
    inner = x[..., 1:-1, 1:-1]
    smooth = box.add_(inner, alpha=4.0).div_(13.0).clamp_(lo, hi)
    _blend_(inner, smooth, m, lo, hi)
    return x.clamp_(lo, hi)


def _keep(x: torch.Tensor, flags: torch.Tensor) -> torch.Tensor:
    """(n, 1, 1, 1) float weights, 1 where ``flags`` is set (``lerp`` by them: no full-size
    boolean select, several times slower than arithmetic on CPU)."""
    return flags.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def _levels(x: torch.Tensor, lo: float, hi: float) -> tuple[torch.Tensor, float]:
    """The 8-bit level ``floor(255 (x - lo) / (hi - lo))`` (as a float tensor) and the scale."""
    scale = 255.0 / (hi - lo)  # exactly 1.0 for (0, 255) and 255.0 for (0, 1)
    shifted = x if lo == 0.0 else x - lo
    return (shifted * scale).floor_().clamp_(0, 255), scale


def _posterize(x: torch.Tensor, m: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    bits = m.round().clamp(0, 8).view(-1, 1, 1, 1)
    level, scale = _levels(x, lo, hi)
    step = torch.pow(2.0, 8 - bits).to(x.dtype)
    q = (level / step).floor_().mul_(step).div_(scale)
    if lo != 0.0:
        q = q.add_(lo)
    return torch.lerp(q, x, _keep(x, bits >= 8))


def _solarize(x: torch.Tensor, m: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    threshold = (lo + m * (hi - lo)).view(-1, 1, 1, 1)
    # at = 1 where x >= threshold (sign 0 or 1, plus 1, clipped), else 0; y = x + at (hi + lo - 2x).
    at = (x - threshold).sign_().add_(1.0).clamp_(max=1.0)
    return torch.addcmul(x, at, x.mul(-2.0).add_(hi + lo))


def _autocontrast(x: torch.Tensor, m: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    flat = x.flatten(2)
    low, high = flat.amin(-1), flat.amax(-1)
    moving = high > low
    scale = torch.where(moving, (hi - lo) / (high - low).clamp_min(1e-30), 1.0)
    shift = torch.where(moving, low, lo)
    y = (x - shift[..., None, None]).mul_(scale[..., None, None]).add_(lo)
    return y.clamp_(lo, hi)


def _equalize(x: torch.Tensor, m: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    n, c, h, w = x.shape
    level, scale = _levels(x, lo, hi)
    idx = level.long().view(n * c, h * w)
    # One histogram per (sample, channel): offset each plane's levels into its own 256 bins.
    offset = torch.arange(n * c, device=x.device).mul_(256).unsqueeze(1)
    hist = torch.bincount((idx + offset).view(-1), minlength=n * c * 256).view(n * c, 256)
    # PIL: step = (pixels - count of the highest level present) // 255; the lookup table maps
    # level k to (pixels below k + step // 2) // step; a plane with step 0 is kept.
    top = idx.amax(1, keepdim=True)  # the highest level present
    step = (h * w - hist.gather(1, top)).div_(255, rounding_mode="floor")
    below = hist.cumsum(1) - hist
    lut = (below + step // 2).div_(step.clamp_min(1), rounding_mode="floor").clamp_(0, 255)
    out = lut.gather(1, idx).to(x.dtype).div_(scale)
    if lo != 0.0:
        out = out.add_(lo)
    keep = (step == 0).to(x.dtype).view(n, c, 1, 1)
    return torch.lerp(out.view(n, c, h, w), x, keep)


def _shift(x: torch.Tensor, m: torch.Tensor, axis: int, fill: tuple[float, ...]) -> torch.Tensor:
    """Shift each sample by its whole number of pixels ``m`` along ``axis`` (-1: right, -2: down).

    Exact copies, the uncovered border set to ``fill`` (a whole-pixel translation resampled
    bilinearly gives the same values, at the cost of a ``grid_sample``): one gather from the
    batch padded with ``fill`` on both sides.
    """
    n, c = x.shape[:2]
    size = x.shape[axis]
    shifts = m.round().long().clamp(-size, size)
    k = int(shifts.abs().max())
    if k == 0:
        return x.clone()
    pad_shape = list(x.shape)
    pad_shape[axis] = k
    fill_t = torch.tensor(fill, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    pad = fill_t.expand(pad_shape)
    padded = torch.cat([pad, x, pad], dim=axis)
    # Output position i reads padded position i - shift + k.
    src = torch.arange(k, k + size, device=x.device) - shifts.unsqueeze(1)
    if axis == -1:
        index = src.view(n, 1, 1, size).expand(n, c, x.shape[-2], size)
    else:
        index = src.view(n, 1, size, 1).expand(n, c, size, x.shape[-1])
    return padded.gather(axis, index)


def _resample(
    x: torch.Tensor,
    op: torch.Tensor,
    m: torch.Tensor,
    interpolation: str,
    fill: tuple[float, ...],
) -> torch.Tensor:
    """ShearX, ShearY and Rotate (``op`` 1, 2, 3) about the centre in one ``grid_sample``.

    The pixel maps ``L`` about the centre that :func:`~reglab.augment.warp_affine` takes
    (``x' = x - s y``, ``y' = y - s x``, counter-clockwise turns), with the sampling grid's matrix
    written down directly: ``D^-1 L^-1 D`` in normalised coordinates, ``D = diag(W / 2, H / 2)``.
    """
    h, w = x.shape[-2:]
    rotating = op == 3
    rad = torch.deg2rad(torch.where(rotating, m, 0.0))
    cos, sin = torch.cos(rad), torch.sin(rad)
    zero = torch.zeros_like(m)
    # L^-1: rotation [[cos, -sin], [sin, cos]]; ShearX [[1, s], [0, 1]]; ShearY [[1, 0], [s, 1]].
    ib = torch.where(rotating, -sin, torch.where(op == 1, m, zero)) * (h / w)
    ic = torch.where(rotating, sin, torch.where(op == 2, m, zero)) * (w / h)
    theta = torch.stack([cos, ib, zero, ic, cos, zero], dim=1).view(-1, 2, 3)
    return _sample(x, theta, (h, w), interpolation, fill)


_INTENSITY = {
    6: _brightness,
    7: _color,
    8: _contrast,
    9: _sharpness,
    10: _posterize,
    11: _solarize,
    12: _autocontrast,
    13: _equalize,
}


# ------------------------------------------------------------------------------ the policies
def _bins_setting() -> Setting:
    return Setting("num_magnitude_bins", (Interval(int, 2, None),), 31, store=lambda o, v: int(v))


class _Policy(Augmentation):
    """Shared by RandAugment and TrivialAugment: per-sample draws, grouped batched application."""

    options: ClassVar[tuple[Setting, ...]] = WARP_OPTIONS
    #: The operations' names, indexed by ``draws["op"]``.
    operations: ClassVar[tuple[str, ...]] = OPERATIONS
    # Maxima of the magnitude table (see the module docstring); translate is a fraction of the
    # size when ``_translate_relative`` is set, else pixels.
    _shear: ClassVar[float]
    _translate: ClassVar[float]
    _translate_relative: ClassVar[bool]
    _rotate: ClassVar[float]
    _enhance: ClassVar[float]
    _posterize_span: ClassVar[int]

    num_magnitude_bins: int
    interpolation: str
    fill: tuple[float, ...]

    def magnitudes(self, height: int, width: int) -> torch.Tensor:
        """(14, num_magnitude_bins) unsigned magnitude of every operation at every bin."""
        tx = self._translate * width if self._translate_relative else self._translate
        ty = self._translate * height if self._translate_relative else self._translate
        key = (height, width)
        table = self._tables.get(key)
        if table is None:
            table = _table(
                self.num_magnitude_bins,
                self._shear,
                (tx, ty),
                self._rotate,
                self._enhance,
                self._posterize_span,
            )
            if len(self._tables) > 16:
                self._tables.clear()
            self._tables[key] = table
        return table.clone()

    def _setup(self) -> None:
        self._tables: dict[tuple[int, int], torch.Tensor] = {}

    def _rounds(self) -> int:
        raise NotImplementedError

    def _bins(
        self, n: int, k: int, generator: torch.Generator | None, device: torch.device | None
    ) -> torch.Tensor:
        raise NotImplementedError

    def _draw(self, at: Sampling) -> _Values:
        k = self._rounds()
        n, generator, dev, shape = at.n, at.generator, at.home, at.shape
        op = _rng.randint(torch.full((n, k), _NUM_OPS), generator, device=dev)
        bins = self._bins(n, k, generator, dev)
        negative = _rng.bernoulli(n * k, 0.5, generator, device=dev).view(n, k)
        table = self.magnitudes(shape[-2], shape[-1]).to(dtype=torch.float32, device=dev)
        signed = torch.tensor(_SIGNED, device=dev)[op]
        value = table[op, bins]
        value = torch.where(signed & negative, -value, value)
        return {"op": op, "magnitude": value.to(torch.float32)}

    def _apply(self, x: torch.Tensor, draws: _Values) -> torch.Tensor:
        owner = type(self).__name__
        c = x.shape[1]
        if c not in (1, 3):
            raise ConfigError(
                f"{owner} expects images with 1 or 3 channels (Color and Contrast use the RGB "
                f"grey level). Got {c} channels instead."
            )
        op = get(draws, "op", owner).to(x.device)
        mag = get(draws, "magnitude", owner).to(device=x.device, dtype=x.dtype)
        apply = get(draws, "apply", owner).to(x.device)
        if op.dim() == 1:
            op, mag = op.unsqueeze(1), mag.unsqueeze(1)
        if op.shape != mag.shape or op.dim() != 2:
            raise ConfigError(
                f"{owner}.apply expects draws['op'] and draws['magnitude'] of one shape "
                f"(N, num_ops). Got {tuple(op.shape)} and {tuple(mag.shape)} instead."
            )
        if op.dtype.is_floating_point or bool(((op < 0) | (op >= _NUM_OPS)).any()):
            raise ConfigError(
                f"{owner}.apply expects draws['op'] as integer indices in [0, {_NUM_OPS - 1}] "
                f"(into {owner}.operations): draw them with generate_params."
            )
        fill_tensor(owner, self.fill, c, x.dtype, x.device)
        lo, hi = self.value_range if self.value_range is not None else (0.0, 1.0)
        # Samples skipped (apply False) and geometric operations of magnitude 0 are the identity.
        moving = apply.view(-1, 1) & ~((op >= 1) & (op <= 5) & (mag == 0))
        op = torch.where(moving, op.long(), 0)
        return self._run(x, op, mag, lo, hi)

    def _run(
        self, x: torch.Tensor, op: torch.Tensor, mag: torch.Tensor, lo: float, hi: float
    ) -> torch.Tensor:
        """Round by round, the samples are written out sorted by their operation.

        Each operation gathers its samples straight into their contiguous run of the round's new
        batch and works on them there, in place where it can, while they are still in cache; a
        last gather puts the samples back in their order. The samples of a round that drew a
        shear or a rotation are resampled together (one ``grid_sample``).
        """
        n = x.shape[0]
        src = x
        row: torch.Tensor | None = None  # sample i is src[row[i]] (None: src[i])
        for r in range(op.shape[1]):
            ops_r = op[:, r]
            counts = torch.bincount(ops_r, minlength=_NUM_OPS).tolist()
            if counts[0] == n:
                continue
            order = torch.argsort(ops_r, stable=True)
            rows = order if row is None else row[order]
            sorted_op, sorted_mag = ops_r[order], mag[:, r][order]
            starts = [0]
            for count in counts:
                starts.append(starts[-1] + count)
            # Identity; shears and rotations, resampled together; the rest one by one.
            groups = [(0, counts[0], 0), (starts[_RESAMPLED[0]], starts[_RESAMPLED[1]], -1)]
            # Brightness, Color and Contrast blend together.
            groups.append((starts[6], starts[9], 6))
            groups += [(starts[k], starts[k + 1], k) for k in (4, 5, 9, 10, 11, 12, 13)]
            dst = torch.empty_like(x)
            for a, b, k in groups:
                if b == a:
                    continue
                part = torch.index_select(src, 0, rows[a:b], out=dst[a:b])
                m = sorted_mag[a:b]
                if k == 0:
                    continue
                if k < 0:
                    y = _resample(part, sorted_op[a:b], m, self.interpolation, self.fill)
                elif k in (4, 5):
                    y = _shift(part, m, -1 if k == 4 else -2, self.fill)
                elif k == 6:
                    y = _enhance(part, sorted_op[a:b], m, lo, hi)
                else:
                    y = _INTENSITY[k](part, m, lo, hi)
                if y is not part:
                    part.copy_(y)
            src = dst
            row = torch.empty_like(order)
            row[order] = torch.arange(n, device=order.device)
        return x.clone() if row is None else src.index_select(0, row)


class RandAugment(_Policy):
    """RandAugment (Cubuk et al., 2020): ``num_ops`` operations per sample at one magnitude.

    Every sample draws its own ``num_ops`` operations uniformly, with replacement, from the 14 of
    :data:`OPERATIONS` (torchvision's list and order of application), each at the magnitude of bin
    ``magnitude`` out of ``num_magnitude_bins`` (torchvision's ranges, see
    :mod:`reglab.augment.auto`), with a random sign for the signed ones. kornia's ``RandAugment``
    draws one pair of operations per batch, without replacement, from its own list (no
    Identity; Invert and SolarizeAdd).

    Args:
        num_ops: operations applied to each sample, in order (``>= 1``).
        magnitude: the magnitude bin, an int in ``[0, num_magnitude_bins - 1]``.
        num_magnitude_bins: bins over each operation's range (``>= 2``; 31 as in torchvision).
        interpolation: ``"bilinear"`` or ``"nearest"`` for the geometric operations.
        fill: value (or per-channel values) for points moved in from outside the image.
        p: per-sample probability of applying the policy at all.
        value_range: ``(low, high)`` of the pixel values; ``(0, 1)`` is assumed for float images
            without one, ``uint8`` images need ``(0, 255)``. Inside a ``Compose``, give it here.

    Example:
        >>> import torch, reglab.augment as A
        >>> x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
        >>> y = A.RandAugment(2, 9, value_range=(0, 255))(x, torch.Generator().manual_seed(0))
        >>> y.dtype, y.shape
        (torch.uint8, torch.Size([4, 3, 32, 32]))
    """

    settings = (
        Setting("num_ops", (Interval(int, 1, None),), 2, store=lambda o, v: int(v)),
        Setting("magnitude", (Interval(int, 0, None),), 9, store=lambda o, v: int(v)),
        _bins_setting(),
    )
    num_ops: int
    magnitude: int
    _shear = 0.3
    _translate = 150.0 / 331.0
    _translate_relative = True
    _rotate = 30.0
    _enhance = 0.9
    _posterize_span = 4

    def _setup(self) -> None:
        super()._setup()
        # The bound follows num_magnitude_bins, so it is declared here, where that is known.
        bound: Constraints = {"magnitude": [Interval(int, 0, self.num_magnitude_bins - 1)]}
        validate_params("RandAugment", {"magnitude": self.magnitude}, bound)

    def _rounds(self) -> int:
        return self.num_ops

    def _bins(
        self, n: int, k: int, generator: torch.Generator | None, device: torch.device | None
    ) -> torch.Tensor:
        return torch.full((n, k), self.magnitude, dtype=torch.long, device=device)


class TrivialAugment(_Policy):
    """TrivialAugment (Mueller & Hutter, 2021): one operation per sample at a random magnitude.

    Every sample draws one operation uniformly from the 14 of :data:`OPERATIONS` and one of the
    ``num_magnitude_bins`` magnitude bins uniformly, with a random sign for the signed ones, over
    the wide ranges of torchvision's ``TrivialAugmentWide`` (the paper's; see
    :mod:`reglab.augment.auto`). kornia's ``TrivialAugment`` draws one operation per batch from
    its own list (no Identity or Color; narrower ranges).

    Args:
        num_magnitude_bins: bins over each operation's range (``>= 2``; 31 as in torchvision).
        interpolation: ``"bilinear"`` or ``"nearest"`` for the geometric operations.
        fill: value (or per-channel values) for points moved in from outside the image.
        p: per-sample probability of applying the policy at all.
        value_range: ``(low, high)`` of the pixel values; ``(0, 1)`` is assumed for float images
            without one, ``uint8`` images need ``(0, 255)``.

    Example:
        >>> import torch, reglab.augment as A
        >>> aug = A.TrivialAugment()
        >>> draws = aug.generate_params((6, 3, 16, 16), torch.Generator().manual_seed(0))
        >>> [aug.operations[i] for i in draws["op"][:, 0].tolist()][:3]
        ['Equalize', 'Sharpness', 'Brightness']
    """

    settings = (_bins_setting(),)
    _shear = 0.99
    _translate = 32.0
    _translate_relative = False
    _rotate = 135.0
    _enhance = 0.99
    _posterize_span = 6

    def _rounds(self) -> int:
        return 1

    def _bins(
        self, n: int, k: int, generator: torch.Generator | None, device: torch.device | None
    ) -> torch.Tensor:
        high = torch.full((n, k), self.num_magnitude_bins)
        return _rng.randint(high, generator, device=device)
