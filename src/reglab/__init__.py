"""reglab: regularization for PyTorch, done right and measured.

Layers live in :mod:`reglab.nn` and :mod:`reglab.functional`, augmentations in
:mod:`reglab.augment`, weight initialisation in :mod:`reglab.init`; weight regularization,
early stopping and the training loop are re-exported here.

Example:
    >>> import torch, reglab as rl
    >>> layer = rl.nn.Dropout(p=0.5)
    >>> layer.eval()(torch.ones(2, 3)).sum().item()
    6.0
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ConfigError

__version__ = "0.1.0"

# Names re-exported at the top level, and the module that defines each. Imported on first use so
# that `import reglab` stays light (the lab pulls in optuna, scikit-learn and matplotlib).
_EXPORTS: dict[str, str] = {}

_SUBMODULES = (
    "augment",
    "callbacks",
    "data",
    "functional",
    "init",
    "lab",
    "models",
    "nn",
    "optim",
    "penalty",
    "train",
)

__all__ = ["ConfigError", "__version__", *sorted(_EXPORTS), *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'reglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
