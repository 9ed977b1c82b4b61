"""``RegularizationSpec``: how a run regularizes and trains, turned into :func:`reglab.fit` arguments.

It names every regularization technique that is not part of the architecture (weight penalties,
weight decay, proximal L1, max-norm, augmentation, mixup/cutmix, label smoothing, early
stopping) plus the training it acts under (optimizer, learning rate and schedule, epochs, batch
size). :meth:`RegularizationSpec.parts` builds the optimizer, the regularization list, the
callbacks and the loss for a model; :func:`augmentation` turns an augmentation name into
:mod:`reglab.augment` objects. The architecture lives in :class:`reglab.models.ModelSpec`; the
lab's ``Recipe`` is both.

Example:
    >>> spec = RegularizationSpec(l1=1e-4, early_stopping=5)
    >>> parts = spec.parts(torch.nn.Linear(3, 2))
    >>> parts.regularization, [type(c).__name__ for c in parts.callbacks]
    ([L1(l1=0.0001)], ['CosineAnnealingLR', 'EarlyStopping'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

from .._checks import (
    Boolean,
    Constraint,
    Constraints,
    InstanceOf,
    Interval,
    NoneOk,
    OneOf,
    store_float_fields,
    validate_params,
)
from ..errors import ConfigError
from ..regularizer import LabelMixer

__all__ = [
    "AUGMENTATIONS",
    "REGULARIZATION_FIELDS",
    "TEXT_AUGMENTATIONS",
    "RegularizationSpec",
    "TrainingParts",
    "augmentation",
]

#: Augmentation names a spec accepts (join several with ``+``: ``"rotate+noise"``).
AUGMENTATIONS = ("affine", "crop", "erasing", "flip", "noise", "rotate", "translate")
#: Augmentations of text, made on the sentences before they are encoded (never joined by ``+``).
TEXT_AUGMENTATIONS = ("eda",)


class _AugmentName(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        if value in TEXT_AUGMENTATIONS:
            return True
        return isinstance(value, str) and all(p in AUGMENTATIONS for p in value.split("+"))

    def __str__(self) -> str:
        names = ", ".join(repr(a) for a in AUGMENTATIONS)
        return f"one of {names} (or several joined by '+'), or 'eda' for text"


_RATE = Interval(float, 0, 1, closed="left")
_STRENGTH = Interval(float, 0, None)
_POSITIVE = Interval(float, 0, None, closed="neither")


#: The constraints of RegularizationSpec.parts' arguments, checked by validate_params.
_PARTS_CONSTRAINTS: Constraints = {
    "optimizer": [
        NoneOk(),
        InstanceOf(torch.optim.Optimizer, description="a torch.optim.Optimizer"),
    ]
}
#: The constraints of RegularizationSpec.weight_decay_for's argument.
_LR_CONSTRAINTS: Constraints = {"lr": [Interval(float, 0, None, closed="neither")]}


@dataclass
class TrainingParts:
    """What a recipe gives :func:`reglab.fit`: the optimizer, the regularization list, the
    callbacks, the loss (None: fit's default) and the epochs (:meth:`RegularizationSpec.parts`).

    Example:
        >>> parts = RegularizationSpec(l2=1e-3).parts(torch.nn.Linear(2, 2))
        >>> type(parts.optimizer).__name__, parts.regularization, parts.epochs
        ('Adam', [L2(l2=0.001)], 60)
    """

    optimizer: torch.optim.Optimizer
    regularization: list[Any]
    callbacks: list[Any]
    loss: nn.Module | None
    epochs: int

    def kwargs(self) -> dict[str, Any]:
        """The parts as keyword arguments of :func:`reglab.fit`."""
        return {
            "optimizer": self.optimizer,
            "regularization": self.regularization,
            "callbacks": self.callbacks,
            "loss": self.loss,
            "epochs": self.epochs,
        }


@dataclass(frozen=True)
class RegularizationSpec:
    """How a run regularizes and trains (frozen; every field validated on creation).

    All techniques are off by default, so ``RegularizationSpec()`` trains without any.

    Args:
        l1, l2: penalties ``l1 * sum|w|`` and ``l2 * sum w^2`` on the weights (Keras' convention).
        weight_decay: strength of :class:`reglab.optim.WeightDecay`; ``weight_decay_mode`` is
            ``"decoupled"`` (AdamW), ``"coupled"`` (L2 through the optimizer) or
            ``"independent"`` (not scaled by the learning rate).
        proximal_l1: soft-threshold strength of :class:`reglab.optim.ProximalL1` (exact zeros).
        max_norm: cap on each unit's incoming weight norm (:class:`reglab.constraints.MaxNorm`).
        augment: augmentation name(s) from :data:`AUGMENTATIONS` (``"rotate+noise"``), scaled by
            ``augment_magnitude`` (1.0 = the strengths of :func:`augmentation`), each sample
            augmented with probability ``augment_p`` (the rest pass through unchanged).
            ``"eda"`` is for text: Wei & Zou's EDA copies of each training sentence, made by the
            lab before encoding (:func:`reglab.lab.core.text.eda_for`), not by :meth:`parts`.
        eda_alpha, eda_num_aug: EDA's share of words changed per operation and augmented copies
            per sentence; None takes Wei & Zou's Table 3 preset for the training-set size.
        eda_per_epoch: draw new EDA copies each epoch instead of once per seed before training.
        mixup, cutmix: Beta(alpha, alpha) concentration; 0 switches them off. With both on,
            each batch is mixed by one or the other with equal probability.
        label_smoothing: ``eps`` of the smoothed targets ``(1 - eps) y + eps / K``.
        early_stopping: patience in epochs on the validation loss, best weights restored;
            None is off.
        epochs: maximum epochs.
        lr: learning rate; ``lr_schedule`` ``"cosine"`` anneals it to 0 over ``epochs``
            (per epoch) or keeps it ``"constant"``.
        optimizer: ``"adam"`` or ``"sgd"`` (with ``momentum``).
        batch_size: training batch size.

    Example:
        >>> RegularizationSpec(label_smoothing=1.0)
        Traceback (most recent call last):
        ...
        reglab.errors.ConfigError: The 'label_smoothing' parameter of RegularizationSpec must be a float in [0, 1). Got 1.0 instead.
    """

    l1: float = 0.0
    l2: float = 0.0
    weight_decay: float = 0.0
    weight_decay_mode: str = "decoupled"
    proximal_l1: float = 0.0
    max_norm: float | None = None
    augment: str | None = None
    augment_magnitude: float = 1.0
    augment_p: float = 1.0
    eda_alpha: float | None = None
    eda_num_aug: int | None = None
    eda_per_epoch: bool = False
    mixup: float = 0.0
    cutmix: float = 0.0
    label_smoothing: float = 0.0
    early_stopping: int | None = None
    epochs: int = 60
    lr: float = 5e-3
    lr_schedule: str = "cosine"
    optimizer: str = "adam"
    momentum: float = 0.9
    batch_size: int = 50

    #: The declared constraint of each field (checked on creation).
    _parameter_constraints: ClassVar[Constraints] = {
        "l1": [_STRENGTH],
        "l2": [_STRENGTH],
        "weight_decay": [_STRENGTH],
        "weight_decay_mode": [OneOf("decoupled", "coupled", "independent")],
        "proximal_l1": [_STRENGTH],
        "max_norm": [_POSITIVE, NoneOk()],
        "augment": [_AugmentName(), NoneOk()],
        "augment_magnitude": [Interval(float, 0, 10, closed="right")],
        "augment_p": [Interval(float, 0, 1, closed="right")],
        "eda_alpha": [Interval(float, 0, 1, closed="right"), NoneOk()],
        "eda_num_aug": [Interval(int, 1, None), NoneOk()],
        "eda_per_epoch": [Boolean()],
        "mixup": [_STRENGTH],
        "cutmix": [_STRENGTH],
        "label_smoothing": [_RATE],
        "early_stopping": [Interval(int, 0, None), NoneOk()],
        "epochs": [Interval(int, 1, None)],
        "lr": [_POSITIVE],
        "lr_schedule": [OneOf("constant", "cosine")],
        "optimizer": [OneOf("adam", "sgd")],
        "momentum": [_RATE],
        "batch_size": [Interval(int, 1, None)],
    }

    def __post_init__(self) -> None:
        validate_params(self, vars(self))
        store_float_fields(self)

    @property
    def regularization_spec(self) -> RegularizationSpec:
        """These fields alone, as a plain :class:`RegularizationSpec` (for subclasses)."""
        return RegularizationSpec(**{k: getattr(self, k) for k in REGULARIZATION_FIELDS})

    def parts(
        self,
        model: nn.Module,
        *,
        input_shape: tuple[int, ...] | None = None,
        num_classes: int | None = None,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> TrainingParts:
        """The keyword arguments of :func:`reglab.fit` that carry this recipe, for ``model``.

        Returns :class:`TrainingParts` (``fit(model, train, val, **parts.kwargs())``): ``optimizer`` (Adam/SGD, wrapped in
        :class:`reglab.optim.WeightDecay` when ``weight_decay > 0``), ``regularization`` (a
        list: the L1/L2/elastic-net penalty, :class:`~reglab.optim.ProximalL1`,
        :class:`~reglab.constraints.MaxNorm`, the augmentation, MixUp/CutMix), ``callbacks``
        (torch's ``CosineAnnealingLR``, stepped by fit once per epoch, and
        :class:`~reglab.callbacks.EarlyStopping` with
        ``restore_best_weights=True``), ``loss`` (cross-entropy with label smoothing when no
        mixing carries it, else None: fit's default) and ``epochs``.

        The recipe's optimizer settings belong together: ``weight_decay`` is tuned for decay
        under ``optimizer`` at ``lr`` with ``lr_schedule``. A training function that keeps its
        own optimizer passes it as ``optimizer``: the result then holds that optimizer (wrapped
        in ``WeightDecay`` with the strength :meth:`weight_decay_for` its first group's lr, so
        each step decays the weights as much as the recipe's would), and ``callbacks`` holds no
        LR schedule (the recipe's cosine schedule is tied to its own optimizer).

        Args:
            model: the model the optimizer will train.
            input_shape: one sample's shape, needed by ``augment="crop"`` and to choose tabular
                noise for ``(F,)`` inputs; taken as an image when None.
            num_classes: needed by mixup/cutmix.
            optimizer: your own optimizer over ``model``'s parameters (its own ``weight_decay``
                0), used instead of the recipe's ``optimizer``/``lr``/``momentum``/schedule.

        Example:
            >>> spec = RegularizationSpec(weight_decay=0.5, augment="noise", mixup=0.2)
            >>> p = spec.parts(torch.nn.Linear(4, 3), input_shape=(4,), num_classes=3)
            >>> sorted(p.kwargs())
            ['callbacks', 'epochs', 'loss', 'optimizer', 'regularization']
        """
        from .. import penalty as pen
        from ..callbacks import EarlyStopping
        from ..constraints import MaxNorm
        from ..optim import ProximalL1, WeightDecay

        validate_params(f"{type(self).__name__}.parts", locals(), _PARTS_CONSTRAINTS)
        opt: torch.optim.Optimizer
        decay = self.weight_decay
        if optimizer is not None:
            opt = optimizer
            decay = self.weight_decay_for(float(optimizer.param_groups[0]["lr"]))
        # foreach: the same per-tensor arithmetic (bit for bit) in one call per step instead of
        # a Python loop over the parameters; torch only picks it by itself on CUDA.
        elif self.optimizer == "adam":
            opt = torch.optim.Adam(_trainable(model), lr=self.lr, foreach=True)
        else:
            opt = torch.optim.SGD(
                _trainable(model), lr=self.lr, momentum=self.momentum, foreach=True
            )
        if decay > 0:
            opt = WeightDecay(opt, decay, mode=self.weight_decay_mode, params=model)

        reg: list[Any] = []
        if self.l1 > 0 and self.l2 > 0:
            reg.append(pen.ElasticNet(self.l1, self.l2))
        elif self.l1 > 0:
            reg.append(pen.L1(self.l1))
        elif self.l2 > 0:
            reg.append(pen.L2(self.l2))
        if self.proximal_l1 > 0:
            reg.append(ProximalL1(self.proximal_l1))
        if self.max_norm is not None:
            reg.append(MaxNorm(self.max_norm))
        if self.augment is not None and self.augment not in TEXT_AUGMENTATIONS:
            reg.append(
                augmentation(self.augment, self.augment_magnitude, input_shape, p=self.augment_p)
            )
        mixing = self._mixing(num_classes)
        if mixing is not None:
            reg.append(mixing)

        callbacks: list[Any] = []
        if self.lr_schedule == "cosine" and optimizer is None:
            callbacks.append(torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs))
        if self.early_stopping is not None:
            callbacks.append(
                EarlyStopping(
                    monitor="val_loss", patience=self.early_stopping, restore_best_weights=True
                )
            )
        loss = None
        if self.label_smoothing > 0 and mixing is None:
            loss = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        return TrainingParts(opt, reg, callbacks, loss, self.epochs)

    def inert(self, epochs: int | None = None) -> list[str]:
        """What in this spec cannot act at these settings (``epochs`` overrides the spec's): one
        line per technique, empty when every technique can act.

        Example:
            >>> RegularizationSpec(early_stopping=10, epochs=3).inert()
            ['early stopping with patience 10 cannot stop a run of 3 epochs']
        """
        epochs = self.epochs if epochs is None else epochs
        notes = []
        if self.early_stopping is not None and self.early_stopping >= epochs:
            notes.append(
                f"early stopping with patience {self.early_stopping} cannot stop a run of "
                f"{epochs} epochs"
            )
        if self.augment is not None and self.augment != "eda" and self.augment_p == 0:
            notes.append(f"augmentation {self.augment!r} with augment_p=0 never augments")
        if self.augment is not None and self.augment != "eda" and self.augment_magnitude == 0:
            notes.append(f"augmentation {self.augment!r} with augment_magnitude=0 changes nothing")
        return notes

    def weight_decay_for(self, lr: float) -> float:
        """The ``weight_decay`` that gives an optimizer at learning rate ``lr`` this recipe's decay.

        In ``"decoupled"`` mode a step shrinks the weights by ``w <- (1 - lr * wd) w``, so the
        recipe's per-step shrink is ``self.lr * self.weight_decay``; at another ``lr`` the same
        shrink needs ``weight_decay * self.lr / lr``. (Under a schedule the shrink then follows
        your optimizer's lr as the recipe's follows its own.) ``"coupled"`` (the penalty
        ``wd/2 * ||w||^2``, part of the loss) and ``"independent"`` (``(1 - wd)`` per step) do
        not involve the lr: the strength stays as it is.

        Example:
            >>> spec = RegularizationSpec(weight_decay=0.5, lr=5e-3)
            >>> spec.weight_decay_for(1.0)  # Adadelta's lr: the same 0.0025 shrink per step
            0.0025
        """
        validate_params(f"{type(self).__name__}.weight_decay_for", locals(), _LR_CONSTRAINTS)
        if self.weight_decay_mode != "decoupled":
            return self.weight_decay
        return self.weight_decay * self.lr / float(lr)

    def _mixing(self, num_classes: int | None) -> Any:
        if self.mixup == 0 and self.cutmix == 0:
            return None
        if num_classes is None:
            raise ConfigError(
                f"{type(self).__name__}.parts needs num_classes for mixup/cutmix (a "
                "classification task). Got num_classes=None instead."
            )
        from .. import augment as A

        ls = self.label_smoothing
        mixers: list[Any] = []
        if self.mixup > 0:
            mixers.append(A.MixUp(self.mixup, num_classes=num_classes, label_smoothing=ls))
        if self.cutmix > 0:
            mixers.append(A.CutMix(self.cutmix, num_classes=num_classes, label_smoothing=ls))
        return mixers[0] if len(mixers) == 1 else _EitherMix(mixers[0], mixers[1])


def _trainable(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


#: The field names of :class:`RegularizationSpec`, in declaration order.
REGULARIZATION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RegularizationSpec))


class _EitherMix(LabelMixer):
    """MixUp or CutMix, chosen per batch with equal probability (as timm's mixup switch)."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second

    def mix(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        use_first = bool(torch.rand((), generator=generator) < 0.5)
        chosen = self.first if use_first else self.second
        out: tuple[torch.Tensor, torch.Tensor] = chosen.mix(x, y, generator=generator)
        return out

    def __repr__(self) -> str:
        return f"EitherMix({self.first!r}, {self.second!r})"


#: The constraints of augmentation's arguments, checked by validate_params.
_AUGMENTATION_CONSTRAINTS: Constraints = {
    "name": [_AugmentName()],
    "magnitude": [Interval(float, 0, 10, closed="right")],
    "p": [Interval(float, 0, 1, closed="right")],
}


def augmentation(
    name: str,
    magnitude: float = 1.0,
    input_shape: tuple[int, ...] | None = None,
    *,
    p: float = 1.0,
) -> Any:
    """The augmentation a recipe names, with strengths scaled by ``magnitude``.

    At magnitude 1: ``rotate`` 15 degrees; ``translate`` 10% of each side; ``affine``
    rotation 10 degrees, translation 10%, scale 0.9-1.1 and shear 5 degrees in one resampling;
    ``flip`` horizontal; ``crop`` pad ``ceil(H/8)`` pixels and crop back; ``erasing`` cutout of
    2-20% of the area; ``noise`` Gaussian noise of std 0.1 (per-feature scaled on tabular
    ``(F,)`` inputs; signals ``(C, L)`` take only ``noise``). Several names joined by ``+`` are
    composed (geometric ones fused). Each sample is transformed with probability ``p``
    (``erasing``: ``p / 2``, its usual rate).

    Example:
        >>> augmentation("rotate+noise", 0.5)
        Compose(...)
    """
    from .. import augment as A

    validate_params("augmentation", locals(), _AUGMENTATION_CONSTRAINTS)
    if name in TEXT_AUGMENTATIONS:
        raise ConfigError(
            f"Augmentation {name!r} acts on sentences, not on batches of tensors: the lab makes "
            "the copies before encoding (reglab.augment.text.EDA for your own loop)."
        )
    m = float(magnitude)
    tabular = input_shape is not None and len(input_shape) == 1
    names = name.split("+")
    if tabular:
        if names != ["noise"]:
            raise ConfigError(
                f"Augmentation {name!r} needs images (C, H, W); the data is tabular with "
                f"input_shape {tuple(input_shape or ())}. Use augment=noise for tabular data."
            )
        from ..augment import tabular as T

        return T.FeatureNoise(0.1 * m, p=p)
    if input_shape is not None and len(input_shape) == 2:
        if names != ["noise"]:
            raise ConfigError(
                f"Augmentation {name!r} needs images (C, H, W); the data are signals with "
                f"input_shape {tuple(input_shape)}. Use augment=noise for signals."
            )
        return A.RandomGaussianNoise(0.1 * m, p=p)
    size = (input_shape[1], input_shape[2]) if input_shape is not None else None
    parts = [_image_augmentation(A, n, m, size, float(p)) for n in names]
    return parts[0] if len(parts) == 1 else A.Compose(parts)


def _image_augmentation(A: Any, name: str, m: float, size: tuple[int, int] | None, p: float) -> Any:
    if name == "rotate":
        return A.RandomRotation(min(15.0 * m, 180.0), p=p)
    if name == "translate":
        return A.RandomTranslation(min(0.1 * m, 1.0), p=p)
    if name == "affine":
        return A.RandomAffine(
            degrees=min(10.0 * m, 180.0),
            translate=min(0.1 * m, 1.0),
            scale=(max(1.0 - 0.1 * m, 0.05), 1.0 + 0.1 * m),
            shear=min(5.0 * m, 45.0),
            p=p,
        )
    if name == "flip":
        return A.RandomFlip("horizontal", p=p / 2)
    if name == "noise":
        return A.RandomGaussianNoise(0.1 * m, p=p)
    if name == "erasing":
        return A.RandomErasing(scale=(0.02, max(0.02, min(0.2 * m, 1.0))), p=p / 2)
    # crop
    if size is None:
        raise ConfigError(
            "Augmentation 'crop' needs the image size: pass input_shape=(C, H, W) to parts()."
        )
    pad = max(1, math.ceil(m * size[0] / 8))
    return A.RandomCrop(size, padding=pad, p=p)
