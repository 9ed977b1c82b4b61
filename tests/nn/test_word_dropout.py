"""WordDropout: whole token vectors of (N, L, E) embeddings, rate, scaling, replay, checklist."""

from __future__ import annotations

import pytest
import torch

import reglab as rl
from reglab import ConfigError
from tests.checklist import Check, ModuleCase, checklist
from tests.helpers import seeded


@pytest.mark.parametrize("shape", [(64, 40, 16), (500, 16)])
def test_drops_whole_token_vectors_at_rate_p(shape):
    p = 0.25
    x = torch.rand(shape, generator=seeded(1)) + 0.5  # no zero entry
    y = rl.nn.WordDropout(p, generator=seeded(2))(x)
    dropped = (y == 0).all(-1)
    assert ((y == 0).any(-1) == dropped).all()  # a vector is dropped entirely or not at all
    # 2,560 (or 500) tokens: sd of the share <= 0.0194; allow 4 sd
    assert abs(dropped.float().mean().item() - p) < 0.078
    torch.testing.assert_close(y[~dropped], x[~dropped] / (1 - p), rtol=0, atol=1e-6)


def test_is_dropout1d_over_the_token_axis_and_replays():
    x = torch.randn(8, 12, 5)
    ours = rl.nn.WordDropout(0.4, scaling="classic", generator=seeded(3))(x)
    channel = rl.nn.Dropout1d(0.4, scaling="classic", generator=seeded(3))(x)
    assert torch.equal(ours, channel)
    torch.manual_seed(7)
    a = rl.nn.WordDropout(0.4)(x)
    torch.manual_seed(7)
    assert torch.equal(a, rl.nn.WordDropout(0.4)(x))
    layer = rl.nn.WordDropout(0.4, scaling="classic").eval()
    torch.testing.assert_close(layer(x), x * 0.6)
    assert rl.nn.is_dropout(layer)


def test_gradient_flows_through_kept_tokens_only():
    x = torch.randn(6, 9, 4, requires_grad=True)
    y = rl.nn.WordDropout(0.5, generator=seeded(0))(x)
    y.sum().backward()
    kept = (y != 0).any(-1, keepdim=True).expand_as(x)
    torch.testing.assert_close(x.grad, kept.float() * 2.0)


CASES = [
    ModuleCase(
        "WordDropout",
        lambda: rl.nn.WordDropout(0.3),
        (4, 6, 8),
        stochastic=True,
        repr_contains=["p=0.3", "scaling='inverted'"],
        bad=[
            (
                lambda: rl.nn.WordDropout(1.0),
                "The 'p' parameter of WordDropout must be a float in [0, 1). Got 1.0 instead.",
            )
        ],
    )
]


@pytest.mark.parametrize(("case", "check"), checklist(CASES))
def test_checklist(case: ModuleCase, check: Check) -> None:
    check(case)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.ones(2, 3, 4, 5),
         "WordDropout expects 'input' of shape (N, L, E) or (L, E). Got shape (2, 3, 4, 5) instead."),
        (torch.ones(2, 3, dtype=torch.int64),
         "WordDropout expects a floating-point tensor as 'input'. Got dtype torch.int64 instead."),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_line_errors(x, message):
    with pytest.raises(ConfigError) as info:
        rl.nn.WordDropout(0.3)(x)
    assert str(info.value) == message
