"""Dropout-family layers: thin modules over :mod:`reglab.functional.dropout`.

Each validates its settings once in ``__init__`` and calls the pure function in ``forward``. Every
class carries ``_reglab_dropout = True`` so that tools (``mc_predict``,
``find_dropout_before_batchnorm``) recognise the family, as they recognise torch's ``_DropoutNd``.
A module's ``generator`` attribute (``None``: torch's global generator) is its random source.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, ClassVar

import torch
from torch import nn

from .._checks import (
    BOOL,
    GENERATOR,
    PROBABILITY,
    Constraints,
    Interval,
    OneOf,
    check_floating,
    validate_params,
)
from .._select import is_dropout
from ..functional.dropout import (
    _DROP_CONNECT_MODULE,
    _alpha_dropout,
    _drop_block2d,
    _drop_connect,
    _drop_path,
    _dropout,
    _feature_dropout,
    _gaussian_dropout,
    _gaussian_noise,
)

__all__ = [
    "AlphaDropout",
    "DropBlock2d",
    "DropConnect",
    "DropPath",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "GaussianDropout",
    "GaussianNoise",
    "is_dropout",
]

_SCALING = [OneOf("inverted", "classic")]


class _DropoutFamily(nn.Module):
    """Base of every reglab dropout-family layer (no parameters of its own).

    A layer passes its settings to ``__init__``, which checks them against the class's
    ``_parameter_constraints`` and stores them (a setting declared as a float interval as a
    float); ``forward`` checks the input and calls ``_forward``, the one-line call of the pure
    function; ``extra_repr`` shows the settings named in ``_shown``.
    """

    _reglab_dropout = True
    _parameter_constraints: ClassVar[Constraints]
    #: The settings ``extra_repr`` shows, in order.
    _shown: ClassVar[tuple[str, ...]] = ("p",)

    def __init__(self, generator: torch.Generator | None, **settings: Any) -> None:
        validate_params(self, {**settings, "generator": generator})
        super().__init__()
        self.generator = generator
        for name, value in settings.items():
            floats = any(
                isinstance(c, Interval) and c.kind is float
                for c in self._parameter_constraints[name]
            )
            setattr(self, name, float(value) if floats else value)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        check_floating(type(self).__name__, input)
        return self._forward(input)

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)


class _ScaledDropout(_DropoutFamily):
    _parameter_constraints: ClassVar[Constraints] = {
        "p": PROBABILITY,
        "scaling": _SCALING,
        "inplace": BOOL,
        "generator": GENERATOR,
    }
    _shown = ("p", "scaling", "inplace")
    p: float
    scaling: str
    inplace: bool

    def __init__(
        self,
        p: float = 0.5,
        scaling: str = "inverted",
        inplace: bool = False,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator, p=p, scaling=scaling, inplace=inplace)


class Dropout(_ScaledDropout):
    r"""Zero each element with probability ``p``; drop-in for ``torch.nn.Dropout``, faster on CPU.

    ``scaling="inverted"``: training ``x * m / (1 - p)``, inference identity.
    ``scaling="classic"``: training ``x * m``, inference ``x * (1 - p)``. See
    :func:`reglab.functional.dropout`.

    Example:
        >>> layer = Dropout(p=0.2, scaling="classic").eval()
        >>> layer(torch.ones(2)).tolist()
        [0.800000011920929, 0.800000011920929]

    Paper: Srivastava et al., JMLR 2014.
    """

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        return _dropout(input, self.p, self.training, self.scaling, self.inplace, self.generator)


class _FeatureDropout(_ScaledDropout):
    _dims = 0

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        return _feature_dropout(
            input,
            self.p,
            self.training,
            self.scaling,
            self.inplace,
            self.generator,
            self._dims,
            type(self).__name__,
        )


class Dropout1d(_FeatureDropout):
    """Zero whole channels of (N, C, L) or (C, L) inputs; drop-in for ``torch.nn.Dropout1d``.

    Example:
        >>> y = Dropout1d(0.5)(torch.ones(4, 3, 5))
        >>> bool(((y == 0).all(-1) | (y == 2).all(-1)).all())
        True
    """

    _dims = 1


class Dropout2d(_FeatureDropout):
    """Zero whole channels of (N, C, H, W) inputs; drop-in for ``torch.nn.Dropout2d``.

    A 3-D input is read as (N, C, L) with a warning, as torch does.

    Example:
        >>> y = Dropout2d(0.5)(torch.ones(4, 3, 2, 2))
        >>> bool(((y == 0).all((-1, -2)) | (y == 2).all((-1, -2))).all())
        True

    Paper: Tompson et al., CVPR 2015.
    """

    _dims = 2


class Dropout3d(_FeatureDropout):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs; as ``torch.nn.Dropout3d``.

    Example:
        >>> Dropout3d(0.5).eval()(torch.ones(1, 2, 2, 2, 2)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    _dims = 3


class DropPath(_DropoutFamily):
    """Stochastic depth: drop a residual branch per sample (``"row"``) or per batch (``"batch"``).

    Use on the branch output: ``x + drop_path(block(x))``. Training ``y = x * m / (1 - p)`` (or
    ``x * m`` with ``scale_by_keep=False``); inference identity.

    Example:
        >>> y = DropPath(0.5)(torch.ones(8, 3))
        >>> bool(((y == 0).all(1) | (y == 2).all(1)).all())
        True

    Paper: Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "p": PROBABILITY,
        "mode": [OneOf("row", "batch")],
        "scale_by_keep": BOOL,
        "generator": GENERATOR,
    }
    _shown = ("p", "mode", "scale_by_keep")
    p: float
    mode: str
    scale_by_keep: bool

    def __init__(
        self,
        p: float,
        mode: str = "row",
        scale_by_keep: bool = True,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator, p=p, mode=mode, scale_by_keep=scale_by_keep)

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        return _drop_path(
            input, self.p, self.training, self.mode, self.scale_by_keep, self.generator
        )


class DropBlock2d(_DropoutFamily):
    """DropBlock: zero ``block_size x block_size`` regions of (N, C, H, W) feature maps.

    Seed rate ``gamma = p / b**2 * H W / ((H - b + 1)(W - b + 1))``; kept units are rescaled by
    ``count(M) / count_ones(M)``. See :func:`reglab.functional.drop_block2d`.

    Example:
        >>> DropBlock2d(0.1, block_size=3)(torch.ones(2, 4, 8, 8)).shape
        torch.Size([2, 4, 8, 8])

    Paper: Ghiasi, Lin, Le, NeurIPS 2018.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "p": PROBABILITY,
        "block_size": [Interval(int, 1, None)],
        "generator": GENERATOR,
    }
    _shown = ("p", "block_size")
    p: float
    block_size: int

    def __init__(
        self, p: float, block_size: int, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__(generator, p=p, block_size=block_size)

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        return _drop_block2d(
            input, self.p, self.block_size, self.training, self.generator, "DropBlock2d"
        )


def _state_dict_unwrap(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any
) -> None:
    # Present the wrapped layer's tensors under this module's own prefix ("0.weight", not
    # "0.module.weight"), so a DropConnect state_dict loads into the bare layer and back.
    inner = prefix + "module."
    keys = [k for k in state_dict if k.startswith(inner)]
    moved = OrderedDict((prefix + k[len(inner) :], state_dict.pop(k)) for k in keys)
    state_dict.update(moved)


def _load_state_dict_wrap(
    module: nn.Module,
    state_dict: dict[str, Any],
    prefix: str,
    local_metadata: Any,
    strict: bool,
    missing_keys: list[str],
    unexpected_keys: list[str],
    error_msgs: list[str],
) -> None:
    inner: nn.Module = module.module  # type: ignore[assignment]
    names = {k.split(".", 1)[0] for k in inner.state_dict()}
    for key in [k for k in state_dict if k.startswith(prefix)]:
        if key[len(prefix) :].split(".", 1)[0] in names:
            state_dict[prefix + "module." + key[len(prefix) :]] = state_dict.pop(key)


class DropConnect(_DropoutFamily):
    """Wrap a Linear or convolution and drop its weights during training (Wan et al. 2013).

    Training: the layer runs with ``W * M / (1 - p)``, one mask ``M ~ Bernoulli(1 - p)`` over the
    weight per call (bias kept); inference: the layer unchanged. The wrapped layer is
    ``self.module``; the state_dict shows its tensors under the wrapper's own prefix
    (``weight``, ``bias``), so it loads into the bare layer and the bare layer's loads into it.

    Example:
        >>> layer = DropConnect(torch.nn.Linear(4, 2), p=0.3)
        >>> sorted(layer.state_dict())
        ['bias', 'weight']
        >>> torch.nn.Linear(4, 2).load_state_dict(layer.state_dict())
        <All keys matched successfully>

    Paper: Wan et al., "Regularization of Neural Networks using DropConnect", ICML 2013.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "module": [_DROP_CONNECT_MODULE],
        "p": PROBABILITY,
        "generator": GENERATOR,
    }
    module: nn.Module
    p: float

    def __init__(
        self, module: nn.Module, p: float = 0.5, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__(generator, module=module, p=p)
        post = getattr(self, "register_state_dict_post_hook", None)
        if post is not None:
            post(_state_dict_unwrap)
        else:  # torch < 2.5
            self._register_state_dict_hook(_state_dict_unwrap)
        self.register_load_state_dict_pre_hook(_load_state_dict_wrap)

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        return _drop_connect(input, self.module, self.p, self.training, self.generator)


class GaussianDropout(_DropoutFamily):
    """Multiply by ``N(1, p / (1 - p))`` noise in training; identity at inference (Keras' layer).

    Example:
        >>> GaussianDropout(0.3).eval()(torch.ones(2)).tolist()
        [1.0, 1.0]

    Paper: Srivastava et al., JMLR 2014, section 10.
    """

    _parameter_constraints: ClassVar[Constraints] = {"p": PROBABILITY, "generator": GENERATOR}
    p: float

    def __init__(self, p: float, *, generator: torch.Generator | None = None) -> None:
        super().__init__(generator, p=p)

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        return _gaussian_dropout(input, self.p, self.training, self.generator)


class GaussianNoise(_DropoutFamily):
    """Add ``std * N(0, 1)`` noise in training; identity at inference (Keras' layer).

    Example:
        >>> GaussianNoise(0.1).eval()(torch.zeros(2)).tolist()
        [0.0, 0.0]
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "std": [Interval(float, 0, None)],
        "generator": GENERATOR,
    }
    _shown = ("std",)
    std: float

    def __init__(self, std: float, *, generator: torch.Generator | None = None) -> None:
        super().__init__(generator, std=std)

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        return _gaussian_noise(input, self.std, self.training, self.generator)


class AlphaDropout(_DropoutFamily):
    """Dropout that keeps SELU activations standardised; same semantics as ``torch.nn.AlphaDropout``.

    Example:
        >>> AlphaDropout(0.2).eval()(torch.ones(2)).tolist()
        [1.0, 1.0]

    Paper: Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "p": PROBABILITY,
        "inplace": BOOL,
        "generator": GENERATOR,
    }
    _shown = ("p", "inplace")
    p: float
    inplace: bool

    def __init__(
        self, p: float = 0.5, inplace: bool = False, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__(generator, p=p, inplace=inplace)

    def _forward(self, input: torch.Tensor) -> torch.Tensor:
        return _alpha_dropout(input, self.p, self.training, self.inplace, self.generator)
