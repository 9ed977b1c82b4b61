"""Which parameters are regularized: regularized_parameters, describe_regularization, sparsity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.penalty import describe_regularization, regularized_parameters, sparsity


class MyNorm(nn.Module):
    """A third-party norm layer with a 2-D parameter: recognised by its type name."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(2, 3))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(10, 3)
        self.conv = nn.Conv1d(3, 4, 3)
        self.bn = nn.BatchNorm1d(4)
        self.fc = nn.Linear(4, 2)
        self.ln = nn.LayerNorm(2)
        self.gn = nn.GroupNorm(1, 4)
        self.my = MyNorm()
        self.head = nn.Linear(2, 10, bias=False)
        self.head.weight = self.emb.weight  # tied with the embedding


def _names(model: nn.Module, params: list[torch.Tensor]) -> list[str]:
    ids = {id(p): n for n, p in model.named_parameters()}
    return [ids[id(p)] for p in params]


def test_default_selects_weights_not_biases_nor_norm_parameters():
    m = Net()
    assert _names(m, regularized_parameters(m)) == ["emb.weight", "conv.weight", "fc.weight"]


def test_include_adds_and_exclude_removes_by_name_or_module_type():
    m = Net()
    assert _names(m, regularized_parameters(m, include="*.bias", exclude="*Norm*")) == [
        "emb.weight",
        "conv.weight",
        "conv.bias",
        "fc.weight",
        "fc.bias",
    ]
    assert len(regularized_parameters(m, include="*.bias")) == 3 + 5  # norm biases too, if asked
    assert _names(m, regularized_parameters(m, exclude="Embedding")) == [
        "conv.weight",
        "fc.weight",
    ]
    assert _names(m, regularized_parameters(m, exclude=["emb.*", "Conv*"])) == ["fc.weight"]
    # exclude wins over include; include can pick a norm layer by type
    got = regularized_parameters(m, include=["MyNorm", "fc.bias"], exclude="fc.*")
    assert _names(m, got) == ["emb.weight", "conv.weight", "my.scale"]


def test_describe_regularization_table_and_counts():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    s = describe_regularization(m, exclude="2.*")
    assert str(s) == "\n".join(
        [
            "parameter  module       shape  numel  regularized  why",
            "0.weight   Linear       4x3    12     yes          weight (ndim 2)",
            "0.bias     Linear       4      4      no           bias",
            "1.weight   BatchNorm1d  4      4      no           normalization layer",
            "1.bias     BatchNorm1d  4      4      no           bias",
            "2.weight   Linear       2x4    8      no           exclude '2.*'",
            "2.bias     Linear       2      2      no           bias",
            "regularized: 1 tensors, 12 elements; not regularized: 5 tensors, 22 elements",
        ]
    )
    assert s.counts == {
        "regularized_tensors": 1,
        "regularized_elements": 12,
        "other_tensors": 5,
        "other_elements": 22,
    }
    d = s.to_dict()
    assert d["parameters"][4] == {
        "name": "2.weight",
        "module_type": "Linear",
        "shape": [2, 4],
        "numel": 8,
        "regularized": False,
        "reason": "exclude '2.*'",
    }
    assert [r.name for r in s.regularized] == ["0.weight"]
    assert len(s.not_regularized) == 5


def test_describe_lists_tied_parameters_once():
    s = describe_regularization(Net())
    names = [r.name for r in s.rows]
    assert names.count("emb.weight") == 1 and "head.weight" not in names


def test_sparsity_overall_and_per_layer():
    m = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 4))
    with torch.no_grad():
        m[0].weight.copy_(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
        m[0].bias.zero_()  # biases are not counted
        m[2].weight.fill_(1.0)
        m[2].weight[0, 0] = 0.0
    s = sparsity(m)
    assert s.per_layer == {"0.weight": 0.75, "2.weight": 0.125}
    assert (s.zeros, s.total) == (4, 12)
    assert s.overall == pytest.approx(4 / 12)
    assert float(s) == s.overall
    assert str(s) == "sparsity 33.3% (4/12 zeros; 0.weight: 75.0%, 2.weight: 12.5%)"
    only = sparsity(m, params=[m[2].weight, torch.zeros(3)])
    assert only.per_layer == {"2.weight": 0.125, "params[1]": 1.0}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: regularized_parameters(nn.Sequential()),
            "The 'model' parameter of regularized_parameters must be a torch.nn.Module with at "
            "least one parameter. Got Sequential() instead.",
        ),
        (
            lambda: regularized_parameters(nn.LayerNorm(4)),
            "regularized_parameters selected no parameter of LayerNorm: the default takes "
            "weights with ndim >= 2 outside normalization layers; widen it with include= "
            "(e.g. include='*.weight') or narrow exclude=.",
        ),
        (
            lambda: regularized_parameters(nn.Linear(2, 2), exclude="*"),
            "regularized_parameters selected no parameter of Linear: the default takes "
            "weights with ndim >= 2 outside normalization layers; widen it with include= "
            "(e.g. include='*.weight') or narrow exclude=.",
        ),
        (
            lambda: regularized_parameters(nn.Linear(2, 2), include=3),
            "The 'include' parameter of regularized_parameters must be None, a glob pattern or "
            "a list of glob patterns (str). Got 3 instead.",
        ),
        (
            lambda: regularized_parameters("net"),
            "The 'model' parameter of regularized_parameters must be a torch.nn.Module. "
            "Got 'net' instead.",
        ),
        (
            lambda: describe_regularization(nn.ReLU()),
            "The 'model' parameter of describe_regularization must be a torch.nn.Module with at "
            "least one parameter. Got ReLU() instead.",
        ),
        (
            lambda: sparsity(nn.Identity()),
            "The 'model' parameter of regularized_parameters must be a torch.nn.Module with at "
            "least one parameter. Got Identity() instead.",
        ),
        (
            lambda: sparsity(nn.Linear(2, 2), params=[]),
            "The 'params' parameter of sparsity must select at least one tensor "
            "(e.g. reglab.regularized_parameters(model)). Got an empty selection instead.",
        ),
    ],
)
def test_bad_input_messages(build, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == message
