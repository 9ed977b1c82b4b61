"""The search space of ``reglab tune``: what is searched, its ranges, and how a trial's
parameters become a recipe.

:class:`TuneConfig` holds the settings; :func:`search_space` gives the Optuna distributions for
the data kind; :func:`start_params` moves the base recipe's own strengths into the ranges (the
first trial); :func:`apply_params` turns a trial's parameters into a recipe (three significant
digits, the bottom of the L1 range meaning no L1, feature noise on tabular data).

Example:
    >>> from reglab.lab.core.recipe import BUILTIN_RECIPES
    >>> base = BUILTIN_RECIPES["all"]
    >>> space = search_space(["dropout", "l1"], "image", base)
    >>> apply_params(base, start_params(base, space), "image", "tuned").l1
    0.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from ..._checks import Constraints, Interval, NoneOk, OneOf, validate_params
from ...errors import ConfigError
from ..core.cells import NOISE_KINDS, split_size
from ..core.recipe import BUILTIN_RECIPES, Recipe, builtin_for_kind
from ..stats import DEFAULT_LOOKS

__all__ = ["SPACE", "TuneConfig", "apply_params", "search_space", "start_params"]

#: The strengths ``reglab tune`` searches by default (names of :class:`Recipe` fields).
SPACE = (
    "dropout",
    "weight_decay",
    "l1",
    "augment",
    "augment_magnitude",
    "mixup",
    "label_smoothing",
    "width",
    "epochs",
)

# Image augmentations the search chooses among (tabular data only has feature noise).
_IMAGE_AUGMENTS = ("affine", "rotate+translate", "translate", "affine+erasing")


#: The constraint of each name in TuneConfig's ``space``.
_SPACE_NAME_CONSTRAINTS: Constraints = {"space": [OneOf(*SPACE)]}


@dataclass(frozen=True)
class TuneConfig:
    """What ``reglab tune`` searches: data, split, model, base recipe, space and budget.

    Args:
        data, target, text, train_size, val_size, test, model: as for
            :class:`~reglab.lab.study.StudyConfig` (sizes None fit the data).
        device: where every trial and evaluation trains (``"auto"``, ``"cpu"``, ``"cuda"``,
            ``"cuda:N"``, ``"mps"``).
        base: the recipe the search starts from: a built-in name or a spec
            (``"all,epochs=80"``).
        trials: finished (complete or pruned) trials to reach.
        seeds: the final test evaluation's seeds. ``"auto"`` (the default): the tuned and
            the base recipe are trained on the first look's seeds (5), and the next look's
            seeds are added only while their comparison is undecided
            (:func:`reglab.lab.stats.decide`; looks 5, 10, 15, 20 up to ``max_seeds``). A
            number: that many seeds (a fixed design; the verdict is still the rule's, at the
            largest look reached, or "undecided" below the first look).
        max_seeds: the last look with ``seeds="auto"`` (default 20).
        margin: a difference smaller than this is "no effect": points of accuracy, or percent
            of the base recipe's test loss for regression (as in a study).
        epochs: overrides the base recipe's epoch budget.
        space: the recipe fields to search (a subset of :data:`SPACE`).
        split_seed: the split that sets the test examples aside (and the search's first
            partition).
        partitions: train/validation partitions of the pool each trial is scored on (their
            mean validation score).
        confirm: after the search, the best ``confirm`` trials are each scored on
            ``partitions`` more partitions, and the best mean over all of its partitions wins
            (1 keeps the search's best as it is).
    """

    data: str = "digits"
    target: str | None = None
    text: str | None = None
    train_size: int | float | None = None
    val_size: int | float | None = None
    model: str = "auto"
    base: str = "all"
    trials: int = 40
    seeds: int | str = "auto"
    epochs: int | None = None
    space: tuple[str, ...] = SPACE
    split_seed: int = 0
    partitions: int = 2
    confirm: int = 3
    test: str | None = None
    device: str = "cpu"
    max_seeds: int | None = None
    margin: float = 1.0

    #: ``epochs=None`` (the base recipe's budget) is not checked; ``space`` is checked by name.
    _parameter_constraints: ClassVar[Constraints] = {
        "partitions": [Interval(int, 1, None)],
        "confirm": [Interval(int, 1, None)],
        "trials": [Interval(int, 1, None)],
        "seeds": [Interval(int, 1, None), OneOf("auto")],
        "max_seeds": [NoneOk(), Interval(int, 2, None)],
        "margin": [Interval(float, 0, None)],
        "split_seed": [Interval(int, 0, None)],
        "epochs": [Interval(int, 1, None)],
        "test": [OneOf("official", "random", None)],
    }

    def __post_init__(self) -> None:
        owner = "TuneConfig"
        given = {k: v for k, v in vars(self).items() if not (k == "epochs" and v is None)}
        validate_params(self, given)
        for name in ("train_size", "val_size"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, split_size(owner, name, getattr(self, name)))
        space = tuple(self.space)
        if not space:
            raise ConfigError(
                "The 'space' parameter of TuneConfig must name at least one of "
                f"{', '.join(SPACE)}. Got an empty list instead."
            )
        for name in space:
            validate_params(self, {"space": name}, _SPACE_NAME_CONSTRAINTS)
        object.__setattr__(self, "space", space)
        self.base_recipe()  # a bad spec fails here

    @property
    def sequential(self) -> bool:
        """True when the test evaluation adds seeds look by look (``seeds="auto"``)."""
        return self.seeds == "auto"

    @property
    def looks(self) -> tuple[int, ...]:
        """The seed counts at which the tuned recipe is compared with the base: 5, 10, 15, 20
        up to ``max_seeds`` (default 20), which is always the last look."""
        last = self.max_seeds or DEFAULT_LOOKS[-1]
        return (*(n for n in DEFAULT_LOOKS if n < last), last)

    def base_recipe(self, kind: str | None = None) -> Recipe:
        """The recipe the search starts from, with ``epochs`` applied.

        A built-in name is fitted to the data's ``kind`` as in a study
        (:func:`~reglab.lab.core.recipe.builtin_for_kind`); a recipe the user defined is never
        changed.
        """
        if self.base in BUILTIN_RECIPES:
            builtin = BUILTIN_RECIPES[self.base].to_dict()
            fitted = builtin_for_kind(self.base, builtin, kind) if kind else builtin
            recipe = Recipe.from_dict(fitted)
        else:
            recipe = Recipe.from_spec(self.base)
        if self.epochs is not None:
            recipe = recipe.replace(epochs=self.epochs)
        return recipe

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["space"] = list(self.space)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TuneConfig:
        return cls(**{**d, "space": tuple(d.get("space", SPACE))})


def search_space(fields_: Sequence[str], kind: str, base: Recipe) -> dict[str, Any]:
    """Optuna distributions for the searched recipe fields.

    ``kind`` is the data kind (``"image"`` or ``"tabular"``): tabular data searches only the
    strength of Gaussian feature noise, images also choose the augmentation. Mixup is left out
    for regression. ``epochs`` ranges from 2/3 to 5/3 of the base recipe's budget, in steps
    of a sixth.

    Example:
        >>> sorted(search_space(["dropout", "l1"], "image", BUILTIN_RECIPES["all"]))
        ['dropout', 'l1']
        >>> search_space(["epochs"], "image", BUILTIN_RECIPES["all"])["epochs"]
        IntDistribution(high=250, log=False, low=100, step=25)
    """
    import optuna.distributions as D

    ranges: dict[str, Any] = {
        "dropout": D.FloatDistribution(0.0, 0.6),
        "weight_decay": D.FloatDistribution(1e-4, 1.0, log=True),
        # 1e-7 is "off" in practice: the penalty is then far below the data loss.
        "l1": D.FloatDistribution(1e-7, 1e-3, log=True),
        "augment_magnitude": D.FloatDistribution(0.25, 2.5),
        "mixup": D.FloatDistribution(0.0, 0.5),
        "label_smoothing": D.FloatDistribution(0.0, 0.2),
        # Capacity and training length trade off with every regularizer: a wider network
        # trained longer needs (and takes) more regularization.
        "width": D.IntDistribution(32, 64, step=16),
        "epochs": _epoch_range(base.epochs),
    }
    if kind == "image":
        ranges["augment"] = D.CategoricalDistribution(_IMAGE_AUGMENTS)
    return {name: ranges[name] for name in fields_ if name in ranges}


def _epoch_range(epochs: int) -> Any:
    import optuna.distributions as D

    step = max(1, round(epochs / 6))
    low = max(step, round(epochs * 2 / 3 / step) * step)
    return D.IntDistribution(low, low + 6 * step, step=step)


def start_params(base: Recipe, space: Mapping[str, Any]) -> dict[str, Any]:
    """The base recipe's own strengths, moved into the search ranges (the first trial).

    A size the base leaves to the model (``width=None``) is not pinned; the tuner passes a base
    whose sizes are made explicit (:func:`reglab.models.resolve_size`).
    """
    out: dict[str, Any] = {}
    for name, dist in space.items():
        value = getattr(base, name)
        if value is None:
            continue
        if hasattr(dist, "choices"):
            if value in dist.choices:
                out[name] = value
            continue
        value = min(max(value, dist.low), dist.high)
        if isinstance(dist.low, int):
            value = dist.low + round((value - dist.low) / dist.step) * dist.step
            out[name] = int(min(value, dist.high))
        else:
            out[name] = float(value)
    return out


def apply_params(base: Recipe, params: Mapping[str, Any], kind: str, name: str) -> Recipe:
    """The base recipe with the searched strengths applied."""
    changes = dict(params)
    if kind in NOISE_KINDS and "augment_magnitude" in changes:
        changes["augment"] = "noise"
    if "l1" in changes and changes["l1"] <= 1.0001e-7:
        changes["l1"] = 0.0  # the bottom of the range means "no L1"
    # Three significant digits: a readable recipe, and no strength is known better than that.
    changes = {k: float(f"{v:.3g}") if isinstance(v, float) else v for k, v in changes.items()}
    # The base's description names its own strengths; the searched ones replace them.
    searched = ", ".join(sorted(params))
    description = f"'{base.name}' with {searched} searched" if searched else base.description
    return base.replace(name=name, description=description, **changes)
