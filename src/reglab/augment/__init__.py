"""Data augmentation: batched image transforms, label mixing, tabular noise.

Every augmentation draws per-sample parameters apart from applying them
(``aug.generate_params(shape, generator)`` then ``aug.apply(x, draws)``; ``aug(x, generator)``
does both), so a batch can be replayed exactly. Geometric transforms live in
:mod:`~reglab.augment.geometric`, intensity ones in :mod:`~reglab.augment.intensity`, ``Compose``
in :mod:`~reglab.augment.container`, label mixing in :mod:`~reglab.augment.mix`, feature-vector
noise in :mod:`reglab.augment.tabular`, RandAugment and TrivialAugment in
:mod:`~reglab.augment.auto`. Text augmentation (EDA), :mod:`reglab.augment.text`, is
imported the first time it is touched (``reglab.augment.text`` works after
``import reglab.augment``).

Example:
    >>> import torch, reglab.augment as A
    >>> aug = A.Compose([A.RandomFlip(), A.RandomRotation(15.0), A.RandomTranslation(0.1)])
    >>> aug(torch.rand(2, 3, 8, 8), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 8, 8])
"""

from __future__ import annotations

import importlib
from typing import Any

from . import tabular
from ._base import Augmentation, Draws
from .auto import RandAugment, TrivialAugment
from .container import Compose
from .geometric import (
    RandomAffine,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    warp_affine,
)
from .intensity import RandomBrightness, RandomContrast, RandomErasing, RandomGaussianNoise
from .mix import CutMix, LabelMixing, MixUp

__all__ = [
    "Augmentation",
    "Compose",
    "CutMix",
    "Draws",
    "LabelMixing",
    "MixUp",
    "RandAugment",
    "RandomAffine",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomErasing",
    "RandomFlip",
    "RandomGaussianNoise",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "TrivialAugment",
    "tabular",
    "text",
    "warp_affine",
]

# Submodules imported on first touch (as scipy does): text pulls in the word lists.
_LAZY = ("text",)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
