"""SmallCNN applies a ReLU that precedes a max pooling after the pooling: bit-identical."""

import pytest
import torch
from torch import nn

from reglab.models import ModelSpec, SmallCNN


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(),
        ModelSpec(norm="batch"),
        ModelSpec(norm="batch", norm_position="after"),
        ModelSpec(pool="avg", dropout=0.3),
    ],
)
def test_forward_and_gradients_equal_the_plain_sequence(spec):
    torch.manual_seed(0)
    net = SmallCNN(spec, (1, 12, 12), 5)
    x = torch.randn(8, 1, 12, 12, requires_grad=True)
    torch.manual_seed(1)
    out = net(x)
    out.square().sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    gx = x.grad.clone()
    net.zero_grad()
    x.grad = None
    torch.manual_seed(1)
    ref = nn.Sequential.forward(net, x)
    ref.square().sum().backward()
    assert torch.equal(out, ref)
    assert torch.equal(gx, x.grad)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, net.parameters()))


def test_a_hooked_relu_sees_its_usual_input():
    net = SmallCNN(ModelSpec(width=4, depth=1), (1, 6, 6), 3)
    relu = next(m for m in net if isinstance(m, nn.ReLU))
    seen = []
    relu.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    net(torch.randn(2, 1, 6, 6))
    assert seen[0] == (2, 4, 6, 6)  # before the pooling, as the module order says
