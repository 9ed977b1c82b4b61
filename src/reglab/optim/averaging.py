"""Weight averaging: an exponential moving average (EMA) and stochastic weight averaging (SWA).

Both keep an average of a model's weights outside the model and use it in any training loop:
``update(model)`` folds the current weights in, ``with avg.swapped(model):`` evaluates with the
average and puts the training weights back, ``copy_to(model)`` keeps the average for good, and
``state_dict``/``load_state_dict`` save it. In ``fit(regularization=[...])`` validation, the
callbacks (early stopping) and the final model use the averaged weights.

The conventions are those of ``torch.optim.swa_utils`` (``AveragedModel`` with
``get_ema_multi_avg_fn`` / the equal average, and ``update_bn``): the first update copies the
weights, later ones interpolate with one multi-tensor ``lerp`` per device and dtype. Unlike
``AveragedModel`` no copy of the module is kept: only the averaged tensors.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(3, 2)
    >>> ema = rl.EMA(decay=0.9, warmup=False)
    >>> ema.update(model)
    >>> with torch.no_grad():
    ...     _ = model.weight.add_(1.0)
    >>> ema.update(model)
    >>> with ema.swapped(model):
    ...     inside = model.weight.clone()
    >>> bool(torch.allclose(inside, model.weight - 0.9))
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from .._checks import BOOL, Constraints, InstanceOf, Interval, NoneOk, validate_params
from ..errors import ConfigError, param_error
from ..nn.norm_tools import recalibrate_batchnorm
from ..regularizer import WeightAveraging

__all__ = ["EMA", "SWA"]

try:  # where torch's AveragedModel uses its multi-tensor lerp for the equal average
    from torch.utils._foreach_utils import _get_foreach_kernels_supported_devices

    _LERP_DEVICES = frozenset(_get_foreach_kernels_supported_devices())
except ImportError:  # pragma: no cover
    _LERP_DEVICES = frozenset({"cuda"})

#: The constraints of the methods that take the model (update, swap_in, copy_to, ...).
_MODEL_CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a torch.nn.Module")]
}


def _signature(t: torch.Tensor) -> tuple[Any, ...]:
    return (tuple(t.shape), t.dtype, t.device)


class _Average(WeightAveraging):
    """The shared machinery: which tensors are averaged, the swap, the checks and the state."""

    _owner: ClassVar[str] = "_Average"

    def __init__(self, buffers: bool) -> None:
        self.buffers = buffers
        self.num_updates = 0
        self._averaged: list[torch.Tensor] = []
        self._names: list[str] = []
        self._signatures: list[tuple[Any, ...]] = []
        # (floating?, indices) per device and dtype: one multi-tensor call per group
        self._groups: list[tuple[bool, list[int]]] = []
        self._backup: list[torch.Tensor] | None = None
        self._swapped_into: nn.Module | None = None

    # -- the tensors -------------------------------------------------------------------------

    def _tracked(self, model: nn.Module) -> list[torch.Tensor]:
        tensors = [p.detach() for p in model.parameters()]
        if self.buffers:
            tensors += [b.detach() for b in model.buffers()]
        return tensors

    def _tracked_names(self, model: nn.Module) -> list[str]:
        names = [n for n, _ in model.named_parameters()]
        if self.buffers:
            names += [n for n, _ in model.named_buffers()]
        return names

    def _checked(self, model: nn.Module, method: str) -> list[torch.Tensor]:
        """The model's tensors, or a one-line error when they are not those first averaged."""
        validate_params(f"{self._owner}.{method}", locals(), _MODEL_CONSTRAINTS)
        tensors = self._tracked(model)
        if len(tensors) == len(self._signatures) and all(
            _signature(t) == s for t, s in zip(tensors, self._signatures)
        ):
            return tensors
        names = self._tracked_names(model)
        where = f"{len(tensors)} tensors where it averages {len(self._signatures)}"
        for i, (name, t) in enumerate(zip(names, tensors)):
            if i >= len(self._signatures) or _signature(t) != self._signatures[i]:
                old = (
                    f"{self._names[i]!r} {_describe(self._signatures[i])}"
                    if i < len(self._signatures)
                    else "nothing"
                )
                where = f"{name!r} {_describe(_signature(t))} where it averaged {old}"
                break
        raise ConfigError(
            f"The 'model' parameter of {self._owner}.{method} must have the structure the average "
            f"was made from (names, shapes, dtypes, devices). Got a model with {where} instead; "
            f"make a new {self._owner} after changing or moving the model."
        )

    def _start(self, tensors: list[torch.Tensor], names: list[str]) -> None:
        """The first update: copy the weights, fix the structure and the groups."""
        self._averaged = [t.clone() for t in tensors]
        self._names = names
        self._build()

    def _build(self) -> None:
        self._signatures = [_signature(t) for t in self._averaged]
        keyed: dict[tuple[Any, ...], list[int]] = {}
        for i, t in enumerate(self._averaged):
            keyed.setdefault((t.device, t.dtype), []).append(i)
        self._groups = [(self._averaged[ix[0]].is_floating_point(), ix) for ix in keyed.values()]
        self._backup = None

    @torch.no_grad()
    def _lerp(self, tensors: list[torch.Tensor], weight: float | torch.Tensor) -> None:
        """``avg <- avg + weight * (w - avg)`` for floating tensors; integers are copied."""
        avg = self._averaged
        for floating, ix in self._groups:
            a = [avg[i] for i in ix]
            w = [tensors[i] for i in ix]
            if floating:
                torch._foreach_lerp_(a, w, weight)  # type: ignore[arg-type]
            else:  # counters (num_batches_tracked): the model's own value
                torch._foreach_copy_(a, w)

    def update(self, model: nn.Module) -> None:
        """Fold the current weights of ``model`` into the average (the first update copies)."""
        if self.num_updates == 0:
            validate_params(f"{self._owner}.update", locals(), _MODEL_CONSTRAINTS)
            self._start(self._tracked(model), self._tracked_names(model))
        else:
            self._fold(self._checked(model, "update"))
        self.num_updates += 1

    def _fold(self, tensors: list[torch.Tensor]) -> None:
        raise NotImplementedError

    # -- swapping ----------------------------------------------------------------------------

    def _after_copy(self, model: nn.Module, batches: Iterable[Any] | None, method: str) -> None:
        """Hook after the average was copied into ``model`` (SWA recomputes batch norm here)."""

    @torch.no_grad()
    def swap_in(self, model: nn.Module, batches: Iterable[Any] | None = None) -> bool:
        """Put the average into ``model``, keeping its training weights aside; False (and nothing
        swapped) before the first update. :meth:`swap_back` restores them."""
        if self.num_updates == 0:
            validate_params(f"{self._owner}.swap_in", locals(), _MODEL_CONSTRAINTS)
            return False
        tensors = self._checked(model, "swap_in")
        if self._swapped_into is not None:
            raise ConfigError(
                f"{self._owner}.swap_in was called twice without swap_back: the training weights "
                "are already set aside; call swap_back(model) first."
            )
        everything = [*(p.detach() for p in model.parameters()), *(b for b in model.buffers())]
        if self._backup is None or [_signature(t) for t in self._backup] != [
            _signature(t) for t in everything
        ]:
            self._backup = [t.clone() for t in everything]
        else:
            torch._foreach_copy_(self._backup, everything)
        torch._foreach_copy_(tensors, self._averaged)
        self._swapped_into = model
        try:
            self._after_copy(model, batches, "swap_in")
        except BaseException:
            self.swap_back(model)
            raise
        return True

    @torch.no_grad()
    def swap_back(self, model: nn.Module) -> None:
        """Restore the training weights (and buffers) set aside by :meth:`swap_in`."""
        if self._swapped_into is None or self._backup is None:
            return
        if model is not self._swapped_into:
            raise param_error(
                "model", f"{self._owner}.swap_back", "the model given to swap_in", model
            )
        everything = [*(p.detach() for p in model.parameters()), *(b for b in model.buffers())]
        torch._foreach_copy_(everything, self._backup)
        self._swapped_into = None

    def release(self) -> None:
        """Forget the training weights set aside by :meth:`swap_in`: the average stays in the
        model (fit calls this after its last epoch)."""
        self._swapped_into = None

    @contextlib.contextmanager
    def swapped(self, model: nn.Module, batches: Iterable[Any] | None = None) -> Iterator[bool]:
        """Evaluate with the average inside the block; the training weights come back after it.

        Yields whether anything was swapped in (nothing is before the first update).
        """
        done = self.swap_in(model, batches)
        try:
            yield done
        finally:
            if done:
                self.swap_back(model)

    @torch.no_grad()
    def copy_to(self, model: nn.Module, batches: Iterable[Any] | None = None) -> None:
        """Write the average into ``model`` for good (an error before the first update)."""
        if self.num_updates == 0:
            raise ConfigError(
                f"{self._owner}.copy_to needs at least one update(model) first: there is no "
                "average to copy yet."
            )
        torch._foreach_copy_(self._checked(model, "copy_to"), self._averaged)
        self._after_copy(model, batches, "copy_to")

    # -- state -------------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        return {"buffers": self.buffers}

    def state_dict(self) -> dict[str, Any]:
        """The averaged tensors, their names, the update count and the settings."""
        return {
            "num_updates": self.num_updates,
            "names": list(self._names),
            "averaged": [t.clone() for t in self._averaged],
            **self._settings(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`; the model given to the next call must match its tensors."""
        for key, value in self._settings().items():
            if state_dict.get(key) != value:
                raise ConfigError(
                    f"{self._owner}.load_state_dict got a state saved with {key}="
                    f"{state_dict.get(key)!r}, but this {self._owner} has {key}={value!r}."
                )
        self.num_updates = int(state_dict["num_updates"])
        self._names = list(state_dict["names"])
        self._averaged = [t.detach().clone() for t in state_dict["averaged"]]
        self._build()

    @property
    def averaged(self) -> dict[str, torch.Tensor]:
        """The averaged tensors by name (empty before the first update)."""
        return dict(zip(self._names, self._averaged))


def _describe(sig: tuple[Any, ...]) -> str:
    shape, dtype, device = sig
    return f"{shape} {str(dtype).replace('torch.', '')} on {device}"


class EMA(_Average):
    r"""Exponential moving average of the weights, updated after every optimizer step.

    The first update copies the weights; update ``t`` (``t = 1, 2, ...`` counts the updates
    before it) then does, with one multi-tensor ``lerp`` per device and dtype::

        avg <- decay_t * avg + (1 - decay_t) * w
        decay_t = min(decay, (1 + t) / (10 + t))    with warmup (TensorFlow's num_updates form)
        decay_t = decay                             without

    so early averages follow the weights closely (``decay_1 = 2/11``) and the full ``decay``
    applies from ``t = 9 / (1 - decay) - 1`` on (8,990 updates for 0.999). With ``warmup=False``
    the average is bit for bit that of ``AveragedModel(model, multi_avg_fn=
    get_ema_multi_avg_fn(decay), use_buffers=buffers)``, except that integer buffers
    (batch norm's ``num_batches_tracked``) are copied rather than averaged and truncated.

    Args:
        decay: the decay in (0, 1).
        warmup: use ``decay_t`` above (default) or the constant ``decay``.
        buffers: average the floating buffers too (batch norm running statistics, as
            ``use_buffers=True``); False: the model's own buffers are used with the averaged
            parameters.

    Example:
        >>> import torch, reglab as rl
        >>> model = torch.nn.Linear(2, 1)
        >>> ema = rl.EMA(decay=0.999)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> for _ in range(3):
        ...     model(torch.ones(4, 2)).sum().backward(); opt.step(); opt.zero_grad()
        ...     ema.update(model)
        >>> with ema.swapped(model):
        ...     _ = model(torch.ones(1, 2))   # evaluated with the average
        >>> ema.num_updates
        3

    Polyak & Juditsky, "Acceleration of stochastic approximation by averaging", 1992.
    """

    _owner: ClassVar[str] = "EMA"
    every: ClassVar[str] = "step"

    _parameter_constraints: ClassVar[Constraints] = {
        "decay": [Interval(float, 0, 1, closed="neither")],
        "warmup": BOOL,
        "buffers": BOOL,
    }

    def __init__(self, decay: float = 0.999, warmup: bool = True, buffers: bool = True) -> None:
        validate_params(self, locals())
        super().__init__(buffers)
        self.decay = float(decay)
        self.warmup = warmup

    def decay_at(self, t: int) -> float:
        """``decay_t`` of update ``t`` (the number of updates before it; ``t >= 1``)."""
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + t) / (10 + t))

    def _fold(self, tensors: list[torch.Tensor]) -> None:
        self._lerp(tensors, 1 - self.decay_at(self.num_updates))

    def _settings(self) -> dict[str, Any]:
        return {"decay": self.decay, "warmup": self.warmup, "buffers": self.buffers}

    def __repr__(self) -> str:
        return f"EMA(decay={self.decay!r}, warmup={self.warmup!r}, buffers={self.buffers!r})"


class SWA(_Average):
    r"""Stochastic weight averaging: the equal average of the weights from epoch ``start`` on.

    After ``n`` updates the average is ``1/n sum_i w_i``, kept as
    ``avg <- avg + (w - avg) / (n + 1)`` (multi-tensor ops; a ``lerp`` on CUDA, as torch). Parameters only: before
    the average is evaluated (:meth:`swap_in`, :meth:`copy_to`) the batch norm running statistics
    are recomputed for the averaged weights with :func:`reglab.nn.recalibrate_batchnorm`
    (PreciseBN) over ``batches``, a model with batch norm refuses to be evaluated without them.
    This is ``AveragedModel(model)`` plus ``update_bn`` (which runs dropout in training mode;
    PreciseBN turns it off, so the statistics are those inference sees).

    ``fit`` updates once at the end of each epoch ``>= start`` (0-based) and recomputes the
    statistics on the unaugmented training split; in your own loop call ``update`` when you
    choose (``if epoch >= swa.start``), typically with a constant or cyclic learning rate
    (``torch.optim.swa_utils.SWALR``).

    Args:
        start: the first epoch (0-based) whose weights enter the average, ``>= 0``.
        bn_batches: recompute batch norm from at most this many batches (None: all).

    Example:
        >>> import torch, reglab as rl
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4))
        >>> swa = rl.SWA(start=0)
        >>> swa.update(model)
        >>> with swa.swapped(model, batches=[torch.randn(8, 2)]):
        ...     _ = model.eval()(torch.ones(1, 2))

    Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization", 2018.
    """

    _owner: ClassVar[str] = "SWA"
    every: ClassVar[str] = "epoch"

    _parameter_constraints: ClassVar[Constraints] = {
        "start": [Interval(int, 0, None)],
        "bn_batches": [NoneOk(), Interval(int, 1, None)],
    }

    def __init__(self, start: int = 0, bn_batches: int | None = None) -> None:
        validate_params(self, locals())
        super().__init__(buffers=False)
        self.start = int(start)
        self.bn_batches = bn_batches

    @torch.no_grad()
    def _fold(self, tensors: list[torch.Tensor]) -> None:
        n = self.num_updates
        avg = self._averaged
        for floating, ix in self._groups:
            a = [avg[i] for i in ix]
            w = [tensors[i] for i in ix]
            if not floating:
                torch._foreach_copy_(a, w)
            elif a[0].device.type in _LERP_DEVICES:
                # torch's weight: 1 / (n + 1) from its long counter, in float32
                torch._foreach_lerp_(a, w, 1 / (torch.tensor(n) + 1))  # type: ignore[call-overload]
            else:  # elsewhere torch computes avg + (w - avg) / (n + 1); so do we, bit for bit
                diff = torch._foreach_sub(w, a)
                torch._foreach_div_(diff, float(n + 1))
                torch._foreach_add_(a, diff)

    def _after_copy(self, model: nn.Module, batches: Iterable[Any] | None, method: str) -> None:
        has_bn = any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
            for m in model.modules()
        )
        if not has_bn:
            return
        if batches is None:
            raise param_error(
                "batches",
                f"SWA.{method}",
                "an iterable of training batches (the model has batch norm, whose statistics "
                "must be recomputed for the averaged weights)",
                batches,
            )
        recalibrate_batchnorm(model, batches, self.bn_batches)

    def _settings(self) -> dict[str, Any]:
        return {"start": self.start, "bn_batches": self.bn_batches}

    def __repr__(self) -> str:
        return f"SWA(start={self.start!r}, bn_batches={self.bn_batches!r})"
