"""Models the lab trains, built from a :class:`ModelSpec` through a registry.

One file per model family (``linear.py``: :class:`LinearModel`; ``mlp.py``: :class:`MLP`;
``cnn.py``: :class:`SmallCNN` for images; ``cnn1d.py``: :class:`CNN1d` for signals;
``text.py``: :class:`BagOfWords`, :class:`TextCNN` and :class:`TextGRU` for token ids), the
shared layers in ``blocks.py``, and ``spec.py`` with :class:`ModelSpec` (architecture fields
only), :func:`register_model` and :func:`build_model`. A family joins the registry with
``register_model(name, factory)``; a user's own model plugs in as ``"package.module:factory"``
(called as ``factory(spec, input_shape, num_outputs)``). ``input_shape`` is one sample's shape:
``(F,)`` for tables, ``(C, L)`` for signals, ``(C, H, W)`` for images, and ``(vocab_size,)``
for text, whose models take int64 token ids ``(B, L)`` padded with 0 at the end.

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
from .text import (
    BOW_DIM,
    CNN_WIDTH,
    EMBEDDING_DIM,
    GRU_DEPTH,
    GRU_WIDTH,
    BagOfWords,
    TextCNN,
    TextGRU,
)

register_model("cnn", SmallCNN, width=32, depth=2)
register_model("mlp", MLP, width=32, depth=2)
register_model("linear", LinearModel)
register_model("cnn1d", CNN1d, width=25, depth=3)
register_model("bow", BagOfWords, embedding_dim=BOW_DIM)
register_model("textcnn", TextCNN, width=CNN_WIDTH, embedding_dim=EMBEDDING_DIM)
register_model("gru", TextGRU, width=GRU_WIDTH, depth=GRU_DEPTH, embedding_dim=EMBEDDING_DIM)

__all__ = [
    "MLP",
    "MODEL_FIELDS",
    "BagOfWords",
    "CNN1d",
    "LinearModel",
    "ModelFactory",
    "ModelSpec",
    "SmallCNN",
    "TextCNN",
    "TextGRU",
    "build_model",
    "load_factory",
    "model_names",
    "norm_layer",
    "register_model",
    "resolve_size",
]
