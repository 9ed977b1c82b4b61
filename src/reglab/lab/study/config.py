"""A study's settings: :class:`StudyConfig`, the recipes it compares, and where it is stored.

Example:
    >>> [r if isinstance(r, str) else r[0] for r in resolve_recipes("baseline", ["dropout=0.2"])]
    ['baseline', 'dropout=0.2']
    >>> StudyConfig(recipes=("baseline", "dropout"), seeds=2).cells()[0]
    Cell(recipe='baseline', seed=0, train_size=None)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..._checks import Constraints, Interval, NoneOk, OneOf, validate_params
from ...errors import ConfigError
from ..core.cells import Cell, split_size
from ..core.recipe import BUILTIN_RECIPES, TEXT_RECIPES, Recipe
from ..core.splits import SplitPlan, check_train_sizes
from ..core.text import eda_settings
from ..core.train_fn import TrainFnSpec, as_train_fn_spec
from ..queue.storage import CellStore, sqlite_url
from ..stats import DEFAULT_LOOKS

__all__ = [
    "DEFAULT_RECIPES",
    "SWEEP_SEEDS",
    "StudyConfig",
    "for_text",
    "inert_notes",
    "resolve_recipes",
    "stored_config",
]

#: Seeds per recipe and size of a training-size sweep with ``seeds="auto"`` (a fixed design).
SWEEP_SEEDS = 3

DEFAULT_RECIPES = (
    "baseline",
    "dropout",
    "weight_decay",
    "batchnorm",
    "augment",
    "early_stopping",
    "all",
)


@dataclass(frozen=True)
class StudyConfig:
    """What a study trains: data, split sizes, test split, model, recipes and seeds.

    ``recipes`` holds recipe names (built-in) or ``(name, Recipe)`` pairs; the stored form keeps
    each recipe's full definition, so workers on other machines train exactly the same thing.
    ``train_size``/``val_size`` None fit the data (:func:`reglab.data.default_sizes`: at most
    200 / 300, never more than half / a quarter of the rows train and validation come from);
    ``test`` is ``"official"``, ``"random"`` or None (official where the files have one);
    ``target`` and ``text`` name a table's label and text columns (``reglab.data.load_dataset``).
    :func:`prepare` makes the sizes explicit and records the split in ``data_info``.
    ``train_sizes`` (distinct counts, ascending; exclusive with ``train_size``) makes the study a
    training-size sweep: every (recipe, seed) cell runs at each size, on nested training
    subsets with one validation and test split per seed (:mod:`reglab.lab.core.splits`).
    ``seeds`` is ``"auto"`` (the default: seeds look by look until each comparison with the
    baseline is decided, :mod:`reglab.lab.study.sequential`; at most ``max_seeds``, default 20;
    "no effect" means less than ``margin`` points of accuracy, or ``margin`` percent of the
    baseline's test loss) or a number of seeds per recipe (a fixed design).
    ``train_fn`` is None (each cell runs :func:`reglab.lab.core.run.run_cell`) or a spec
    ``"package.module:run"`` of the user's training function (a module-level function is stored
    as its spec; see :func:`reglab.lab.study.runner.execute_cell`).
    """

    data: str = "digits"
    target: str | None = None
    text: str | None = None
    train_size: int | float | None = None
    val_size: int | float | None = None
    train_sizes: tuple[int, ...] | None = None
    model: str = "auto"
    recipes: Sequence[Any] = DEFAULT_RECIPES
    seeds: int | str = "auto"
    epochs: int | None = None
    recipe_defs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    test: str | None = None
    data_info: Mapping[str, Any] = field(default_factory=dict)
    train_fn: str | None = None
    max_seeds: int | None = None
    margin: float = 1.0

    #: ``epochs=None`` (each recipe's own budget) is not checked; ``recipes`` by name.
    _parameter_constraints: ClassVar[Constraints] = {
        "train_fn": [NoneOk(), TrainFnSpec()],
        "seeds": [Interval(int, 1, None), OneOf("auto")],
        "max_seeds": [NoneOk(), Interval(int, 2, None)],
        "margin": [Interval(float, 0, None)],
        "test": [OneOf("official", "random", None)],
        "epochs": [Interval(int, 1, None)],
    }

    def __post_init__(self) -> None:
        owner = "StudyConfig"
        object.__setattr__(self, "train_fn", as_train_fn_spec(self.train_fn))
        given = {k: v for k, v in vars(self).items() if not (k == "epochs" and v is None)}
        validate_params(self, given)
        for name in ("train_size", "val_size"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, split_size(owner, name, getattr(self, name)))
        if self.train_sizes is not None:
            object.__setattr__(self, "train_sizes", check_train_sizes(owner, self.train_sizes))
            if self.train_size is not None:
                raise ConfigError(
                    f"The 'train_size' and 'train_sizes' parameters of {owner} are exclusive: "
                    f"give one. Got train_size={self.train_size!r} and train_sizes="
                    f"{','.join(map(str, self.train_sizes))} instead."
                )
        if not self.recipes:
            raise ConfigError(
                "The 'recipes' parameter of StudyConfig must be a non-empty list of recipe "
                "names or specs. Got an empty list instead."
            )
        defs: dict[str, Mapping[str, Any]] = dict(self.recipe_defs)
        names: list[str] = []
        for item in self.recipes:
            if isinstance(item, str) and item in defs:
                name = item
            elif isinstance(item, str):
                if item not in BUILTIN_RECIPES:
                    names_ok = {"recipes": [OneOf(*sorted(BUILTIN_RECIPES))]}
                    validate_params(self, {"recipes": item}, names_ok)
                name, recipe = item, BUILTIN_RECIPES[item]
                defs[name] = recipe.to_dict()
            elif isinstance(item, Recipe):
                name = item.name
                defs[name] = item.to_dict()
            else:
                name, recipe = item
                defs[name] = recipe.to_dict() if isinstance(recipe, Recipe) else dict(recipe)
            if name in names:
                raise ConfigError(
                    f"The 'recipes' parameter of StudyConfig names {name!r} twice. "
                    "Give each recipe a distinct name."
                )
            names.append(name)
        object.__setattr__(self, "recipes", tuple(names))
        object.__setattr__(self, "recipe_defs", {n: defs[n] for n in names})

    @property
    def sequential(self) -> bool:
        """True when seeds are added look by look until each comparison is decided
        (:mod:`reglab.lab.study.sequential`): ``seeds="auto"``, except in a training-size sweep,
        which runs :data:`SWEEP_SEEDS` seeds."""
        return self.seeds == "auto" and self.train_sizes is None

    @property
    def looks(self) -> tuple[int, ...]:
        """The seed counts at which a sequential study decides: 5, 10, 15, 20 up to
        ``max_seeds`` (default 20), which is always the last look."""
        last = self.max_seeds or DEFAULT_LOOKS[-1]
        return (*(n for n in DEFAULT_LOOKS if n < last), last)

    @property
    def first_seeds(self) -> int:
        """Seeds per recipe queued at the start: all of them in a fixed design."""
        if isinstance(self.seeds, int):
            return self.seeds
        return self.looks[0] if self.sequential else SWEEP_SEEDS

    def cells(self) -> list[Cell]:
        """The cells queued at the start, every (recipe, seed) pair (in a sweep, at each size),
        the longest first.

        Cells are leased in this order: seed 0 of every recipe first, then the rest, each group
        longest first, so the long ones start early and the short ones fill the workers at the
        end. The length is estimated as training size x epochs x (1 + EDA copies
        per sentence); ties keep the recipe order, then the seeds. A sequential study queues the
        next seeds as it decides (:meth:`longest_first` orders them).
        """
        sizes = [None] if self.train_sizes is None else list(reversed(self.train_sizes))
        seeds = range(self.first_seeds)
        out: list[Cell] = []
        for n in sizes:  # a sweep runs size by size (each worker keeps one size's splits)
            cells = [Cell(r, s, n) for r in self.recipes for s in seeds]
            # Seed 0 of every recipe first: a training function that fails on every cell is
            # seen (and the study stopped) after one cell per recipe.
            out += self.longest_first([c for c in cells if c.seed == 0])
            out += self.longest_first([c for c in cells if c.seed != 0])
        return out

    def longest_first(self, cells: Sequence[Cell]) -> list[Cell]:
        """``cells`` sorted by their estimated length, the longest first (a stable sort)."""
        keys = {(c.recipe, c.train_size) for c in cells}
        cost = {(r, n): self._cost(r, n) for r, n in keys}
        return sorted(cells, key=lambda c: -cost[(c.recipe, c.train_size)])

    def _cost(self, name: str, size: int | None) -> float:
        recipe = self.recipe(name)
        n = size if size is not None else self.train_size
        rows = float(n) if isinstance(n, int) else 1.0
        copies = eda_settings(recipe, int(rows))[1] if recipe.augment == "eda" else 0
        return rows * (self.epochs or recipe.epochs) * (1 + copies)

    def recipe(self, name: str) -> Recipe:
        return Recipe.from_dict(dict(self.recipe_defs[name]))

    @property
    def plan(self) -> SplitPlan:
        """What every cell of this study splits (:class:`~reglab.lab.core.splits.SplitCache`)."""
        return SplitPlan(
            self.data,
            self.target,
            self.text,
            self.train_size,
            self.val_size,
            self.test,
            self.train_sizes,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["recipes"] = list(self.recipes)
        d["recipe_defs"] = {k: dict(v) for k, v in self.recipe_defs.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StudyConfig:
        return cls(**{**d, "recipes": tuple(d["recipes"])})


def for_text(config: StudyConfig) -> StudyConfig:
    """The default recipes of a text study: the text built-ins (``eda`` in, ``batchnorm`` and
    ``augment`` out); any other choice stays."""
    if tuple(config.recipes) != DEFAULT_RECIPES or any(
        config.recipe_defs[n] != BUILTIN_RECIPES[n].to_dict() for n in DEFAULT_RECIPES
    ):
        return config
    names = tuple(TEXT_RECIPES)
    return StudyConfig.from_dict(
        {
            **config.to_dict(),
            "recipes": names,
            "recipe_defs": {n: BUILTIN_RECIPES[n].to_dict() for n in names},
        }
    )


def resolve_recipes(names: str | Sequence[str] | None, specs: Sequence[str] = ()) -> list[Any]:
    """The ``recipes`` of a :class:`StudyConfig` from built-in names and recipe specs.

    ``names`` are built-in recipe names (a comma-separated string or a list); None means all
    of :data:`DEFAULT_RECIPES`, or only ``baseline`` when ``specs`` are given. Each spec is a
    recipe spec string or a ``.toml`` file and becomes a ``(name, Recipe)`` pair; a spec that
    names no recipe is named after itself.
    """
    chosen: list[Any]
    if names is None:
        chosen = ["baseline"] if specs else list(DEFAULT_RECIPES)
    elif isinstance(names, str):
        chosen = [n.strip() for n in names.split(",") if n.strip()]
    else:
        chosen = list(names)
    for spec in specs:
        if spec.endswith(".toml"):
            path = Path(spec)
            if not path.is_file():
                raise ConfigError(
                    f"The '--recipe' option of reglab study names a TOML file that does not "
                    f"exist. Got {spec!r} instead."
                )
            recipe = Recipe.from_toml(path)
        else:
            recipe = Recipe.from_spec(spec)
        if recipe.name in ("custom", "baseline") and "name=" not in spec:
            recipe = recipe.replace(name=spec)
        chosen.append((recipe.name, recipe))
    return chosen


def inert_notes(config: StudyConfig) -> dict[str, list[str]]:
    """Per recipe, what cannot act at the study's settings (e.g. early stopping whose patience
    is not below the epochs): the settings line and the report say so."""
    notes = {n: config.recipe(n).inert(config.epochs) for n in config.recipes}
    return {n: v for n, v in notes.items() if v}


def stored_config(out_dir: str | os.PathLike[str], storage: str | None = None) -> StudyConfig:
    """The settings of the study stored in ``storage`` (default: ``study.db`` in ``out_dir``)."""
    out = Path(out_dir)
    if storage is None and not (out / "study.db").is_file():
        raise ConfigError(
            f"Nothing to resume in {str(out)!r}: it holds no study.db. Start the study "
            "without --resume, or pass --out/--storage of an existing one."
        )
    return StudyConfig.from_dict(CellStore(storage or sqlite_url(out)).config)
