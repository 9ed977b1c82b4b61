"""RDrop: the symmetric KL against a direct computation, independent masks, fit (mixing, text)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import reglab as rl
from reglab import ConfigError
from reglab.rdrop import symmetric_kl


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_symmetric_kl_matches_a_direct_computation() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = (
        torch.randn(7, 5, generator=g, dtype=torch.float64),
        torch.randn(7, 5, generator=g, dtype=torch.float64),
    )
    p, q = _softmax(a.numpy()), _softmax(b.numpy())
    kl_pq = (p * np.log(p / q)).sum(1)
    kl_qp = (q * np.log(q / p)).sum(1)
    assert symmetric_kl(a, b).item() == pytest.approx(((kl_pq + kl_qp) / 2).mean(), rel=1e-12)
    # binary: one logit per row is a Bernoulli
    za, zb = a[:, 0], b[:, 0]
    pa, pb = torch.sigmoid(za).numpy(), torch.sigmoid(zb).numpy()
    two_a, two_b = np.stack([pa, 1 - pa], 1), np.stack([pb, 1 - pb], 1)
    direct = ((two_a * np.log(two_a / two_b)).sum(1) + (two_b * np.log(two_b / two_a)).sum(1)) / 2
    assert symmetric_kl(za.unsqueeze(1), zb.unsqueeze(1)).item() == pytest.approx(
        direct.mean(), rel=1e-12
    )
    assert symmetric_kl(a, a).item() == 0.0


def test_the_two_passes_use_different_masks_and_the_loss_combines_them() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 32), nn.Dropout(0.5), nn.Linear(32, 3))
    seen = []
    model[1].register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    rdrop = rl.RDrop(alpha=2.0)
    loss = rdrop(model, x, y, nn.functional.cross_entropy)
    first, second = seen[0].chunk(2)
    assert not torch.equal(first == 0, second == 0)  # independent masks
    out1, out2 = model[2](first), model[2](second)
    ce = (nn.functional.cross_entropy(out1, y) + nn.functional.cross_entropy(out2, y)) / 2
    torch.testing.assert_close(loss, ce + 2.0 * symmetric_kl(out1, out2))
    with pytest.raises(
        ConfigError, match=r"^The 'alpha' parameter of RDrop must be a float in \[0, inf\)"
    ):
        rl.RDrop(alpha=-1)


def _data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] > 0).long()


def test_fit_without_dropout_equals_plain_training_and_with_dropout_adds_the_kl() -> None:
    x, y = _data()

    def run(reg, p: float) -> rl.History:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 2))
        return rl.fit(model, (x, y), (x, y), epochs=2, regularization=reg, seed=0, progress=False)

    plain, paired = run(None, 0.0), run(rl.RDrop(1.0), 0.0)
    for a, b in zip(plain.rows, paired.rows):  # identical passes: zero KL, same data loss
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    assert run(rl.RDrop(1.0), 0.3).rows[-1]["loss"] > 0
    mixed = run(
        [rl.augment.MixUp(0.2, num_classes=2), rl.RDrop(1.0)], 0.3
    )  # soft targets in the task loss
    assert np.isfinite(mixed.rows[-1]["loss"])


def test_fit_trains_a_text_model_with_rdrop() -> None:
    from reglab.models import build_model
    from reglab.models.spec import ModelSpec

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 50, (64, 12), generator=g)
    y = (ids[:, 0] > 25).long()
    torch.manual_seed(0)
    model = build_model(ModelSpec(dropout=0.3), (50,), 2, "bow")
    hist = rl.fit(
        model, (ids, y), (ids, y), epochs=2, regularization=rl.RDrop(1.0), seed=0, progress=False
    )
    assert len(hist) == 2 and np.isfinite(hist.rows[-1]["val_loss"])
