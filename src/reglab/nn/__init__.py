"""Layers: thin ``nn.Module`` wrappers over :mod:`reglab.functional`, drop-in for torch's."""

from . import dropout as _dropout
from . import mc as _mc
from . import norm as _norm
from .dropout import *  # noqa: F403 - each module curates its own __all__
from .mc import *  # noqa: F403
from .norm import *  # noqa: F403

__all__ = [*_dropout.__all__, *_norm.__all__, *_mc.__all__]
