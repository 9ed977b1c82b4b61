"""``Compose``: augmentations in order, with one resampling per run of affine transforms.

Example:
    >>> import torch, reglab.augment as A
    >>> aug = A.Compose([A.RandomFlip(), A.RandomRotation(15.0), A.RandomTranslation(0.1)])
    >>> x = torch.rand(8, 3, 32, 32)
    >>> y = aug(x, generator=torch.Generator().manual_seed(0))
    >>> y.shape, y.dtype
    (torch.Size([8, 3, 32, 32]), torch.float32)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import ConfigError
from ..regularizer import LabelMixer
from ._base import VALUE_RANGE, Augmentation, Draws, Sampling, fill_tensor, get
from .geometric import RandomFlip, _Geometric, flip, warp_affine
from .intensity import RandomGaussianNoise

__all__ = ["Compose"]


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
        >>> aug = A.Compose([A.RandomFlip(), A.RandomRotation(15.0), A.RandomGaussianNoise(0.05)])
        >>> draws = aug.generate_params((4, 3, 8, 8), torch.Generator().manual_seed(0))
        >>> sorted(draws)[:3]
        ['0.horizontal', '0.vertical', '1.angle']
    """

    _draws_mask = False
    options = (VALUE_RANGE,)

    def __init__(
        self,
        transforms: Sequence[Augmentation],
        *,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(value_range=value_range)
        if not isinstance(transforms, (list, tuple)):
            raise ConfigError(
                "The 'transforms' parameter of Compose must be a list of augmentations. "
                f"Got {type(transforms).__name__} instead."
            )
        flat: list[Augmentation] = []
        for t in transforms:
            if isinstance(t, LabelMixer):
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

    def _check_generator(self, generator: Any) -> None:
        """Each child checks the generator it is given (its name is in the error)."""

    def _draw(self, at: Sampling) -> Draws:
        full = at.shape
        draws: Draws = {}
        for i, t in enumerate(self.transforms):
            sub = t.generate_params(full, at.generator, dtype=at.dtype, device=at.device)
            draws.update({f"{i}.{k}": v for k, v in sub.items()})
            full = t._out_shape(full)
        return draws

    def _generate_fresh(
        self, shape: Sequence[int], generator: torch.Generator | None, device: torch.device
    ) -> tuple[Draws, dict[int, Callable[[], None]]]:
        """``generate_params`` for this call only: noise draws fill while the warps run."""
        full = self._full_shape(shape)
        draws: Draws = {}
        waits: dict[int, Callable[[], None]] = {}
        for i, t in enumerate(self.transforms):
            if isinstance(t, RandomGaussianNoise):
                sub, waits[i] = t.generate_params_async(full, generator, device=device)
            else:
                sub = t.generate_params(full, generator, device=device)
            draws.update({f"{i}.{k}": v for k, v in sub.items()})
            full = t._out_shape(full)
        return draws, waits

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw fresh parameters for ``x`` and apply them (the same bits as ``apply``)."""
        x4, restore = self._prepare(x)
        draws, waits = self._generate_fresh(x4.shape, generator, x4.device)
        try:
            return restore(self._run(x4, draws, waits))
        finally:
            for wait in waits.values():
                wait()

    def _child_draws(self, draws: Draws, i: int) -> Draws:
        prefix = f"{i}."
        return {k[len(prefix) :]: v for k, v in draws.items() if k.startswith(prefix)}

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        return self._run(x, draws, {})

    def _run(
        self, x: torch.Tensor, draws: Draws, waits: dict[int, Callable[[], None]]
    ) -> torch.Tensor:
        out = x
        fresh = False  # whether `out` is our own buffer (safe to update in place)
        for seg in self._segments:
            for i in seg:
                if i in waits:
                    waits.pop(i)()
            first = self.transforms[seg[0]]
            if isinstance(first, _Geometric) and first.value_range is None:
                subs = [self._child_draws(draws, i) for i in seg]
                if all(isinstance(self.transforms[i], RandomFlip) for i in seg):
                    h = torch.zeros(out.shape[0], dtype=torch.bool)
                    v = torch.zeros(out.shape[0], dtype=torch.bool)
                    for sp in subs:
                        h = h ^ get(sp, "horizontal", "RandomFlip").cpu()
                        v = v ^ get(sp, "vertical", "RandomFlip").cpu()
                    out = flip(out, h, v)
                else:
                    hh, ww = out.shape[-2], out.shape[-1]
                    geo = [t for i in seg if isinstance(t := self.transforms[i], _Geometric)]
                    m = geo[0].matrix(subs[0], hh, ww, out.dtype).to(out.device)
                    for t, sp in zip(geo[1:], subs[1:]):
                        m = torch.bmm(t.matrix(sp, hh, ww, out.dtype).to(out.device), m)
                    lead = next(t for t in geo if not isinstance(t, RandomFlip))
                    fill_tensor(type(lead).__name__, lead.fill, out.shape[1], out.dtype, out.device)
                    out = warp_affine(out, m, lead.interpolation, lead.fill)
                fresh = True
                continue
            t = self.transforms[seg[0]]
            sp = self._child_draws(draws, seg[0])
            if isinstance(t, RandomGaussianNoise) and fresh and t.value_range is None:
                noise = get(sp, "noise", "RandomGaussianNoise")
                out.add_(noise.to(device=out.device, dtype=out.dtype))
                continue
            if isinstance(t, Compose):
                y = t.apply(out, sp)
            else:
                t._check_draws(sp, out.shape[0])
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
