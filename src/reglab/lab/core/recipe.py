"""Recipes: one frozen, validated description of how a lab run builds, regularizes and trains.

A :class:`Recipe` is a :class:`reglab.models.ModelSpec` (the architecture) and a
:class:`reglab.train.spec.RegularizationSpec` (the regularization and training knobs) with a
name; this module adds what the lab needs on top: parsing and the built-in recipes.

Recipes come from :data:`BUILTIN_RECIPES` by name, from a one-line spec
(``Recipe.from_spec("all,dropout=0.5")``, what ``reglab study --recipe`` takes), from a TOML
file (:meth:`Recipe.from_toml`), or from their stored form (:meth:`Recipe.from_dict`).

Example:
    >>> r = Recipe.from_spec("dropout=0.3,weight_decay=5e-4,augment=affine")
    >>> r.dropout, r.weight_decay, r.augment, r.epochs == BUILTIN_RECIPES["baseline"].epochs
    (0.3, 0.0005, 'affine', True)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from ..._checks import Constraint, Constraints, store_float_fields, validate_params
from ...errors import ConfigError, did_you_mean, format_value
from ...models.spec import ModelSpec
from ...train.spec import (
    AUGMENTATIONS,
    RegularizationSpec,
    augmentation,
)
from .cells import NOISE_KINDS

__all__ = [
    "AUGMENTATIONS",
    "BUILTIN_RECIPES",
    "TEXT_RECIPES",
    "Recipe",
    "augmentation",
    "builtin_for_kind",
]


class _Name(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and value.strip() != "" and value == value.strip()

    def __str__(self) -> str:
        return "a non-empty str without surrounding spaces"


# Fields whose spec/TOML value "none"/"off" means None.
_OPTIONAL = (
    "norm",
    "init",
    "max_norm",
    "augment",
    "early_stopping",
    "width",
    "depth",
    "eda_alpha",
    "eda_num_aug",
    "embedding_dim",
    "embedding_max_norm",
)
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class Recipe(RegularizationSpec, ModelSpec):
    """How one lab run builds, regularizes and trains a model (frozen; every field validated).

    A recipe is a :class:`reglab.models.ModelSpec` (the architecture: ``dropout``,
    ``dropout_scaling``, ``norm``, ``norm_position``, ``init``, ``width``, ``depth``, ``pool``)
    and a :class:`reglab.train.spec.RegularizationSpec` (penalties, weight decay, proximal L1,
    max-norm, augmentation, mixing, label smoothing, early stopping, and the optimizer, learning
    rate, schedule, epochs and batch size), with a ``name`` for reports and storage and a
    free-text ``description``. Every field is off by default, so ``Recipe()`` is the
    unregularized baseline. ``recipe.model_spec`` and ``recipe.regularization_spec`` give the
    two halves alone; :meth:`parts` builds the :func:`reglab.fit` arguments and
    :func:`reglab.models.build_model` reads the architecture.

    Example:
        >>> Recipe(dropout=0.2, norm="batch").norm
        'batch'
        >>> Recipe(dropout=1.5)
        Traceback (most recent call last):
        ...
        reglab.errors.ConfigError: The 'dropout' parameter of Recipe must be a float in [0, 1). Got 1.5 instead.
    """

    name: str = "custom"
    description: str = field(default="", compare=False)

    _parameter_constraints: ClassVar[Constraints] = {
        "name": [_Name()],
        **ModelSpec._parameter_constraints,
        **RegularizationSpec._parameter_constraints,
    }

    def __post_init__(self) -> None:
        validate_params(self, vars(self))
        store_float_fields(self)
        if not isinstance(self.description, str):
            raise ConfigError(
                "The 'description' parameter of Recipe must be a str. "
                f"Got {format_value(self.description)} instead."
            )

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Every field name a spec, TOML file or dict may set (``name`` first)."""
        names = [f.name for f in fields(cls)]
        return ("name", *(n for n in names if n != "name"))

    def replace(self, **changes: Any) -> Recipe:
        """A copy with ``changes`` applied (validated; unknown keys are a ``ConfigError``)."""
        _check_keys("Recipe.replace", changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """The inverse of :meth:`to_dict` (unknown keys are a ``ConfigError``)."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"Recipe.from_dict expects a mapping. Got {type(data).__name__} instead."
            )
        _check_keys("Recipe.from_dict", data)
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python values (JSON/TOML-ready, ``None`` kept)."""
        return {k: getattr(self, k) for k in self.keys()}

    @classmethod
    def from_spec(cls, spec: str) -> Recipe:
        """Parse ``"[BASE,]key=value,key=value"``, e.g. ``"all,dropout=0.5"``.

        ``BASE`` is a built-in recipe name (default: ``baseline``); the keys override its
        fields. Values are parsed by the field's type; ``none``/``off`` turn an optional
        technique off. Without ``name=``, the recipe is named after the spec itself.

        Example:
            >>> r = Recipe.from_spec("batchnorm, norm_position=after, early_stopping=off")
            >>> r.norm, r.norm_position, r.early_stopping, r.name
            ('batch', 'after', None, 'batchnorm,norm_position=after,early_stopping=off')
        """
        if not isinstance(spec, str) or not spec.strip():
            raise ConfigError(
                "A recipe spec must be a non-empty string like 'dropout=0.3,augment=affine' "
                f"or a built-in name ({', '.join(BUILTIN_RECIPES)}). "
                f"Got {format_value(spec)} instead."
            )
        items = [s.strip() for s in spec.split(",") if s.strip()]
        label = ",".join(items)
        base = BUILTIN_RECIPES["baseline"]
        if items and "=" not in items[0]:
            base = _builtin(items.pop(0), spec)
        changes: dict[str, Any] = {}
        for item in items:
            if "=" not in item:
                hint = "" if item in BUILTIN_RECIPES else did_you_mean(item, Recipe.keys())
                raise ConfigError(
                    f"Recipe spec item {item!r} in {spec!r} is not key=value; only the first "
                    f"item may be a built-in recipe name ({', '.join(BUILTIN_RECIPES)}).{hint}"
                )
            key, _, text = (s.strip() for s in item.partition("="))
            _check_keys(f"Recipe spec {spec!r}", {key: None})
            if key in changes:
                raise ConfigError(f"Recipe spec {spec!r} sets {key!r} twice.")
            changes[key] = _parse(key, text)
        changes.setdefault("name", label)
        return dataclasses.replace(base, **changes)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Recipe:
        """Read a recipe from a TOML file: top-level ``key = value`` pairs (or a ``[recipe]`` table).

        ``base = "NAME"`` starts from a built-in recipe; ``name`` defaults to the file's stem.
        TOML values keep their types; the strings ``"none"``/``"off"`` turn an optional
        technique off.

        Example:
            >>> import tempfile, pathlib
            >>> p = pathlib.Path(tempfile.mkdtemp()) / "strong.toml"
            >>> _ = p.write_text('base = "all"\\ndropout = 0.5\\n')
            >>> r = Recipe.from_toml(p)
            >>> r.name, r.dropout, r.norm
            ('strong', 0.5, 'batch')
        """
        toml = _toml_module()
        p = Path(path)
        try:
            with p.open("rb") as fh:
                data = toml.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"Recipe file {str(p)!r} does not exist.") from None
        except (OSError, toml.TOMLDecodeError) as exc:
            raise ConfigError(f"Cannot read recipe file {str(p)!r}: {exc}.") from None
        if set(data) == {"recipe"} and isinstance(data["recipe"], dict):
            data = data["recipe"]
        data = dict(data)
        base = BUILTIN_RECIPES["baseline"]
        if "base" in data:
            base = _builtin(data.pop("base"), str(p))
        _check_keys(f"Recipe file {str(p)!r}", data)
        changes = {
            k: None if k in _OPTIONAL and isinstance(v, str) and v.lower() in _NONE_WORDS else v
            for k, v in data.items()
        }
        changes.setdefault("name", p.stem)
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]

    def summary(self) -> str:
        """The fields that differ from the unregularized defaults, as a spec string.

        Example:
            >>> BUILTIN_RECIPES["dropout"].summary()
            'dropout=0.5'
        """
        default = Recipe()
        diff = [
            f"{f.name}={_show(getattr(self, f.name))}"
            for f in fields(self)
            if f.name not in ("name", "description")
            and getattr(self, f.name) != getattr(default, f.name)
        ]
        return ",".join(diff) or "(no regularization)"


_NONE_WORDS = ("none", "off", "null")


def _toml_module() -> Any:
    try:
        import tomllib  # Python >= 3.11
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ConfigError(
                "Reading a recipe from TOML needs Python 3.11+ or the 'tomli' package "
                "(pip install tomli)."
            ) from None
    return tomllib


def _show(value: Any) -> str:
    return "none" if value is None else str(value)


def _builtin(name: Any, where: str) -> Recipe:
    if name not in BUILTIN_RECIPES:
        raise ConfigError(
            f"Unknown built-in recipe {format_value(name)} in {where!r}."
            f"{did_you_mean(name, BUILTIN_RECIPES)} Valid names: {', '.join(BUILTIN_RECIPES)}."
        )
    return BUILTIN_RECIPES[name]


def _check_keys(where: str, data: Mapping[str, Any]) -> None:
    valid = Recipe.keys()
    for key in data:
        if key not in valid:
            raise ConfigError(
                f"{where} has an unknown key {format_value(key)}.{did_you_mean(key, valid)} "
                f"Valid keys: {', '.join(valid)}."
            )


def _parse(key: str, text: str) -> Any:
    """A spec value as the field's type; unparseable text stays a str, so validation names it."""
    kind = {f.name: f.type for f in fields(Recipe)}[key]
    if key in _OPTIONAL and text.lower() in _NONE_WORDS:
        return None
    if kind == "bool" and text.lower() in _TRUE + _FALSE:
        return text.lower() in _TRUE
    try:
        if kind.startswith("float"):
            return float(text)
        if kind.startswith("int"):
            return int(text)
    except ValueError:
        return text
    return text


def _variant(base: Recipe, name: str, description: str, **changes: Any) -> Recipe:
    """``base`` under another name and description, with ``changes``."""
    return dataclasses.replace(base, name=name, description=description, **changes)


def _by_name(*recipes: Recipe) -> dict[str, Recipe]:
    return {r.name: r for r in recipes}


def _builtins() -> dict[str, Recipe]:
    # Strengths chosen on the default study (digits, 200 training labels, small CNN, 60 epochs,
    # Adam 5e-3 with cosine decay) by validation accuracy (the README's demo table has the measured figures).
    base = Recipe(name="baseline", description="no regularization")
    affine = {"augment": "affine", "augment_magnitude": 1.0, "augment_p": 0.5}
    return _by_name(
        base,
        _variant(base, "dropout", "dropout 0.5 on the hidden dense layer", dropout=0.5),
        _variant(
            base, "weight_decay", "decoupled weight decay 0.5 on the weights", weight_decay=0.5
        ),
        _variant(base, "batchnorm", "batch norm before each ReLU", norm="batch"),
        _variant(
            base,
            "augment",
            "random affine transforms (10 deg, 10% shift/scale) on half the samples",
            **affine,
        ),
        _variant(
            base,
            "early_stopping",
            "stop after 10 epochs without a lower validation loss, best weights kept",
            early_stopping=10,
        ),
        _variant(
            base,
            "all",
            "batch norm, affine augmentation, dropout, weight decay, label smoothing, "
            "150 epochs at lr 3e-3",
            norm="batch",
            **affine,
            dropout=0.1,
            weight_decay=0.5,
            label_smoothing=0.2,
            # A longer, gentler schedule: with augmentation the network keeps improving past 60
            # epochs (validation 98.6% at 60, 99.0% at 150; 250 adds nothing).
            epochs=150,
            lr=3e-3,
            # No early stopping: under cosine annealing the last epochs are the best ones, and
            # early stopping on 300 validation images fires while the learning rate is still
            # high (patience 20 cost 0.3-0.6 points in every seed).
        ),
    )


def _text_builtins() -> dict[str, Recipe]:
    # The text versions of the built-ins, for a text model (textcnn) on sentences: Adam at lr
    # 1e-3 (Kim 2014; Wei & Zou 2019), batches of 50, 20 epochs with cosine decay.
    base = Recipe(name="baseline", description="no regularization", epochs=20, lr=1e-3)
    return _by_name(
        base,
        _variant(base, "dropout", "dropout 0.5 before the head (Kim 2014)", dropout=0.5),
        _variant(
            base,
            "weight_decay",
            "decoupled weight decay 0.1 on the weights and embeddings",
            weight_decay=0.1,
        ),
        _variant(
            base,
            "eda",
            "EDA copies of each training sentence (Wei & Zou's Table 3 presets)",
            augment="eda",
        ),
        _variant(
            base,
            "early_stopping",
            "stop after 3 epochs without a lower validation loss (Wei & Zou), best weights kept",
            early_stopping=3,
        ),
        _variant(
            base,
            "all",
            "EDA, dropout 0.5, word dropout 0.1, weight decay 0.1, early stopping 3",
            augment="eda",
            dropout=0.5,
            word_dropout=0.1,
            weight_decay=0.1,
            early_stopping=3,
        ),
    )


#: The lab's named recipes (the default study runs all seven but ``eda``, which is for text).
BUILTIN_RECIPES: dict[str, Recipe] = _builtins()

#: What a built-in recipe name means on text data (:func:`text_recipe`); the default study on
#: text runs these six.
TEXT_RECIPES: dict[str, Recipe] = _text_builtins()
BUILTIN_RECIPES["eda"] = dataclasses.replace(TEXT_RECIPES["eda"])


def builtin_for_kind(name: str, definition: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A built-in recipe (unchanged, by name) fitted to the data's kind; any other stays.

    On text a built-in name means its text version (:data:`TEXT_RECIPES`). The built-in
    ``augment`` and ``all`` recipes use affine image transforms; on tabular data and signals the
    matching augmentation is Gaussian noise, so a default study runs on any data. A recipe the
    user defined (spec or TOML) is never changed.

    Example:
        >>> builtin_for_kind("all", BUILTIN_RECIPES["all"].to_dict(), "tabular")["augment"]
        'noise'
        >>> builtin_for_kind("dropout", BUILTIN_RECIPES["dropout"].to_dict(), "text")["epochs"]
        20
    """

    d = dict(definition)
    builtin = BUILTIN_RECIPES.get(name)
    if builtin is None or d != builtin.to_dict():
        return d
    if kind == "text":
        return TEXT_RECIPES[name].to_dict() if name in TEXT_RECIPES else d
    if kind not in NOISE_KINDS or name == "eda":
        return d
    if d.get("augment") not in (None, "noise"):
        d["augment"] = "noise"
        what = "feature noise on tabular data" if kind == "tabular" else "noise on signals"
        d["description"] = f"{d.get('description') or name}; Gaussian {what}"
    return d
