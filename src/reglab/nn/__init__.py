"""Layers: thin ``nn.Module`` wrappers over :mod:`reglab.functional`, drop-in for torch's.

``dropout.py`` holds the dropout family, ``norm.py`` the normalization layers, ``norm_tools.py``
the batch-norm safety kit (recalibration, freezing, dropout-order check, sync conversion) and
:func:`is_norm`, ``mc.py`` Monte Carlo dropout prediction, ``text.py`` word dropout for token
embeddings.
"""

from . import dropout as _dropout
from . import mc as _mc
from . import norm as _norm
from . import norm_tools as _norm_tools
from . import text as _text
from .dropout import *  # noqa: F403 - each module curates its own __all__
from .mc import *  # noqa: F403
from .norm import *  # noqa: F403
from .norm_tools import *  # noqa: F403
from .text import *  # noqa: F403

__all__ = [*_dropout.__all__, *_norm.__all__, *_norm_tools.__all__, *_mc.__all__, *_text.__all__]
