"""Pure tensor functions: the math behind every reglab layer and penalty.

Each function validates its arguments once and is safe to call inside ``torch.compile``.
"""

from . import dropout as _dropout
from . import norm as _norm
from . import penalty as _penalty
from .dropout import *  # noqa: F403 - each module curates its own __all__
from .norm import *  # noqa: F403
from .penalty import *  # noqa: F403

__all__ = [*_dropout.__all__, *_norm.__all__, *_penalty.__all__]
