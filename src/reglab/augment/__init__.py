"""Data augmentation: batched image transforms, label mixing, tabular noise.

Every augmentation draws per-sample parameters apart from applying them
(``aug.generate_params(shape, generator)`` then ``aug.apply(x, params)``; ``aug(x, generator)``
does both), so a batch can be replayed exactly. Text augmentation (EDA) lives in
:mod:`reglab.augment.text` and tabular ones in :mod:`reglab.augment.tabular`; both are imported
on demand.

Example:
    >>> import torch, reglab.augment as A
    >>> aug = A.Compose([A.RandomFlip(), A.RandomRotation(15.0), A.RandomTranslation(0.1)])
    >>> aug(torch.rand(2, 3, 8, 8), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 8, 8])
"""

from __future__ import annotations

from . import tabular
from ._base import Augmentation, Params
from .image import (
    Compose,
    GaussianNoise,
    RandomAffine,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomErasing,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    warp_affine,
)
from .mix import CutMix, LabelMixing, MixUp

__all__ = [
    "Augmentation",
    "Compose",
    "CutMix",
    "GaussianNoise",
    "LabelMixing",
    "MixUp",
    "Params",
    "RandomAffine",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomErasing",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "tabular",
    "warp_affine",
]
