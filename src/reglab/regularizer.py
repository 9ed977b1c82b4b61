"""The regularizer protocols: what ``fit(regularization=...)`` does with each object, by type.

A training step has five places where regularization acts, in the spirit of optax's gradient
transformations (each with a mask, here ``reglab.regularized_parameters`` of the model):

==========================  =========================================  ==========================
protocol                    what fit calls, and when                   reglab's classes
==========================  =========================================  ==========================
:class:`LossPenalty`        ``loss + pen(params)`` before backward     ``LossMode``
:class:`GradientPenalty`    ``pen.add_grad_(params)`` after backward   ``L1``, ``L2``, ``ElasticNet``
:class:`ProximalStep`       ``prox.step_(params, lr)`` after the step  ``ProximalL1``
:class:`WeightConstraint`   ``c.apply_(params)`` after the step        ``MaxNorm``, ``UnitNorm``
:class:`LabelMixer`         ``x, y = m.mix(x, y, generator=g)``        ``MixUp``, ``CutMix``
:class:`InputAugmentation`  ``x = aug(x, generator=g)``                every ``reglab.augment``
                                                                       augmentation
:class:`WeightAveraging`    ``avg.update(model)`` after each step      ``EMA`` (every step),
                            (or epoch from ``avg.start``); the         ``SWA`` (every epoch)
                            average swapped in for evaluation,
                            callbacks and the final model
:class:`PairedPenalty`      the model runs twice on the batch (one     ``RDrop``
                            forward on ``cat([x, x])``); ``loss``
                            is the mean of both data losses plus
                            ``pen.penalty(out1, out2)``
==========================  =========================================  ==========================

The protocols are abstract base classes: a class declares one by subclassing it or with
``Protocol.register(cls)``; fit does not guess from method names (reglab's own classes subclass
them: ``reglab.augment.Augmentation`` is an :class:`InputAugmentation`, ``LabelMixing`` a
:class:`LabelMixer`). Any other callable (a function, an ``nn.Module``) is an input
augmentation, given ``generator=`` when its signature names it.

Example:
    >>> import torch, reglab as rl
    >>> from reglab.regularizer import GradientPenalty, ProximalStep
    >>> isinstance(rl.L2(1e-3), GradientPenalty), isinstance(rl.ProximalL1(1e-4), ProximalStep)
    (True, True)
    >>> class ClipWeights(rl.regularizer.WeightConstraint):
    ...     def apply_(self, params):
    ...         for p in params:
    ...             p.data.clamp_(-1, 1)
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from ._select import Params

__all__ = [
    "PROTOCOLS",
    "GradientPenalty",
    "InputAugmentation",
    "LabelMixer",
    "LossPenalty",
    "PairedPenalty",
    "ProximalStep",
    "WeightAveraging",
    "WeightConstraint",
]


class LossPenalty(abc.ABC):
    """A penalty added to the loss: ``pen(params)`` is a differentiable scalar tensor."""

    @abc.abstractmethod
    def __call__(self, params: Params) -> torch.Tensor: ...


class GradientPenalty(abc.ABC):
    """A penalty applied as a gradient transformation: ``add_grad_(params)`` after backward.

    ``pen(params)`` gives its value (fit reports it in the ``penalty`` column); ``add_grad_``
    adds its gradient into each parameter's ``.grad`` in place.
    """

    @abc.abstractmethod
    def __call__(self, params: Params) -> torch.Tensor: ...

    @abc.abstractmethod
    def add_grad_(self, params: Params) -> None: ...


class ProximalStep(abc.ABC):
    """A step after ``optimizer.step()`` that takes the learning rate: ``step_(params, lr)``."""

    @abc.abstractmethod
    def step_(self, params: Params, lr: float) -> None: ...


class WeightConstraint(abc.ABC):
    """A projection after ``optimizer.step()``: ``apply_(params)`` edits the weights in place."""

    @abc.abstractmethod
    def apply_(self, params: Params) -> None: ...


class InputAugmentation(abc.ABC):
    """A transform of each training batch's inputs: ``aug(x, generator=None) -> x``.

    Every ``reglab.augment.Augmentation`` is one (its base class subclasses this protocol).
    """

    @abc.abstractmethod
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Any: ...


class LabelMixer(abc.ABC):
    """Mixes inputs and labels of a batch: ``mix(x, y, generator=None) -> (x, soft_y)``.

    A class declares it by subclassing (``reglab.augment.LabelMixing``, the base class of
    ``MixUp`` and ``CutMix``, does) or with ``LabelMixer.register(cls)``. ``mixes_labels`` is
    ``True`` on every mixer (``False`` on reglab's input augmentations), for code that asks.
    """

    mixes_labels: ClassVar[bool] = True

    @abc.abstractmethod
    def mix(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class WeightAveraging(abc.ABC):
    """Keeps an average of the weights outside the model (``reglab.EMA``, ``reglab.SWA``).

    ``every`` is ``"step"`` (fit calls ``update(model)`` after each optimizer step, after the
    proximal steps and constraints) or ``"epoch"`` (at the end of each epoch ``>= start``).
    Before the epoch's measurements fit calls ``swap_in(model, batches)`` (``batches``: the
    unaugmented training split, for batch-norm statistics) and ``swap_back(model)`` before the
    next epoch trains; after the last epoch, or a stop, the average stays in the model.
    """

    every: ClassVar[str] = "step"
    start: int = 0

    @abc.abstractmethod
    def update(self, model: nn.Module) -> None: ...

    @abc.abstractmethod
    def swap_in(self, model: nn.Module, batches: Iterable[Any] | None = None) -> bool: ...

    @abc.abstractmethod
    def swap_back(self, model: nn.Module) -> None: ...

    def release(self) -> None:  # noqa: B027 (optional: nothing to forget by default)
        """Keep the average in the model for good (fit calls it after the last epoch)."""


class PairedPenalty(abc.ABC):
    """A penalty between two stochastic passes over the same batch: ``penalty(out1, out2)``.

    fit runs the model once on the batch concatenated with itself (independent dropout masks
    per row), takes the mean of the data loss of both halves and adds the penalty
    (``reglab.RDrop``: the symmetric KL divergence).
    """

    @abc.abstractmethod
    def penalty(self, out1: torch.Tensor, out2: torch.Tensor) -> torch.Tensor: ...


#: The protocols in the order fit dispatches on (the first that an object declares wins).
PROTOCOLS: tuple[type, ...] = (
    LossPenalty,
    GradientPenalty,
    ProximalStep,
    WeightConstraint,
    LabelMixer,
    InputAugmentation,
    WeightAveraging,
    PairedPenalty,
)
