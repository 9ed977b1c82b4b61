"""Optimizer-side weight regularization: decoupled weight decay, parameter groups, proximal L1.

``weight_decay.py`` holds :class:`WeightDecay` (an optimizer wrapper), ``proximal.py``
:class:`ProximalL1`, ``sam.py`` :class:`SAM` (sharpness-aware minimization), ``averaging.py``
:class:`EMA` and :class:`SWA` (weight averaging); :func:`param_groups` (decay / no-decay groups for a plain torch optimizer)
is defined with the rest of parameter selection in ``reglab._select``.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(4, 2)
    >>> opt = rl.optim.WeightDecay(torch.optim.Adam(model.parameters()), 1e-2, mode="decoupled")
    >>> isinstance(opt, torch.optim.Optimizer)
    True
"""

from .._select import param_groups
from .averaging import EMA, SWA
from .proximal import ProximalL1
from .sam import SAM
from .weight_decay import WeightDecay

__all__ = ["EMA", "SAM", "SWA", "ProximalL1", "WeightDecay", "param_groups"]
