"""Optimizer-side weight regularization: decoupled weight decay, parameter groups, proximal L1.

``weight_decay.py`` holds :class:`WeightDecay` (an optimizer wrapper), ``proximal.py``
:class:`ProximalL1`; :func:`param_groups` (decay / no-decay groups for a plain torch optimizer)
is defined with the rest of parameter selection in ``reglab._select``.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(4, 2)
    >>> opt = rl.optim.WeightDecay(torch.optim.Adam(model.parameters()), 1e-2, mode="decoupled")
    >>> isinstance(opt, torch.optim.Optimizer)
    True
"""

from .._select import param_groups
from .proximal import ProximalL1
from .weight_decay import WeightDecay

__all__ = ["ProximalL1", "WeightDecay", "param_groups"]
