"""reglab: regularization for PyTorch, done right and measured.

Layers live in :mod:`reglab.nn` and :mod:`reglab.functional`, augmentations in
:mod:`reglab.augment`, weight initialisation in :mod:`reglab.init`, the protocols that
``fit(regularization=...)`` dispatches on in :mod:`reglab.regularizer`, the training package in
:mod:`reglab.train`; weight regularization, early stopping and ``fit`` are re-exported here.

Example:
    >>> import torch, reglab as rl
    >>> layer = rl.nn.Dropout(p=0.5)
    >>> layer.eval()(torch.ones(2, 3)).sum().item()
    6.0
"""

from __future__ import annotations

import importlib
from typing import Any

from . import functional as functional
from . import init as init
from . import nn as nn
from .callbacks import EarlyStopping, StopReason
from .constraints import MaxNorm, UnitNorm
from .errors import ConfigError
from .optim import EMA, SAM, SWA, ProximalL1, WeightDecay, param_groups
from .penalty import (
    L1,
    L2,
    ElasticNet,
    LossMode,
    Penalty,
    describe_regularization,
    regularized_parameters,
    sparsity,
)
from .rdrop import RDrop
from .train import History, fit

__version__ = "0.1.0"

# Subpackages imported on first attribute access, so that `import reglab` stays light (the lab
# pulls in optuna, scikit-learn and matplotlib; augment and data load when first touched).
_SUBMODULES = (
    "augment",
    "callbacks",
    "constraints",
    "data",
    "functional",
    "init",
    "lab",
    "models",
    "nn",
    "optim",
    "penalty",
    "regularizer",
    "train",
)

__all__ = [
    "L1",
    "L2",
    "EMA",
    "SAM",
    "SWA",
    "ConfigError",
    "EarlyStopping",
    "ElasticNet",
    "History",
    "LossMode",
    "MaxNorm",
    "Penalty",
    "ProximalL1",
    "RDrop",
    "StopReason",
    "UnitNorm",
    "WeightDecay",
    "__version__",
    "describe_regularization",
    "fit",
    "param_groups",
    "regularized_parameters",
    "sparsity",
    *_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'reglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
