"""Sharpness-aware minimization as a wrapper around any torch optimizer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from .._checks import BOOL, Constraints, InstanceOf, Interval, validate_params
from ..errors import param_error
from ._wrapper import OptimizerWrapper

__all__ = ["SAM", "running_stats_kept"]

# A zero gradient gives no ascent instead of 0/0.
_TINY = 1e-12


class SAM(OptimizerWrapper):
    r"""Sharpness-aware minimization (SAM, and adaptive ASAM) around any ``torch.optim`` optimizer.

    ``step(closure)`` evaluates the closure at ``w`` (gradient ``g``), moves to the worst point
    nearby, evaluates it again there, restores ``w`` bit for bit and steps the wrapped optimizer
    with that second gradient::

        e = rho * g / ||g||                        SAM   (||.||: one L2 norm over all parameters)
        e = rho * T^2 g / ||T g||,   T = |w|       ASAM  (adaptive=True, elementwise)
        g_sam = grad L(w + e);   w <- base_step(w, g_sam)

    (the norm is clamped at 1e-12, so a zero gradient gives no ascent). The closure follows
    torch's contract: it re-evaluates the model and calls ``backward()``; SAM sets the gradients
    to None before each evaluation, so a closure that also zeroes them is fine (Lightning's
    automatic optimization passes exactly such a closure, so SAM works in its ``Trainer``
    unchanged). Gradient accumulation over several steps is not supported. The returned loss is
    the one at ``w``.

    Under ``DistributedDataParallel`` the gradients are all-reduced during ``backward()``
    (inside the closure), so the ascent ``e`` is computed from the averaged gradient: the same
    ``e`` on every rank, the full-batch SAM of one process (not the per-rank "m-sharpness").

    It is itself a ``torch.optim.Optimizer`` sharing the wrapped one's ``param_groups`` and
    ``state`` (LR schedulers accept it); ``WeightDecay`` may be wrapped (its decay is applied
    once, in the base step).

    Args:
        optimizer: the optimizer that takes the step (SGD, Adam, ``WeightDecay(...)``, ...).
        rho: the radius of the neighbourhood, > 0 (0.05 for SGD on CIFAR in the paper; ASAM
            uses larger values, e.g. 0.5 to 2).
        adaptive: ASAM's scale-invariant neighbourhood.

    Example:
        >>> import torch, reglab as rl
        >>> model = torch.nn.Linear(3, 1)
        >>> opt = rl.SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=0.05)
        >>> x, y = torch.randn(8, 3), torch.randn(8, 1)
        >>> def closure():
        ...     loss = torch.nn.functional.mse_loss(model(x), y)
        ...     loss.backward()
        ...     return loss
        >>> loss = opt.step(closure)

    Foret et al., "Sharpness-Aware Minimization for Efficiently Improving Generalization",
    ICLR 2021; Kwon et al., "ASAM", ICML 2021.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "optimizer": [InstanceOf(torch.optim.Optimizer, description="a torch.optim.Optimizer")],
        "rho": [Interval(float, 0, None, closed="neither")],
        "adaptive": BOOL,
    }
    _transient = ("_saved",)  # the weights ascend() kept aside, for one step only

    def __init__(
        self, optimizer: torch.optim.Optimizer, rho: float = 0.05, adaptive: bool = False
    ) -> None:
        validate_params(self, locals())
        self._wrap(optimizer, SAM)
        self.rho = float(rho)
        self.adaptive = adaptive
        self._saved: list[torch.Tensor] = []

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._saved = []

    def __repr__(self) -> str:
        return f"SAM({type(self.optimizer).__name__}, rho={self.rho!r}, adaptive={self.adaptive!r})"

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state dict plus a ``"sam"`` entry (rho, adaptive)."""
        sd = self.optimizer.state_dict()
        sd["sam"] = {"rho": self.rho, "adaptive": self.adaptive}
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict from :meth:`state_dict` (or a plain one of the wrapped optimizer)."""
        sd = dict(state_dict)
        sd.pop("sam", None)
        self.optimizer.load_state_dict(sd)

    # -- the step ----------------------------------------------------------------------------

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]

    @torch.no_grad()
    def ascend(self) -> list[torch.Tensor]:
        """Move the parameters with a gradient to ``w + e``; return them (w is kept aside)."""
        params = self._params()
        if not params:
            return params
        grads = [p.grad for p in params if p.grad is not None]
        step: list[torch.Tensor]
        if self.adaptive:
            scale = list(torch._foreach_abs(params))  # T = |w|
            tg = list(torch._foreach_mul(grads, scale))
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tg)))
            torch._foreach_mul_(scale, tg)  # T^2 g
            step = scale
        else:
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            step = grads
        factor = self.rho / norm.clamp_min(_TINY)
        if len(self._saved) != len(params) or any(
            s.shape != p.shape or s.dtype != p.dtype or s.device != p.device
            for s, p in zip(self._saved, params)
        ):
            self._saved = [p.detach().clone() for p in params]
        else:
            torch._foreach_copy_(self._saved, params)
        e = torch._foreach_mul(step, factor)
        torch._foreach_add_(params, e)
        return params

    @torch.no_grad()
    def descend(self, params: list[torch.Tensor]) -> None:
        """Put back the weights :meth:`ascend` kept aside (bit for bit)."""
        if params:
            torch._foreach_copy_(params, self._saved)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One SAM step: closure at ``w``, ascent, closure at ``w + e``, restore, base step."""
        if closure is None:
            raise param_error(
                "closure",
                "SAM.step",
                "a callable that re-evaluates the model and calls backward() (SAM computes the "
                "gradient twice: opt.step(closure))",
                closure,
            )
        self.optimizer.zero_grad(set_to_none=True)
        with torch.enable_grad():
            loss = closure()
        params = self.ascend()
        self.optimizer.zero_grad(set_to_none=True)
        try:
            with torch.enable_grad():
                closure()
        finally:
            self.descend(params)
        self.optimizer.step()
        return loss


@contextlib.contextmanager
def running_stats_kept(model: nn.Module) -> Iterator[None]:
    """Inside the block batch norms normalize as usual; their running statistics are put back.

    For SAM's second pass (at ``w + e``): the running statistics (and ``num_batches_tracked``)
    are those of the first pass only, whatever the momentum (``None`` included).

    Example:
        >>> bn = torch.nn.BatchNorm1d(2)
        >>> with running_stats_kept(bn):
        ...     _ = bn(torch.randn(4, 2))
        >>> bn.running_mean.tolist(), int(bn.num_batches_tracked)
        ([0.0, 0.0], 0)
    """
    buffers = [
        b
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        for b in m.buffers()
    ]
    saved = [b.clone() for b in buffers]
    try:
        yield
    finally:
        if buffers:
            with torch.no_grad():
                torch._foreach_copy_(buffers, saved)
