"""The shared checklist over every public augmentation, and the test that keeps the list complete.

Each case runs the checklist items that apply to augmentations (repr, bad constructor
arguments, replay and same-seed determinism, dtypes); ``test_every_public_augmentation_is_listed``
fails when a public augmentation class has no case here.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

import reglab.augment as A
from reglab.augment import tabular
from reglab.augment.text import EDA
from tests.augment.test_auto import AUTO_CASES
from tests.checklist import AugmentationCase, Check, checklist


def _msg(param, owner, constraint, got):
    return f"The {param!r} parameter of {owner} must be {constraint}. Got {got} instead."


DEG = "a float in [0, 180] or a (min, max) pair of floats in [-180, 180]"
FRAC = "a float in [0, 1] or an (x, y) pair of floats in [0, 1]"
IMAGE_CASES = [
    AugmentationCase(
        "RandomRotation",
        lambda: A.RandomRotation(15.0),
        repr_contains=["degrees=(-15.0, 15.0)", "interpolation='bilinear'", "p=1.0"],
        bad=[
            (lambda: A.RandomRotation(200), _msg("degrees", "RandomRotation", DEG, "200")),
            (
                lambda: A.RandomRotation((10, -10)),
                _msg("degrees", "RandomRotation", DEG, "(10, -10)"),
            ),
            (
                lambda: A.RandomRotation(10, p=1.5),
                _msg("p", "RandomRotation", "a float in [0, 1]", "1.5"),
            ),
            (
                lambda: A.RandomRotation(10, interpolation="cubic"),
                _msg("interpolation", "RandomRotation", "one of 'bilinear', 'nearest'", "'cubic'"),
            ),
        ],
    ),
    AugmentationCase(
        "RandomTranslation",
        lambda: A.RandomTranslation(0.1),
        repr_contains=["fraction=(0.1, 0.1)"],
        bad=[
            (lambda: A.RandomTranslation(1.5), _msg("fraction", "RandomTranslation", FRAC, "1.5")),
            (
                lambda: A.RandomTranslation(-0.1),
                _msg("fraction", "RandomTranslation", FRAC, "-0.1"),
            ),
        ],
    ),
    AugmentationCase(
        "RandomFlip",
        lambda: A.RandomFlip("both"),
        repr_contains=["mode='both'", "p=0.5"],
        bad=[
            (
                lambda: A.RandomFlip("diagonal"),
                _msg("mode", "RandomFlip", "one of 'horizontal', 'vertical', 'both'", "'diagonal'"),
            ),
            (lambda: A.RandomFlip(p=-0.1), _msg("p", "RandomFlip", "a float in [0, 1]", "-0.1")),
        ],
    ),
    AugmentationCase(
        "RandomZoom",
        lambda: A.RandomZoom(0.2),
        repr_contains=["range=(0.8, 1.2)"],
        bad=[
            (
                lambda: A.RandomZoom(1.0),
                _msg(
                    "range",
                    "RandomZoom",
                    "a float in [0, 1) or a (min, max) pair of floats in (0, inf)",
                    "1.0",
                ),
            )
        ],
    ),
    AugmentationCase(
        "RandomAffine",
        lambda: A.RandomAffine(10.0, shear=5.0),
        repr_contains=["shear=(-5.0, 5.0, 0.0, 0.0)"],
        bad=[
            (
                lambda: A.RandomAffine(10.0, shear=90.0),
                _msg(
                    "shear",
                    "RandomAffine",
                    "a float in [0, 90), a (min, max) pair of floats in (-90, 90) or a "
                    "(xmin, xmax, ymin, ymax) tuple of floats in (-90, 90)",
                    "90.0",
                ),
            ),
            (
                lambda: A.RandomAffine(10.0, translate=2.0),
                _msg("translate", "RandomAffine", FRAC, "2.0"),
            ),
        ],
    ),
    AugmentationCase(
        "RandomCrop",
        lambda: A.RandomCrop(6, padding=1),
        repr_contains=["size=(6, 6)", "padding=1"],
        bad=[
            (lambda: A.RandomCrop(0), _msg("size", "RandomCrop", "an int in [1, inf)", "0")),
            (
                lambda: A.RandomCrop(4, padding=-1),
                _msg("padding", "RandomCrop", "an int in [0, inf)", "-1"),
            ),
        ],
    ),
    AugmentationCase(
        "RandomErasing",
        lambda: A.RandomErasing(),
        repr_contains=["scale=(0.02, 0.33)", "p=0.5"],
        bad=[
            (
                lambda: A.RandomErasing(scale=(0.5, 0.1)),
                _msg(
                    "scale", "RandomErasing", "a (min, max) pair of floats in (0, 1]", "(0.5, 0.1)"
                ),
            )
        ],
    ),
    AugmentationCase(
        "RandomGaussianNoise",
        lambda: A.RandomGaussianNoise(0.1),
        repr_contains=["std=0.1"],
        bad=[
            (
                lambda: A.RandomGaussianNoise(-1.0),
                _msg("std", "RandomGaussianNoise", "a float in [0, inf)", "-1.0"),
            )
        ],
    ),
    AugmentationCase(
        "RandomContrast",
        lambda: A.RandomContrast(0.2),
        repr_contains=["factor=(0.8, 1.2)"],
        bad=[
            (
                lambda: A.RandomContrast(2.0),
                _msg(
                    "factor",
                    "RandomContrast",
                    "a float in [0, 1] or a (min, max) pair of floats in [0, inf)",
                    "2.0",
                ),
            )
        ],
    ),
    AugmentationCase(
        "Compose",
        lambda: A.Compose([A.RandomFlip(), A.RandomGaussianNoise(0.1)]),
        repr_contains=[
            "RandomFlip(mode='horizontal', p=0.5)",
            "RandomGaussianNoise(std=0.1, p=1.0)",
        ],
        bad=[
            (
                lambda: A.Compose(A.RandomFlip()),
                "The 'transforms' parameter of Compose must be a list of augmentations. "
                "Got RandomFlip instead.",
            ),
            (
                lambda: A.Compose([], value_range=(1, 0)),
                _msg(
                    "value_range",
                    "Compose",
                    "None or a (low, high) pair of floats with low < high",
                    "(1, 0)",
                ),
            ),
        ],
    ),
]


OTHER_CASES = [
    AugmentationCase(
        "RandomBrightness",
        lambda: A.RandomBrightness(0.2),
        repr_contains=["delta=(-0.2, 0.2)", "p=1.0"],
        bad=[
            (
                lambda: A.RandomBrightness(-0.1),
                _msg(
                    "delta",
                    "RandomBrightness",
                    "a float in [0, inf) or a (min, max) pair of floats in (-inf, inf)",
                    "-0.1",
                ),
            )
        ],
    ),
    AugmentationCase(
        "FeatureNoise",
        lambda: tabular.FeatureNoise(0.1, per_feature_scale=False),
        input_shape=(6, 5),
        repr_contains=["std=0.1", "per_feature_scale=False"],
        bad=[
            (
                lambda: tabular.FeatureNoise(-1.0),
                _msg("std", "FeatureNoise", "a float in [0, inf)", "-1.0"),
            )
        ],
    ),
    AugmentationCase(
        "MixUp",
        lambda: A.MixUp(0.4, num_classes=3),
        input_shape=(6, 3, 4, 4),
        kind="mixer",
        repr_contains=["alpha=0.4", "num_classes=3"],
        bad=[
            (
                lambda: A.MixUp(0.4, layout="image"),
                _msg("layout", "MixUp", "one of 'any', 'tabular'", "'image'"),
            ),
            (lambda: A.MixUp(-1.0), _msg("alpha", "MixUp", "a float in (0, inf)", "-1.0")),
        ],
    ),
    AugmentationCase(
        "MixUp[tabular]",
        lambda: A.MixUp(0.4, num_classes=3, layout="tabular"),
        input_shape=(6, 5),
        kind="mixer",
        repr_contains=["layout='tabular'"],
    ),
    AugmentationCase(
        "CutMix",
        lambda: A.CutMix(1.0, num_classes=3),
        input_shape=(6, 3, 8, 8),
        kind="mixer",
        repr_contains=["alpha=1.0"],
        bad=[
            (
                lambda: A.CutMix(1.0, label_smoothing=1.0),
                _msg("label_smoothing", "CutMix", "a float in [0, 1)", "1.0"),
            )
        ],
    ),
    AugmentationCase(
        "EDA",
        lambda: EDA(num_aug=3, synonyms={"quick": ["speedy", "fast"], "lazy": ["idle"]}),
        kind="text",
        repr_contains=["num_aug=3"],
        bad=[(lambda: EDA(num_aug=0), _msg("num_aug", "EDA", "an int in [1, inf)", "0"))],
    ),
]

CASES = IMAGE_CASES + OTHER_CASES + AUTO_CASES


@pytest.mark.parametrize(("case", "check"), checklist(CASES))
def test_checklist(case: AugmentationCase, check: Check) -> None:
    check(case)


# Public classes of reglab.augment that are not augmentations: bases and synonym sources.
NOT_AUGMENTATIONS = {
    "Augmentation",
    "Draw",
    "LabelMixing",
    "MappingSynonyms",
    "Setting",
    "SynonymSource",
    "Synset",
    "WordNetSynonyms",
}
MODULES = (
    "reglab.augment",
    "reglab.augment._base",
    "reglab.augment.geometric",
    "reglab.augment.intensity",
    "reglab.augment.container",
    "reglab.augment.mix",
    "reglab.augment.tabular",
    "reglab.augment.text",
    "reglab.augment.wordnet",
)


def public_augmentation_classes() -> set[str]:
    names = set()
    for module in MODULES:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            if inspect.isclass(getattr(mod, name)) and name not in NOT_AUGMENTATIONS:
                names.add(name)
    return names


def test_every_public_augmentation_is_listed():
    listed = {c.name.split("[")[0] for c in CASES}
    missing = public_augmentation_classes() - listed
    assert not missing, f"add checklist cases for {sorted(missing)}"
    assert {"RandomFlip", "RandomGaussianNoise", "Compose", "MixUp", "EDA"} <= listed
