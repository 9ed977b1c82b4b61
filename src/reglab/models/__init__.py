"""Models the lab trains, built from a :class:`ModelSpec` through a registry.

One file per model family (``linear.py``: :class:`LinearModel`; ``mlp.py``: :class:`MLP`;
``cnn.py``: :class:`SmallCNN` for images; ``cnn1d.py``: :class:`CNN1d` for signals), the
shared layers in ``blocks.py``, and ``spec.py`` with :class:`ModelSpec` (architecture fields
only), :func:`register_model` and :func:`build_model`. A family joins the registry with
``register_model(name, factory)``; a user's own model plugs in as ``"package.module:factory"``
(called as ``factory(spec, input_shape, num_outputs)``).

Example:
    >>> import torch
    >>> spec = ModelSpec(norm="batch", norm_position="after", dropout=0.2, width=8)
    >>> model = build_model(spec, (1, 8, 8), 10, kind="cnn")
    >>> model(torch.zeros(4, 1, 8, 8)).shape
    torch.Size([4, 10])
"""

from __future__ import annotations

from .blocks import norm_layer
from .cnn import SmallCNN
from .cnn1d import CNN1d
from .linear import LinearModel
from .mlp import MLP
from .spec import (
    MODEL_FIELDS,
    ModelFactory,
    ModelSpec,
    build_model,
    load_factory,
    model_names,
    register_model,
    resolve_size,
)

register_model("cnn", SmallCNN, width=32, depth=2)
register_model("mlp", MLP, width=32, depth=2)
register_model("linear", LinearModel)
register_model("cnn1d", CNN1d, width=25, depth=3)

__all__ = [
    "MLP",
    "MODEL_FIELDS",
    "CNN1d",
    "LinearModel",
    "ModelFactory",
    "ModelSpec",
    "SmallCNN",
    "build_model",
    "load_factory",
    "model_names",
    "norm_layer",
    "register_model",
    "resolve_size",
]
