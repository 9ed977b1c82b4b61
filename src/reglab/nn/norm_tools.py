"""The batch-norm safety kit: repair or diagnose the usual batch-norm traps.

:func:`recalibrate_batchnorm` re-estimates running statistics after training (or after weights
changed), :func:`freeze_batchnorm` keeps batch norms in eval mode with frozen affine parameters
for fine-tuning, :func:`find_dropout_before_batchnorm` finds the dropout-then-batch-norm order
(variance shift) and :func:`convert_sync_batchnorm` makes every batch norm synchronise across
ranks. :func:`is_norm` and :func:`is_dropout` are reglab's one rule for what a normalization or a
dropout layer is (defined in ``reglab._select``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .._checks import Constraints, InstanceOf, Interval, NoneOk, validate_params
from .._select import is_dropout, is_norm
from ..errors import ConfigError, param_error
from .norm import BatchNorm

__all__ = [
    "BatchNormFreeze",
    "convert_sync_batchnorm",
    "find_dropout_before_batchnorm",
    "freeze_batchnorm",
    "is_norm",
    "recalibrate_batchnorm",
]

_NONE = NoneOk()


def _batchnorms(model: nn.Module) -> list[tuple[str, _BatchNorm]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _BatchNorm)]


def _first_input(batch: Any) -> Tensor:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise ConfigError(
        "recalibrate_batchnorm expects each batch to be a tensor or an (x, y) tuple. "
        f"Got {type(batch).__name__} instead."
    )


#: The constraints of recalibrate_batchnorm's arguments, checked by validate_params.
_RECALIBRATE_BATCHNORM_CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a Module")],
    "num_batches": [Interval(int, 1, None), _NONE],
}


def recalibrate_batchnorm(
    model: nn.Module,
    batches: Iterable[Any],
    num_batches: int | None = None,
) -> int:
    """Recompute every batch norm's running statistics with the weights fixed (PreciseBN).

    Resets the running statistics of each ``_BatchNorm`` (torch's or reglab's) that tracks them
    and feeds the batches with every other layer in eval mode (dropout off, so the statistics
    are those inference will see: this also removes dropout's variance shift) and the batch norms
    in training mode with ``momentum=None``, so the result is the equal-weight average over the
    ``B`` batches::

        running_mean = 1/B sum_b mu_b       running_var = 1/B sum_b s_b^2   (unbiased per batch)

    Gradients are off; momentum, renorm settings and every module's train/eval mode are restored
    afterwards, and on an error (or no batches at all) the previous statistics are put back.

    Args:
        model: the network.
        batches: an iterable of input tensors or ``(x, y, ...)`` tuples (a DataLoader works);
            inputs are moved to the model's device.
        num_batches: use at most this many batches (``None``: all).

    Returns:
        The number of batches used.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), BatchNorm(3))
        >>> g = torch.Generator().manual_seed(0)
        >>> recalibrate_batchnorm(net, [torch.randn(16, 4, generator=g) for _ in range(5)])
        5

    Paper: Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021 (arXiv:2105.07576).
    """
    validate_params("recalibrate_batchnorm", locals(), _RECALIBRATE_BATCHNORM_CONSTRAINTS)
    bns = [m for _, m in _batchnorms(model) if m.track_running_stats and m.running_mean is not None]
    if not bns:
        return 0
    modes = [(m, m.training) for m in model.modules()]
    saved = [(m, {k: v.clone() for k, v in m.state_dict().items()}, m.momentum) for m in bns]
    renorms = [(m, m.renorm) for m in bns if isinstance(m, BatchNorm) and m.renorm is not None]
    first: Tensor | None = next(iter(model.parameters()), None)
    if first is None:
        first = next(iter(model.buffers()), None)
    device = None if first is None else first.device
    used = 0
    ok = False
    try:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        for m, _ in renorms:
            m.renorm = None
        model.eval()
        for m in bns:
            m.train()
        with torch.no_grad():
            for batch in batches:
                if num_batches is not None and used >= num_batches:
                    break
                x = _first_input(batch)
                model(x if device is None else x.to(device))
                used += 1
        if used == 0:
            raise param_error(
                "batches", "recalibrate_batchnorm", "a non-empty iterable of batches", batches
            )
        ok = True
    finally:
        for m, state, momentum in saved:
            m.momentum = momentum
            if not ok:
                m.load_state_dict(state)
        for m, clip in renorms:
            m.renorm = clip
            if ok:  # keep inference (running_var) and the renorm statistics consistent
                with torch.no_grad():
                    std = torch.sqrt(m.running_var + m.eps)  # type: ignore[operator, arg-type]
                    m.running_std.copy_(std)  # type: ignore[union-attr]
                    m.renorm_mean.copy_(m.running_mean)  # type: ignore[union-attr, arg-type]
                    m.renorm_std.copy_(std)  # type: ignore[union-attr]
        for mod, mode in modes:
            mod.training = mode
    return used


def _stay_eval(module: nn.Module, args: Any) -> None:
    # model.train() flips every child back to training; a frozen batch norm must not follow
    module.training = False


class BatchNormFreeze:
    """What :func:`freeze_batchnorm` returns: the frozen layers and the way to unfreeze them.

    ``names`` lists the frozen modules' qualified names. ``unfreeze()`` (or leaving a ``with``
    block) restores ``requires_grad`` and the training mode each layer had, and stops forcing
    eval mode.
    """

    def __init__(self, model: nn.Module) -> None:
        self.names: list[str] = []
        self._undo: list[tuple[nn.Module, bool, list[tuple[nn.Parameter, bool]], Any]] = []
        for name, m in _batchnorms(model):
            params = [(p, p.requires_grad) for p in m.parameters(recurse=False)]
            handle = m.register_forward_pre_hook(_stay_eval)
            self._undo.append((m, m.training, params, handle))
            self.names.append(name)
            m.eval()
            for p, _ in params:
                p.requires_grad_(False)

    def unfreeze(self) -> None:
        """Undo the freeze (idempotent)."""
        for m, mode, params, handle in self._undo:
            handle.remove()
            m.training = mode
            for p, flag in params:
                p.requires_grad_(flag)
        self._undo = []

    def __enter__(self) -> BatchNormFreeze:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unfreeze()

    def __repr__(self) -> str:
        return f"BatchNormFreeze(names={self.names})"


#: The constraints of freeze_batchnorm's arguments, checked by validate_params.
_FREEZE_BATCHNORM_CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a Module")]
}


def freeze_batchnorm(model: nn.Module) -> BatchNormFreeze:
    """Freeze every batch norm: eval-mode (running) statistics and no gradient for gamma/beta.

    Each ``_BatchNorm`` (torch's ``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, reglab's
    :class:`BatchNorm`) is put in eval mode, so it normalizes with its running statistics and
    never updates them, and its ``weight``/``bias`` get ``requires_grad=False`` (an optimizer
    built afterwards from ``p for p in model.parameters() if p.requires_grad`` skips them). A
    forward pre-hook keeps the layer in eval mode even after a later ``model.train()``: the usual
    fine-tuning trap.

    Returns:
        A :class:`BatchNormFreeze` handle: ``.names`` lists the frozen layers, ``.unfreeze()``
        undoes everything; it is also a context manager.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
        >>> frozen = freeze_batchnorm(net)
        >>> _ = net.train()(torch.randn(2, 4))
        >>> frozen.names, net[1].training, net[1].weight.requires_grad
        (['1'], False, False)
    """
    validate_params("freeze_batchnorm", locals(), _FREEZE_BATCHNORM_CONSTRAINTS)
    return BatchNormFreeze(model)


def _sequential_pairs(model: nn.Module) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []

    def leaves(prefix: str, seq: nn.Sequential) -> Iterator[tuple[str, nn.Module]]:
        for name, child in seq.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(child, nn.Sequential):
                yield from leaves(full, child)
            else:
                yield full, child

    nested = {id(c) for m in model.modules() if isinstance(m, nn.Sequential) for c in m.children()}
    for name, m in model.named_modules():
        if not isinstance(m, nn.Sequential) or id(m) in nested:
            continue
        pending: list[str] = []
        for leaf_name, leaf in leaves(name, m):
            if is_dropout(leaf):
                pending.append(leaf_name)
            elif isinstance(leaf, _BatchNorm):
                pairs.extend((d, leaf_name) for d in pending)
                pending = []
    return pairs


def _traced_pairs(model: nn.Module, example_input: Any) -> list[tuple[str, str]]:
    # Tag each dropout's and batch norm's output with its own autograd node (a view), then walk
    # each batch norm's input graph back: a dropout tag reached without crossing another batch
    # norm's tag feeds it. Eval mode: nothing is updated and no randomness is drawn.
    tags: dict[Any, tuple[str, str]] = {}
    found: list[tuple[str, str]] = []
    memo: dict[Any, frozenset[str]] = {}

    def reach(root: Any) -> frozenset[str]:
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if node is None or (node in memo and not done):
                continue
            tag = tags.get(node)
            children = [n for n, _ in node.next_functions if n is not None]
            if tag is not None and tag[0] == "bn":
                memo[node] = frozenset()
                continue
            if not done:
                stack.append((node, True))
                stack.extend((c, False) for c in children if c not in memo)
                continue
            acc: set[str] = set()
            for c in children:
                acc |= memo.get(c, frozenset())
            if tag is not None:
                acc.add(tag[1])
            memo[node] = frozenset(acc)
        return memo.get(root, frozenset())

    def tag_output(kind: str, name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> Any:
            if isinstance(output, Tensor) and output.requires_grad:
                out = output.view_as(output)
                tags[out.grad_fn] = (kind, name)
                return out
            return None

        return hook

    def check_input(name: str) -> Any:
        def hook(module: nn.Module, args: Any) -> None:
            x = args[0] if args else None
            if isinstance(x, Tensor) and x.grad_fn is not None:
                found.extend((d, name) for d in sorted(reach(x.grad_fn)))

        return hook

    handles = []
    for name, m in model.named_modules():
        if is_dropout(m):
            handles.append(m.register_forward_hook(tag_output("dropout", name)))
        elif isinstance(m, _BatchNorm):
            handles.append(m.register_forward_pre_hook(check_input(name)))
            handles.append(m.register_forward_hook(tag_output("bn", name)))
    modes = [(m, m.training) for m in model.modules()]
    inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    inputs = tuple(
        t.detach().clone().requires_grad_(True)
        if isinstance(t, Tensor) and t.is_floating_point()
        else t
        for t in inputs
    )
    try:
        model.eval()
        with torch.enable_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for mod, mode in modes:
            mod.training = mode
    return list(dict.fromkeys(found))


#: The constraints of find_dropout_before_batchnorm's arguments, checked by validate_params.
_FIND_DROPOUT_BEFORE_BATCHNORM_CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a Module")]
}


def find_dropout_before_batchnorm(
    model: nn.Module, example_input: Any = None
) -> list[tuple[str, str]]:
    """Find dropout layers whose output reaches a batch norm: the variance-shift problem.

    Dropout changes the variance of its output between training and inference, so a batch norm
    downstream learns running statistics that do not hold at inference (Li et al. 2019). A
    dropout is any ``torch.nn.modules.dropout._DropoutNd`` or a module whose class sets
    ``_reglab_dropout = True`` (reglab's dropout family); a batch norm is any ``_BatchNorm``.

    Two ways to see the order:

    - with ``example_input``: one eval-mode forward pass (no statistics updated, no randomness
      drawn, modes restored) follows the actual data flow through the autograd graph; a pair is
      reported when a dropout's output reaches a batch norm's input through any layers (linear,
      conv, activations, reshapes, adds) but not through another batch norm. Works for any model.
    - without it: the order inside each ``nn.Sequential`` (nested ones flattened); a dropout
      pairs with the next batch norm that follows it. Layers outside Sequentials are not seen.

    Returns:
        ``(dropout_name, batchnorm_name)`` pairs of qualified module names, in forward order.

    Example:
        >>> net = torch.nn.Sequential(
        ...     torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 8), BatchNorm(8))
        >>> find_dropout_before_batchnorm(net)
        [('1', '3')]
        >>> find_dropout_before_batchnorm(net, torch.randn(2, 4))
        [('1', '3')]

    Paper: Li, Chen, Hu & Yang, "Understanding the Disharmony between Dropout and Batch
    Normalization by Variance Shift", CVPR 2019 (arXiv:1801.05134).
    """
    validate_params(
        "find_dropout_before_batchnorm", locals(), _FIND_DROPOUT_BEFORE_BATCHNORM_CONSTRAINTS
    )
    if example_input is None:
        return _sequential_pairs(model)
    return _traced_pairs(model, example_input)


#: The constraints of convert_sync_batchnorm's arguments, checked by validate_params.
_CONVERT_SYNC_BATCHNORM_CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a Module")]
}


def convert_sync_batchnorm(model: nn.Module, process_group: Any = None) -> nn.Module:
    """Make every batch norm of ``model`` synchronize its statistics across ranks (any backend).

    torch's ``BatchNorm1d/2d/3d`` and ``SyncBatchNorm`` layers are replaced by
    :class:`BatchNorm` with ``sync=True`` carrying the same parameters, buffers, ``requires_grad``
    flags and train/eval mode (state_dict keys are unchanged); reglab :class:`BatchNorm` layers are
    switched to ``sync=True`` in place. Unlike ``torch.nn.SyncBatchNorm``, this runs on gloo/CPU.

    Returns:
        The converted model (``model`` itself unless ``model`` is a batch norm).

    Example:
        >>> net = convert_sync_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm1d(3)))
        >>> type(net[0]).__name__, net[0].sync
        ('BatchNorm', True)
    """
    validate_params("convert_sync_batchnorm", locals(), _CONVERT_SYNC_BATCHNORM_CONSTRAINTS)
    if isinstance(model, BatchNorm):
        if model.virtual_batch_size is not None or model.renorm is not None:
            raise param_error(
                "model",
                "convert_sync_batchnorm",
                "free of BatchNorm layers with virtual_batch_size or renorm",
                model,
            )
        model.sync = True
        model.process_group = process_group
        return model
    if isinstance(model, _BatchNorm):
        ref = model.weight if model.weight is not None else model.running_mean
        where: dict[str, Any] = {} if ref is None else {"device": ref.device, "dtype": ref.dtype}
        new = BatchNorm(
            model.num_features,
            model.eps,
            model.momentum,
            model.affine,
            model.track_running_stats,
            sync=True,
            process_group=process_group,
            **where,
        )
        new.load_state_dict(model.state_dict())
        for name, p in model.named_parameters(recurse=False):
            getattr(new, name).requires_grad_(p.requires_grad)
        new.train(model.training)
        return new
    for name, child in model.named_children():
        converted = convert_sync_batchnorm(child, process_group)
        if converted is not child:
            model.add_module(name, converted)
    return model
