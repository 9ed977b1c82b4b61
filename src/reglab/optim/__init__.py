"""Optimizer-side weight regularization: decoupled weight decay, parameter groups, proximal L1.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(4, 2)
    >>> opt = rl.optim.WeightDecay(torch.optim.Adam(model.parameters()), 1e-2, mode="decoupled")
    >>> isinstance(opt, torch.optim.Optimizer)
    True
"""

from .param_groups import param_groups
from .proximal import ProximalL1
from .weight_decay import WeightDecay

__all__ = ["ProximalL1", "WeightDecay", "param_groups"]
