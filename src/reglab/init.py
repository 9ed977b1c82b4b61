"""Named weight-initialisation schemes applied to a whole model, over ``torch.nn.init``.

:func:`apply_` walks every module: weight tensors with two or more dimensions (Linear, Conv*,
ConvTranspose*, Bilinear, Embedding, recurrent ``weight_*``) get the scheme, biases get zero,
normalization layers get ``gamma = 1`` and ``beta = 0``. ``fan_in`` / ``fan_out`` are torch's
(``fan_in = size(1) * receptive field``, ``fan_out = size(0) * receptive field``), and
``gain = torch.nn.init.calculate_gain(nonlinearity)`` (``sqrt(2)`` for ReLU, 1 for linear).

======================  =======================================  ==========================
scheme                  distribution                             variance
======================  =======================================  ==========================
``"kaiming"``           normal (He et al. 2015)                  ``gain^2 / fan_in``
``"xavier"``            uniform (Glorot & Bengio 2010)           ``gain^2 * 2 / (fan_in + fan_out)``
``"lecun"``             normal (LeCun et al. 1998)               ``1 / fan_in`` (no gain)
``"orthogonal"``        orthogonal rows/cols (Saxe et al. 2014)  ``W W^T = gain^2 I`` (flattened)
======================  =======================================  ==========================
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import Constraints, InstanceOf, NoneOk, OneOf, validate_params
from ._select import is_norm, is_weight

__all__ = ["NONLINEARITIES", "SCHEMES", "apply_"]

SCHEMES = ("kaiming", "xavier", "lecun", "orthogonal")
NONLINEARITIES = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
)
_LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default, and calculate_gain's


def _fill(
    w: torch.Tensor, scheme: str, nonlinearity: str, generator: torch.Generator | None
) -> None:
    slope = _LEAKY_SLOPE if nonlinearity == "leaky_relu" else None
    gain = nn.init.calculate_gain(nonlinearity, slope)  # type: ignore[arg-type]
    kw = {} if generator is None else {"generator": generator}
    if scheme == "kaiming":
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(w)
        nn.init.normal_(w, 0.0, gain / math.sqrt(fan_in), **kw)
    elif scheme == "xavier":
        nn.init.xavier_uniform_(w, gain=gain, **kw)
    elif scheme == "lecun":
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(w)
        nn.init.normal_(w, 0.0, 1.0 / math.sqrt(fan_in), **kw)
    else:
        nn.init.orthogonal_(w, gain=gain, **kw)


#: The constraints of apply_'s arguments, checked by validate_params.
_APPLY__CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a torch.nn.Module")],
    "scheme": [OneOf(*SCHEMES)],
    "nonlinearity": [OneOf(*NONLINEARITIES)],
    "generator": [InstanceOf(torch.Generator, description="a torch.Generator"), NoneOk()],
}


def apply_(
    model: nn.Module,
    scheme: str = "kaiming",
    nonlinearity: str = "relu",
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Initialise every weight of ``model`` with a named scheme, in place; returns ``model``.

    Weights with ``ndim >= 2`` get the scheme (see the module table: kaiming ``N(0, gain^2 /
    fan_in)``, xavier ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``, lecun
    ``N(0, 1 / fan_in)``, orthogonal with ``gain``); every bias is zeroed; normalization layers
    (:func:`reglab.nn.is_norm`: batch/layer/group/instance/RMS norm, torch's, reglab's, and
    third-party classes named ``*Norm``) get weight 1 and bias 0. Other 1-D parameters (e.g.
    PReLU slopes) are left alone.

    Args:
        model: the network (modified in place).
        scheme: ``"kaiming"``, ``"xavier"``, ``"lecun"`` or ``"orthogonal"``.
        nonlinearity: the activation that follows, for the gain (``calculate_gain`` names;
            ``"leaky_relu"`` uses slope 0.01). Ignored by ``"lecun"``.
        generator: random source; the same seed gives the same weights on CPU.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(100, 50), torch.nn.ReLU())
        >>> _ = apply_(net, "kaiming", generator=torch.Generator().manual_seed(0))
        >>> round(net[0].weight.var().item() * 100, 1), net[0].bias.abs().sum().item()
        (2.0, 0.0)

    Papers: He et al. 2015 (arXiv:1502.01852); Glorot & Bengio 2010 (AISTATS); LeCun et al.
    1998, "Efficient BackProp"; Saxe et al. 2014 (arXiv:1312.6120).
    """
    validate_params("apply_", locals(), _APPLY__CONSTRAINTS)
    with torch.no_grad():
        for module in model.modules():
            norm = is_norm(module)
            for name, p in module.named_parameters(recurse=False):
                if p is None:
                    continue
                if norm:
                    if name == "weight":
                        p.fill_(1.0)
                    elif name == "bias":
                        p.zero_()
                elif "bias" in name:  # bias, bias_ih_l0, in_proj_bias, ...
                    p.zero_()
                elif is_weight(p) and p.numel() > 0:
                    _fill(p, scheme, nonlinearity, generator)
    return model
