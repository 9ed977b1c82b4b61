"""Which parameters a regularizer touches, and what kind of layer a module is.

One rule, used by the penalties, the constraints, ``ProximalL1``, ``WeightDecay``,
:func:`param_groups`, :mod:`reglab.init`, the norm tools and ``fit``:

* a **weight** is a parameter with ``ndim >= 2`` (Linear, Conv, Embedding, recurrent
  ``weight_*``); biases, gains and other 1-D parameters are not;
* a **normalization layer** (:func:`is_norm`) is an instance of torch's batch, instance, layer,
  group, local-response or RMS norm classes (reglab's ``BatchNorm``, ``LayerNorm`` and
  ``GroupNorm`` subclass them), a class that sets ``_reglab_norm = True`` (reglab's ``RMSNorm``;
  any third-party layer may set it), or a class whose name ends in ``Norm`` with an optional
  dimension suffix (``T5LayerNorm``, ``FusedRMSNorm``, ``FrozenBatchNorm2d``): third-party norm
  layers are recognised by that name. A name that merely contains ``Norm`` (``NormalizedLinear``,
  ``Normalize``) is not a normalization layer;
* a **dropout layer** (:func:`is_dropout`) is a torch ``_DropoutNd`` or a class that sets
  ``_reglab_dropout = True`` (reglab's dropout family).

:func:`regularized_parameters` selects the weights outside normalization layers, minus biases;
``include=``/``exclude=`` glob patterns over parameter names or module types adjust it.

Example:
    >>> import torch
    >>> m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    >>> [tuple(p.shape) for p in regularized_parameters(m)], is_norm(m[1])
    ([(4, 3)], True)
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._checks import (
    Constraint,
    Constraints,
    InstanceOf,
    Interval,
    check_floating,
    validate_params,
)
from .errors import ConfigError, format_value

__all__ = [
    "ParamInfo",
    "Params",
    "WeightStats",
    "classify",
    "is_dropout",
    "is_norm",
    "is_weight",
    "param_groups",
    "param_list",
    "regularized_parameters",
    "weight_stats",
    "weight_tensors",
]

#: What a regularizer acts on: a model (its :func:`regularized_parameters`), a tensor, or tensors.
Params = nn.Module | torch.Tensor | Iterable[torch.Tensor]

# torch's normalization classes (RMSNorm arrived in torch 2.4).
_NORM_TYPES: tuple[type, ...] = tuple(
    t
    for t in (
        nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
        nn.LayerNorm,
        nn.GroupNorm,
        nn.LocalResponseNorm,
        getattr(nn, "RMSNorm", None),
    )
    if t is not None
)
_NORM_NAME = re.compile(r"Norm(\d+d?)?$")


def is_norm(module: nn.Module) -> bool:
    """Whether ``module`` is a normalization layer (see the module docstring for the rule).

    Example:
        >>> import torch
        >>> class T5LayerNorm(torch.nn.Module): ...
        >>> class NormalizedLinear(torch.nn.Linear): ...
        >>> is_norm(torch.nn.BatchNorm1d(3)), is_norm(T5LayerNorm()), is_norm(NormalizedLinear(2, 2))
        (True, True, False)
    """
    cls = type(module)
    return (
        isinstance(module, _NORM_TYPES)
        or bool(getattr(cls, "_reglab_norm", False))
        or _NORM_NAME.search(cls.__name__) is not None
    )


def is_dropout(module: nn.Module) -> bool:
    """Whether ``module`` is a dropout-family layer (reglab's or torch's ``_DropoutNd``).

    Example:
        >>> import torch
        >>> is_dropout(torch.nn.Dropout()), is_dropout(torch.nn.ReLU())
        (True, False)
    """
    return bool(getattr(type(module), "_reglab_dropout", False)) or isinstance(
        module, nn.modules.dropout._DropoutNd
    )


def is_weight(p: torch.Tensor) -> bool:
    """Whether ``p`` is a weight tensor: ``ndim >= 2`` (biases and gains are 1-D)."""
    return p.dim() >= 2


def weight_tensors(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """The weight tensors (``ndim >= 2``) among ``params``, in order."""
    return [p for p in params if is_weight(p)]


# ---------------------------------------------------------------- parameter lists


def param_list(owner: str, params: Any, *, leaf: bool) -> list[torch.Tensor]:
    """Turn a module / tensor / iterable of tensors into a checked, non-empty list of tensors.

    A module means its :func:`regularized_parameters`. ``leaf=True`` refuses non-leaf tensors
    (in-place updates and ``.grad`` need the parameters themselves).
    """
    if isinstance(params, nn.Module):
        return regularized_parameters(params)
    if isinstance(params, torch.Tensor):
        items: list[Any] = [params]
    elif isinstance(params, Iterable) and not isinstance(params, (str, bytes, dict)):
        items = list(params)
    else:
        raise ConfigError(
            f"The 'params' parameter of {owner} must be an nn.Module or an iterable of tensors "
            f"(e.g. reglab.regularized_parameters(model)). Got {format_value(params)} instead."
        )
    if not items:
        raise ConfigError(
            f"The 'params' parameter of {owner} must select at least one tensor "
            f"(e.g. reglab.regularized_parameters(model)). Got an empty selection instead."
        )
    for i, p in enumerate(items):
        check_floating(owner, p, f"params[{i}]")
        if leaf and not p.is_leaf:
            raise ConfigError(
                f"{owner} updates tensors in place and needs leaf tensors (parameters): "
                f"params[{i}] is the result of an operation. Pass the parameters themselves, "
                f"e.g. reglab.regularized_parameters(model)."
            )
    return items


# ---------------------------------------------------------------- the selection rule


class _Patterns(Constraint):
    """``None``, a glob pattern, or a list/tuple of glob patterns."""

    def is_satisfied_by(self, value: Any) -> bool:
        if value is None or isinstance(value, str):
            return True
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)

    def __str__(self) -> str:
        return "None, a glob pattern or a list of glob patterns (str)"


#: The constraints of classify's arguments, checked by validate_params.
_CLASSIFY_CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a torch.nn.Module")],
    "include": [_Patterns()],
    "exclude": [_Patterns()],
}


def _patterns(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a model: its name, owner type, shape, size and whether it is regularized."""

    name: str
    module_type: str
    shape: tuple[int, ...]
    numel: int
    regularized: bool
    reason: str


def _match(patterns: tuple[str, ...], name: str, module_type: str) -> str | None:
    for pat in patterns:
        if fnmatch.fnmatchcase(name, pat) or fnmatch.fnmatchcase(module_type, pat):
            return pat
    return None


def _default(local: str, module: nn.Module, p: torch.Tensor) -> tuple[bool, str]:
    if "bias" in local:
        return False, "bias"
    if is_norm(module):
        return False, "normalization layer"
    if not is_weight(p):
        return False, "ndim < 2"
    return True, f"weight (ndim {p.dim()})"


def classify(
    owner: str, model: Any, include: Any = None, exclude: Any = None
) -> list[tuple[ParamInfo, torch.Tensor]]:
    """Every parameter of ``model`` (tied ones once) with whether and why it is regularized."""
    validate_params(owner, locals(), _CLASSIFY_CONSTRAINTS)
    inc = _patterns(include)
    exc = _patterns(exclude)
    rows: list[tuple[ParamInfo, torch.Tensor]] = []
    seen: set[int] = set()
    for mod_name, module in model.named_modules():
        mtype = type(module).__name__
        for local, p in module.named_parameters(recurse=False):
            if id(p) in seen:  # shared (tied) parameters are listed once
                continue
            seen.add(id(p))
            name = f"{mod_name}.{local}" if mod_name else local
            selected, reason = _default(local, module, p)
            if not selected and (pat := _match(inc, name, mtype)) is not None:
                selected, reason = True, f"include {pat!r}"
            if selected and (pat := _match(exc, name, mtype)) is not None:
                selected, reason = False, f"exclude {pat!r}"
            info = ParamInfo(name, mtype, tuple(p.shape), p.numel(), selected, reason)
            rows.append((info, p))
    if not rows:
        raise ConfigError(
            f"The 'model' parameter of {owner} must be a torch.nn.Module with at least one "
            f"parameter. Got {format_value(model)} instead."
        )
    return rows


def nothing_selected(owner: str, model: nn.Module) -> ConfigError:
    return ConfigError(
        f"{owner} selected no parameter of {type(model).__name__}: the default takes weights "
        "with ndim >= 2 outside normalization layers; widen it with include= "
        "(e.g. include='*.weight') or narrow exclude=."
    )


def regularized_parameters(
    model: nn.Module,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
) -> list[torch.Tensor]:
    """The parameters of ``model`` that weight regularization should apply to.

    Default rule: every parameter with ``ndim >= 2`` (the weights of Linear, Conv, Embedding and
    similar layers) except biases and every parameter of a normalization layer (:func:`is_norm`:
    torch's batch, layer, group, instance, RMS norms, reglab's, and third-party layers whose type
    name ends in ``"Norm"``). ``include`` adds, and ``exclude`` removes, parameters whose name
    (``"0.weight"``, ``"*.bias"``) or owning module type (``"Embedding"``, ``"*Norm*"``) matches a
    glob pattern; exclude wins. Tied parameters appear once. To restrict to a sub-network, pass
    the submodule.

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
        >>> [tuple(p.shape) for p in regularized_parameters(m)]
        [(4, 3)]
        >>> len(regularized_parameters(m, include="*.bias"))
        3
    """
    rows = classify("regularized_parameters", model, include, exclude)
    selected = [p for info, p in rows if info.regularized]
    if not selected:
        raise nothing_selected("regularized_parameters", model)
    return selected


#: The constraints of param_groups's arguments, checked by validate_params.
_PARAM_GROUPS_CONSTRAINTS: Constraints = {"weight_decay": [Interval(float, 0, None)]}


def param_groups(
    model: nn.Module,
    weight_decay: float,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Split ``model``'s parameters into a decay group and a no-decay group.

    The decay group is :func:`regularized_parameters` (``include``/``exclude`` as there: glob
    patterns over parameter names or module types) with ``weight_decay``; every other parameter
    goes to a group with ``weight_decay=0.0``. An empty no-decay group is left out. Pass the
    result to any torch optimizer that has a ``weight_decay`` argument; with
    ``torch.optim.AdamW`` this is the usual "no decay on biases and norms" set-up.

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
        >>> groups = param_groups(m, 0.05)
        >>> [(len(g["params"]), g["weight_decay"]) for g in groups]
        [(1, 0.05), (3, 0.0)]
        >>> opt = torch.optim.AdamW(groups, lr=1e-3)
    """
    validate_params("param_groups", locals(), _PARAM_GROUPS_CONSTRAINTS)
    rows = classify("param_groups", model, include, exclude)
    decay = [p for info, p in rows if info.regularized]
    rest = [p for info, p in rows if not info.regularized]
    if not decay:
        raise nothing_selected("param_groups", model)
    groups: list[dict[str, Any]] = [{"params": decay, "weight_decay": float(weight_decay)}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups


# ---------------------------------------------------------------- weight norm and sparsity


def measured_weights(source: Params) -> list[torch.Tensor]:
    """The tensors :func:`weight_stats` measures, by the one selection rule.

    As for the penalties, a module means its :func:`regularized_parameters` (weights with
    ``ndim >= 2`` outside normalization layers, no biases, tied ones once; ``[]`` when it has
    none), and tensors are taken as given (the caller selected them).
    """
    if isinstance(source, nn.Module):
        if next(source.parameters(), None) is None:
            return []
        return [p for info, p in classify("weight_stats", source) if info.regularized]
    return [source] if isinstance(source, torch.Tensor) else list(source)


def weight_stats_tensors(
    weights: Sequence[torch.Tensor], dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(norm, zeros)`` of non-empty ``weights`` as tensors on their device (no host sync).

    ``norm`` is the L2 norm of all the weights together: the per-tensor norms (in each tensor's
    dtype), combined in ``dtype``. ``zeros`` counts the entries that are exactly zero. The
    training loop reads them with the epoch's other numbers in one copy.
    """
    with torch.no_grad():
        detached = [w.detach() for w in weights]
        norms = torch._foreach_norm(detached)
        norm = torch.linalg.vector_norm(torch.stack([n.to(dtype) for n in norms]))
        zeros = torch.stack([(w == 0).sum() for w in detached]).sum()
    return norm, zeros


@dataclass(frozen=True)
class WeightStats:
    """The L2 ``norm`` of the selected weights, their count of exact ``zeros`` and ``total`` size.

    ``sparsity`` is ``zeros / total`` (NaN when nothing was selected).
    """

    norm: float
    zeros: int
    total: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.total if self.total else math.nan


def weight_stats(source: Params) -> WeightStats:
    """Weight norm and sparsity of a model's weights (or of given tensors): :func:`measured_weights`.

    The one computation behind ``sparsity``, fit's ``weight_norm``/``sparsity`` columns and the
    lab's cell results: weights with ``ndim >= 2`` outside normalization layers, no biases.

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2))
        >>> with torch.no_grad():
        ...     _ = m[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
        >>> s = weight_stats(m)
        >>> s.norm, s.zeros, s.total, s.sparsity
        (5.0, 2, 4, 0.5)
    """
    weights = measured_weights(source)
    if not weights:
        return WeightStats(0.0, 0, 0)
    norm, zeros = weight_stats_tensors(weights)
    return WeightStats(float(norm), int(zeros), sum(w.numel() for w in weights))
