"""Monte Carlo dropout: predictive mean and spread from dropout left on at inference."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import cast

import torch
from torch import nn

from .._checks import Constraints, InstanceOf, Interval, NoneOk, validate_params
from ..errors import ConfigError
from .dropout import is_dropout

__all__ = ["mc_predict"]


@contextlib.contextmanager
def _mc_mode(model: nn.Module, generator: torch.Generator | None) -> Iterator[None]:
    """Eval mode except dropout-family layers; every mode and generator restored on exit."""
    modes = [(m, m.training) for m in model.modules()]
    generators: list[tuple[nn.Module, torch.Generator | None]] = []
    try:
        model.eval()
        for m in model.modules():
            if is_dropout(m):
                m.train()
                if generator is not None and hasattr(m, "generator"):
                    generators.append((m, cast(torch.Generator | None, m.generator)))
                    m.generator = generator  # type: ignore[assignment]
        yield
    finally:
        for m, g in generators:
            m.generator = g  # type: ignore[assignment]
        for m, mode in modes:
            m.training = mode


#: The constraints of mc_predict's arguments, checked by validate_params.
_MC_PREDICT_CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a torch.nn.Module")],
    "samples": [Interval(int, 1, None)],
    "generator": [InstanceOf(torch.Generator, description="a torch.Generator"), NoneOk()],
}


@torch.no_grad()
def mc_predict(
    model: nn.Module,
    x: torch.Tensor,
    samples: int = 32,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte Carlo dropout: run ``model`` ``samples`` times with dropout on, return (mean, std).

    Every dropout-family layer (reglab's, and torch's ``Dropout*``/``AlphaDropout``) is in
    training mode and every other layer (batch norm included) in eval mode; the model's modes
    are restored afterwards, also when a forward pass raises. ``std`` is the population standard
    deviation over the samples (``sqrt(mean(y**2) - mean(y)**2)``, 0 for one sample).

    With ``generator``, reglab layers draw from it and torch's layers from the global generator
    reseeded from it inside a forked RNG state, so the result is reproducible and the global
    random state is left untouched.

    Args:
        model: a module containing at least one dropout-family layer.
        x: the input batch.
        samples: number of stochastic forward passes, ``>= 1``.
        generator: random source (CPU generator for CPU models).

    Example:
        >>> import reglab as rl
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), rl.nn.Dropout(0.5), torch.nn.Linear(8, 1))
        >>> mean, std = mc_predict(net, torch.randn(3, 4), samples=16)
        >>> mean.shape, std.shape, net.training
        (torch.Size([3, 1]), torch.Size([3, 1]), True)

    Paper: Gal and Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016.
    """
    validate_params("mc_predict", locals(), _MC_PREDICT_CONSTRAINTS)
    if not any(is_dropout(m) for m in model.modules()):
        # Without a stochastic layer every sample is the same and std is a meaningless 0.
        raise ConfigError(
            "mc_predict needs a dropout-family layer in 'model' (reglab.nn.Dropout, "
            f"torch.nn.Dropout, ...). Got {type(model).__name__} with none instead."
        )

    rng: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if generator is not None:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        devices = [x.device.index or 0] if x.device.type == "cuda" else []
        rng = torch.random.fork_rng(devices=devices)
    with rng, _mc_mode(model, generator):
        if generator is not None:
            torch.manual_seed(seed)
        # Welford's update: one pass, memory of one output, no catastrophic cancellation.
        first = model(x)
        dtype = first.dtype if first.dtype in (torch.float32, torch.float64) else torch.float32
        mean = first.to(dtype)
        m2 = torch.zeros_like(mean)
        for k in range(2, samples + 1):
            y = model(x).to(mean.dtype)
            delta = y - mean
            mean += delta / k
            m2 += delta * (y - mean)
    return mean, (m2 / samples).sqrt_()
