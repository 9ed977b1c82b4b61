"""Label-mixing augmentations: MixUp and CutMix, returning soft targets.

Both pair each sample ``i`` with sample ``index[i]`` of a random permutation of the batch (any
batch size, odd included; a sample paired with itself is left as it is) and draw one
``lambda_i ~ Beta(alpha, alpha)`` per sample. Targets are one-hot (or the given soft targets),
smoothed as ``(1 - eps) y + eps / K`` when ``label_smoothing = eps``, then mixed with the same
weights as the inputs. Parameters are drawn apart from applying them, as for the image
augmentations: ``mix(x, y, generator)`` is ``apply(x, y, generate_params(x.shape, generator))``.

Example:
    >>> import torch, reglab.augment as A
    >>> mixup = A.MixUp(alpha=0.2, num_classes=3)
    >>> x, y = torch.rand(5, 2), torch.tensor([0, 1, 2, 0, 1])
    >>> xm, ys = mixup.mix(x, y, generator=torch.Generator().manual_seed(0))
    >>> ys.shape, bool(torch.allclose(ys.sum(1), torch.ones(5)))
    (torch.Size([5, 3]), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from .. import _rng
from .._checks import Constraints, Interval, NoneOk, OneOf, validate_params
from ..errors import ConfigError
from ..regularizer import LabelMixer
from ._base import GENERATE_CONSTRAINTS, Draws, check_input_tensor, get, shape_ints
from .intensity import box_mask

__all__ = ["CutMix", "LabelMixing", "MixUp"]


class LabelMixing(LabelMixer):
    """Base class for augmentations that mix inputs and labels (a :class:`LabelMixer`).

    Subclasses implement ``_draw(shape, generator) -> Draws`` and
    ``_mix_inputs(x, draws) -> (x_mixed, weight)`` where ``weight[i]`` is the share of sample
    ``i``'s own label in its mixed target.

    Args:
        alpha: the Beta(alpha, alpha) concentration, ``> 0``.
        num_classes: number of classes; required for integer labels.
        label_smoothing: ``eps`` in [0, 1): targets become ``(1 - eps) y + eps / K``.
    """

    mixes_labels: ClassVar[bool] = True
    # Layout of x: "any" (N, ...), "image" (N, C, H, W), "features" (N, F).
    _layout: ClassVar[str] = "any"

    _parameter_constraints: ClassVar[Constraints] = {
        "alpha": [Interval(float, 0, None, closed="neither")],
        "num_classes": [Interval(int, 1, None), NoneOk()],
        "label_smoothing": [Interval(float, 0, 1, closed="left")],
    }

    def __init__(
        self,
        alpha: float,
        num_classes: int | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        owner = type(self).__name__
        validate_params(self, locals())
        self.alpha = float(alpha)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.label_smoothing = float(label_smoothing)

    # ----------------------------------------------------------------------------- subclass API
    def _draw(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Draws:
        raise NotImplementedError

    def _mix_inputs(self, x: torch.Tensor, draws: Draws) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    # ----------------------------------------------------------------------------- public API
    def generate_params(
        self, shape: Sequence[int], generator: torch.Generator | None = None
    ) -> Draws:
        """Draw ``lam`` (Beta(alpha, alpha), one per sample), the partner ``index`` and extras."""
        validate_params(type(self).__name__, locals(), GENERATE_CONSTRAINTS)
        dims = self._shape(shape)
        return self._draw(dims, generator)

    def apply(
        self, x: torch.Tensor, y: torch.Tensor, draws: Draws
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix ``x`` and ``y`` with given parameters; returns ``(x_mixed, y_soft)``."""
        owner = type(self).__name__
        self._check_x(x)
        n = x.shape[0]
        targets = self._targets(y, n, x.dtype)
        for key, value in draws.items():
            if not isinstance(value, torch.Tensor) or value.dim() == 0 or value.shape[0] != n:
                raise ConfigError(
                    f"{owner}.apply got draws[{key!r}] drawn for another batch size than {n}: "
                    f"draw them with generate_params for this batch's shape."
                )
        index = get(draws, "index", owner).to(x.device).long()
        x_mixed, weight = self._mix_inputs(x, draws)
        w = weight.to(device=targets.device, dtype=targets.dtype).view(
            n, *([1] * (targets.dim() - 1))
        )
        y_mixed = w * targets + (1 - w) * targets[index.to(targets.device)]
        return x_mixed, y_mixed

    def mix(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw parameters for this batch and mix: ``(x_mixed, y_soft)``, ``y_soft`` (N, K) float."""
        self._check_x(x)
        return self.apply(x, y, self.generate_params(x.shape, generator))

    __call__ = mix

    def __repr__(self) -> str:
        fields = [("alpha", self.alpha), ("num_classes", self.num_classes)]
        if self.label_smoothing:
            fields.append(("label_smoothing", self.label_smoothing))
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in fields) + ")"

    # ----------------------------------------------------------------------------- helpers
    def _expected(self) -> str:
        return {"any": "(N, ...)", "image": "(N, C, H, W)", "features": "(N, F)"}[self._layout]

    def _shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        owner = type(self).__name__
        dims = shape_ints(owner, shape, self._expected())
        ok = {"any": len(dims) >= 2, "image": len(dims) == 4, "features": len(dims) == 2}
        if not ok[self._layout] or dims[0] < 1:
            raise ConfigError(f"{owner} expects a shape {self._expected()}. Got {dims} instead.")
        return dims

    def _check_x(self, x: Any) -> None:
        owner = type(self).__name__
        check_input_tensor(owner, x)
        self._shape_of_tensor(x)
        if not x.is_floating_point():
            raise ConfigError(
                f"{owner} expects a floating-point tensor as 'input'. Got dtype {x.dtype} "
                f"instead: convert it to float (mixing blends values)."
            )

    def _shape_of_tensor(self, x: torch.Tensor) -> None:
        owner = type(self).__name__
        ok = {"any": x.dim() >= 2, "image": x.dim() == 4, "features": x.dim() == 2}
        if not ok[self._layout] or x.shape[0] < 1:
            raise ConfigError(
                f"{owner} expects 'input' of shape {self._expected()}. "
                f"Got shape {tuple(x.shape)} instead."
            )

    def _regression_ok(self) -> bool:
        return False

    def _targets(self, y: Any, n: int, dtype: torch.dtype) -> torch.Tensor:
        """Soft (N, K) targets, smoothed; float targets (N,) only where regression is allowed."""
        owner = type(self).__name__
        if not isinstance(y, torch.Tensor):
            raise ConfigError(
                f"{owner} expects labels as a torch.Tensor. Got {type(y).__name__} instead."
            )
        out_dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
        if y.dtype == torch.bool or y.is_complex():
            raise ConfigError(
                f"{owner} expects integer labels (N,) or float soft targets (N, K). "
                f"Got dtype {y.dtype} instead."
            )
        if y.shape[:1] != (n,):
            raise ConfigError(
                f"{owner} got {tuple(y.shape)} labels for a batch of {n} inputs: the labels' "
                f"first dimension must be the batch size."
            )
        if not y.is_floating_point():
            if y.dim() != 1:
                raise ConfigError(
                    f"{owner} expects integer labels of shape (N,). Got shape {tuple(y.shape)} instead."
                )
            k = self.num_classes
            if k is None:
                raise ConfigError(
                    f"{owner} needs num_classes to turn integer labels into soft targets: "
                    f"pass {owner}(..., num_classes=K)."
                )
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= k:
                raise ConfigError(
                    f"{owner} got labels outside [0, {k}) (num_classes={k}): min {lo}, max {hi}."
                )
            targets = torch.nn.functional.one_hot(y.long(), k).to(out_dtype)
        elif y.dim() == 2:
            if self.num_classes is not None and y.shape[1] != self.num_classes:
                raise ConfigError(
                    f"{owner} got soft targets with {y.shape[1]} columns; num_classes is "
                    f"{self.num_classes}."
                )
            targets = y.to(out_dtype)
        elif y.dim() == 1 and self._regression_ok():
            if self.label_smoothing:
                raise ConfigError(
                    f"{owner} got float targets of shape (N,) (regression) with "
                    f"label_smoothing={self.label_smoothing}: smoothing applies to class targets."
                )
            return y.to(out_dtype)
        else:
            raise ConfigError(
                f"{owner} expects integer labels (N,) or float soft targets (N, K). "
                f"Got float targets of shape {tuple(y.shape)} instead."
            )
        eps = self.label_smoothing
        if eps:
            targets = targets * (1 - eps) + eps / targets.shape[1]
        return targets


class MixUp(LabelMixing):
    """MixUp (Zhang et al., 2018): convex combinations of pairs of samples and of their targets.

    ``x_i' = lam_i x_i + (1 - lam_i) x_j``, ``y_i' = lam_i y_i + (1 - lam_i) y_j`` with
    ``j = index[i]`` (a random permutation) and ``lam_i ~ Beta(alpha, alpha)`` per sample.

    ``layout="any"`` takes inputs of any shape ``(N, ...)`` with class targets (integer labels
    or soft targets ``(N, K)``). ``layout="tabular"`` takes feature vectors ``(N, F)`` and also
    regression targets: float targets of shape ``(N,)`` are mixed as values (returned as
    ``(N,)``; no label smoothing).

    Args:
        alpha: Beta concentration (``> 0``); small values keep most mixes near one sample.
        num_classes: number of classes; required for integer labels.
        label_smoothing: ``eps`` in [0, 1).
        layout: ``"any"`` or ``"tabular"``.

    Example:
        >>> import torch, reglab.augment as A
        >>> m = A.MixUp(alpha=0.2, num_classes=2)
        >>> p = m.generate_params((4, 3), torch.Generator().manual_seed(0))
        >>> sorted(p), p["lam"].shape
        (['index', 'lam'], torch.Size([4]))
        >>> x, y = torch.rand(6, 3), torch.rand(6)          # regression targets
        >>> xm, ym = A.MixUp(0.4, layout="tabular").mix(x, y, torch.Generator().manual_seed(0))
        >>> xm.shape, ym.shape
        (torch.Size([6, 3]), torch.Size([6]))
    """

    _parameter_constraints: ClassVar[Constraints] = {
        **LabelMixing._parameter_constraints,
        "layout": [OneOf("any", "tabular")],
    }

    def __init__(
        self,
        alpha: float = 0.2,
        num_classes: int | None = None,
        label_smoothing: float = 0.0,
        *,
        layout: str = "any",
    ) -> None:
        super().__init__(alpha, num_classes, label_smoothing)
        validate_params(self, locals())
        self.layout = layout
        self._layout = "features" if layout == "tabular" else "any"  # type: ignore[misc]

    def _regression_ok(self) -> bool:
        return self.layout == "tabular"

    def __repr__(self) -> str:
        text = super().__repr__()
        return text if self.layout == "any" else f"{text[:-1]}, layout={self.layout!r})"

    def _draw(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Draws:
        n = shape[0]
        lam = _rng.beta(self.alpha, n, generator, dtype=torch.float64)
        index = torch.randperm(n, generator=generator, device=lam.device)
        return {"lam": lam, "index": index}

    def _mix_inputs(self, x: torch.Tensor, draws: Draws) -> tuple[torch.Tensor, torch.Tensor]:
        owner = type(self).__name__
        lam = get(draws, "lam", owner).to(device=x.device, dtype=x.dtype)
        index = get(draws, "index", owner).to(x.device).long()
        w = lam.view(-1, *([1] * (x.dim() - 1)))
        return torch.lerp(x[index], x, w), lam


class CutMix(LabelMixing):
    """CutMix (Yun et al., 2019): paste a box from the partner sample; weight labels by area.

    Per sample, ``lam ~ Beta(alpha, alpha)``, a centre ``(cx, cy)`` uniform over the pixels and
    a box of ``floor(W sqrt(1 - lam)) x floor(H sqrt(1 - lam))`` around it, clipped to the image.
    The label weight is corrected to the pasted area: ``w = 1 - (box area) / (H W)``, so
    ``y' = w y_i + (1 - w) y_j`` matches the pixels actually taken from ``j``.

    Args:
        alpha: Beta concentration (``> 0``); ``alpha = 1`` draws ``lam`` uniformly.
        num_classes: number of classes; required for integer labels.
        label_smoothing: ``eps`` in [0, 1).

    Example:
        >>> import torch, reglab.augment as A
        >>> c = A.CutMix(alpha=1.0, num_classes=2)
        >>> x, y = torch.zeros(2, 1, 4, 4), torch.tensor([0, 1])
        >>> x[1] = 1.0
        >>> xm, ys = c.mix(x, y, torch.Generator().manual_seed(3))
        >>> bool(torch.allclose(ys[:, 1], xm.mean(dim=(1, 2, 3))))   # label = pasted area
        True
    """

    _layout = "image"

    def __init__(
        self,
        alpha: float = 1.0,
        num_classes: int | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(alpha, num_classes, label_smoothing)

    def _draw(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Draws:
        n, _, h, w = shape
        lam = _rng.beta(self.alpha, n, generator, dtype=torch.float64)
        dev = lam.device
        index = torch.randperm(n, generator=generator, device=dev)
        cy = _rng.randint(torch.full((n,), h, device=dev), generator, device=dev)
        cx = _rng.randint(torch.full((n,), w, device=dev), generator, device=dev)
        cut = torch.sqrt(1 - lam)
        ch = (h * cut).floor().long()
        cw = (w * cut).floor().long()
        y0 = (cy - ch // 2).clamp(0, h)
        y1 = (cy + ch // 2).clamp(0, h)
        x0 = (cx - cw // 2).clamp(0, w)
        x1 = (cx + cw // 2).clamp(0, w)
        box = torch.stack([y0, x0, y1 - y0, x1 - x0], dim=1)
        return {"lam": lam, "index": index, "box": box}

    def _mix_inputs(self, x: torch.Tensor, draws: Draws) -> tuple[torch.Tensor, torch.Tensor]:
        owner = type(self).__name__
        h, w = x.shape[-2:]
        index = get(draws, "index", owner).to(x.device).long()
        box = get(draws, "box", owner).to(x.device).long()
        if bool((box[:, 0] + box[:, 2] > h).any()) or bool((box[:, 1] + box[:, 3] > w).any()):
            raise ConfigError(
                f"{owner}.apply got boxes outside the ({h}, {w}) image: redraw them for "
                f"this batch's shape."
            )
        mask = box_mask(box, h, w)
        area = (box[:, 2] * box[:, 3]).to(torch.float64)
        weight = 1 - area / (h * w)
        return torch.where(mask, x[index], x), weight
