"""Property tests (hypothesis) over ``reglab.functional`` and ``reglab.augment``.

For random shapes (batch size 0 included), dtypes (float16, bfloat16, float32, float64) and value
scales from 0 through tiny to huge, every op must either work, keeping the shape and dtype and
its defining invariant, or refuse with a one-line ``ConfigError``; any other exception fails
the test. Tensors are drawn from a hypothesis-chosen seed (torch generates them), so examples are
cheap and reproducible; ``max_examples`` stays small to keep the file fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reglab.augment as A
import reglab.functional as F
from reglab import ConfigError
from reglab.augment import tabular as TB
from reglab.functional import penalty as P
from tests.helpers import seeded

SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
# Value scales per dtype: zero, tiny, ordinary, huge (but with room for a 10x dropout scale).
SCALES = {
    torch.float16: (0.0, 1e-4, 1.0, 1e3),
    torch.bfloat16: (0.0, 1e-30, 1.0, 1e30),
    torch.float32: (0.0, 1e-30, 1.0, 1e30),
    torch.float64: (0.0, 1e-200, 1.0, 1e200),
}
# Comparison tolerance per dtype (relative), for results computed two ways.
RTOL = {torch.float16: 2e-2, torch.bfloat16: 8e-2, torch.float32: 1e-4, torch.float64: 1e-10}


def _tensor(shape: tuple[int, ...], dtype: torch.dtype, scale: float, seed: int) -> torch.Tensor:
    return (torch.randn(shape, generator=seeded(seed), dtype=torch.float64) * scale).to(dtype)


def _works_or_config_error(fn: Callable[[], Any]) -> Any:
    """``fn()``, or None when it refuses with a ConfigError of one line (anything else raises)."""
    try:
        return fn()
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc), repr(str(exc))
        return None


@st.composite
def images(draw: st.DrawFn, min_n: int = 0, max_side: int = 7) -> tuple[torch.Tensor, int]:
    """An (N, C, H, W) batch (N may be 0) in any dtype and scale, and a seed for the op."""
    n = draw(st.integers(min_n, 4))
    c = draw(st.integers(1, 3))
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    dtype = draw(st.sampled_from(DTYPES))
    scale = draw(st.sampled_from(SCALES[dtype]))
    seed = draw(st.integers(0, 2**31 - 1))
    return _tensor((n, c, h, w), dtype, scale, seed), seed


def _same_layout(x: torch.Tensor, y: torch.Tensor) -> None:
    assert y.shape == x.shape, (tuple(x.shape), tuple(y.shape))
    assert y.dtype == x.dtype, (x.dtype, y.dtype)


# -- dropout family ------------------------------------------------------------------------------

DROPOUTS: dict[str, Callable[..., torch.Tensor]] = {
    "dropout": lambda x, p, training, g: F.dropout(x, p, training=training, generator=g),
    "dropout_classic": lambda x, p, training, g: F.dropout(
        x, p, training=training, scaling="classic", generator=g
    ),
    "dropout2d": lambda x, p, training, g: F.dropout2d(x, p, training=training, generator=g),
    "alpha_dropout": lambda x, p, training, g: F.alpha_dropout(
        x, p, training=training, generator=g
    ),
    "gaussian_dropout": lambda x, p, training, g: F.gaussian_dropout(
        x, p, training=training, generator=g
    ),
    "gaussian_noise": lambda x, p, training, g: F.gaussian_noise(
        x, p, training=training, generator=g
    ),
    "drop_path": lambda x, p, training, g: F.drop_path(x, p, training=training, generator=g),
    "drop_block2d": lambda x, p, training, g: F.drop_block2d(
        x, p, 3, training=training, generator=g
    ),
}


@pytest.mark.parametrize("name", sorted(DROPOUTS))
@SETTINGS
@given(data=images(), p=st.sampled_from([0.0, 0.1, 0.5, 0.9]))
def test_dropout_family_keeps_shape_dtype_and_is_replayable(name, data, p):
    x, seed = data
    op = DROPOUTS[name]
    y = _works_or_config_error(lambda: op(x, p, True, seeded(seed)))
    if y is None:
        return
    _same_layout(x, y)
    # Same seed, same bits.
    y2 = op(x, p, True, seeded(seed))
    torch.testing.assert_close(y, y2, rtol=0, atol=0, equal_nan=True)
    # Finite input with values well inside the dtype's range stays finite.
    if name not in ("alpha_dropout", "gaussian_noise", "gaussian_dropout"):
        assert torch.isfinite(y).all()
    # Inference: identity (classic scaling multiplies by 1 - p instead).
    ev = op(x, p, False, seeded(seed))
    _same_layout(x, ev)
    expected = x * (1 - p) if name == "dropout_classic" else x
    torch.testing.assert_close(ev, expected.to(x.dtype), rtol=RTOL[x.dtype], atol=0)


@SETTINGS
@given(data=images(), p=st.sampled_from([0.1, 0.5, 0.9]))
def test_inverted_dropout_output_is_zero_or_scaled_input(data, p):
    x, seed = data
    y = F.dropout(x, p, training=True, generator=seeded(seed))
    _same_layout(x, y)
    kept = y != 0
    scaled = (x.double() / (1 - p)).to(x.dtype)
    torch.testing.assert_close(y[kept], scaled[kept], rtol=RTOL[x.dtype], atol=0)
    # With p = 0 nothing is dropped and nothing is scaled.
    assert torch.equal(F.dropout(x, 0.0, training=True, generator=seeded(seed)), x)


def test_dropout_of_infinities_follows_torch():
    """A kept inf stays an inf of the same sign; a dropped one is 0 * inf = nan, as in torch."""
    x = torch.tensor([math.inf, -math.inf] * 32)
    torch.manual_seed(0)
    for y in (F.dropout(x, 0.5, training=True, generator=seeded(0)), TF.dropout(x, 0.5)):
        kept = ~torch.isnan(y)
        assert torch.isinf(y[kept]).all()
        assert torch.equal(torch.sign(y[kept]), torch.sign(x[kept]))
        assert 0 < int(kept.sum()) < x.numel()  # both kinds occur at p = 0.5 over 64 values


# -- normalization -------------------------------------------------------------------------------

NORMS: dict[
    str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]
] = {
    "layer_norm": (
        lambda x: F.layer_norm(x, x.shape[1:]),
        lambda x: TF.layer_norm(x, x.shape[1:]),
    ),
    "rms_norm": (
        lambda x: F.rms_norm(x, x.shape[-1]),
        lambda x: TF.rms_norm(x, (x.shape[-1],)),
    ),
    "group_norm": (lambda x: F.group_norm(x, 1), lambda x: TF.group_norm(x, 1)),
    "batch_norm": (
        lambda x: F.batch_norm(x, None, None, training=True),
        lambda x: TF.batch_norm(x, None, None, training=True),
    ),
}


@pytest.mark.parametrize("name", sorted(NORMS))
@SETTINGS
@given(data=images())
def test_norms_keep_shape_dtype_and_match_torch_at_every_scale(name, data):
    x, _ = data
    ours, ref = NORMS[name]
    y = _works_or_config_error(lambda: ours(x))
    if y is None:
        return
    _same_layout(x, y)
    try:
        expected = ref(x)
    except (RuntimeError, ValueError):  # torch refuses (e.g. one value per channel): ours may not
        return
    # Where torch is finite we must be finite and close; where it overflows, so may we.
    finite = torch.isfinite(expected)
    assert torch.isfinite(y[finite]).all()
    torch.testing.assert_close(
        y[finite].double(), expected[finite].double(), rtol=RTOL[x.dtype], atol=RTOL[x.dtype] * 10
    )


@pytest.mark.parametrize("name", ["layer_norm", "group_norm", "batch_norm"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("value", [0.1, 7.0, 1e4])
def test_norm_of_a_constant_input_is_zero_up_to_rounding_never_nan(name, dtype, value):
    """Zero variance: (x - mean) / sqrt(0 + eps) is the rounding of x - mean, as in torch."""
    x = torch.full((4, 3, 2, 2), value, dtype=dtype)
    ours, ref = NORMS[name]
    y = ours(x)
    assert torch.isfinite(y).all()
    assert float(y.abs().max()) <= 0.1
    torch.testing.assert_close(y, ref(x), rtol=0, atol=1e-6)


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    c=st.sampled_from([1.0, 1e3, 1e6]),
)
def test_layer_norm_is_scale_invariant(seed, dtype, c):
    x = _tensor((3, 16), dtype, 1.0, seed)
    torch.testing.assert_close(
        F.layer_norm(x * c, (16,)), F.layer_norm(x, (16,)), rtol=1e-3, atol=1e-3
    )


# -- penalties -----------------------------------------------------------------------------------


@st.composite
def weights(draw: st.DrawFn) -> list[torch.Tensor]:
    count = draw(st.integers(1, 3))  # the empty list has its own test below
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    scale = draw(
        st.sampled_from(
            (0.0, 1e-30, 1.0, 1e15) if dtype == torch.float32 else (0.0, 1e-200, 1.0, 1e100)
        )
    )
    out = []
    for _ in range(count):
        shape = (draw(st.integers(0, 4)), draw(st.integers(1, 4)))
        out.append(_tensor(shape, dtype, scale, draw(st.integers(0, 2**31 - 1))))
    return out


@SETTINGS
@given(params=weights(), lam=st.sampled_from([0.0, 1e-4, 0.5]))
def test_penalties_match_their_formulas(params, lam):
    l1 = _works_or_config_error(lambda: P.l1_penalty(params, lam))
    l2 = _works_or_config_error(lambda: P.l2_penalty(params, lam))
    if l1 is None or l2 is None:
        return
    want1 = lam * sum(
        (p.double().abs().sum() for p in params), torch.tensor(0.0, dtype=torch.float64)
    )
    want2 = lam * sum(
        (p.double().pow(2).sum() for p in params), torch.tensor(0.0, dtype=torch.float64)
    )
    assert float(l1) >= 0 and float(l2) >= 0
    assert math.isclose(float(l1), float(want1), rel_tol=1e-5, abs_tol=1e-30)
    assert math.isclose(float(l2), float(want2), rel_tol=1e-5, abs_tol=1e-30)
    en = P.elastic_net_penalty(params, lam, lam)
    assert math.isclose(float(en), float(want1 + want2), rel_tol=1e-5, abs_tol=1e-30)


@SETTINGS
@given(params=weights(), t=st.sampled_from([0.0, 1e-3, 0.5, 10.0]))
def test_soft_threshold_shrinks_towards_exact_zero(params, t):
    before = [p.clone() for p in params]
    if _works_or_config_error(lambda: P.soft_threshold_(params, t)) is None and params:
        return
    for b, a in zip(before, params):
        assert a.dtype == b.dtype and a.shape == b.shape
        expected = torch.sign(b) * torch.clamp(b.abs() - t, min=0)
        torch.testing.assert_close(a, expected, rtol=1e-6, atol=0)


@SETTINGS
@given(params=weights(), m=st.sampled_from([1e-3, 1.0, 3.0]))
def test_max_norm_caps_every_row(params, m):
    if _works_or_config_error(lambda: P.max_norm_(params, m, dim=0)) is None and params:
        return
    for p in params:
        if p.numel() == 0:
            continue
        norms = p.double().flatten(1).norm(dim=1)
        assert torch.isfinite(p).all()
        assert (norms <= m * (1 + 1e-5)).all(), norms


EMPTY_OK: dict[str, Callable[[], Any]] = {
    "l1_penalty": lambda: P.l1_penalty([], 0.1),
    "l2_penalty": lambda: P.l2_penalty([], 0.1),
    "elastic_net_penalty": lambda: P.elastic_net_penalty([], 0.1, 0.1),
    "elastic_net_grad_": lambda: P.elastic_net_grad_([], [], 0.1, 0.1),
    "soft_threshold_": lambda: P.soft_threshold_([], 0.1),
    "max_norm_": lambda: P.max_norm_([], 1.0),
    "unit_norm_": lambda: P.unit_norm_([]),
}


@pytest.mark.parametrize("name", sorted(EMPTY_OK))
def test_functional_penalties_accept_an_empty_parameter_list(name):
    """A model with no weight matrices selects no parameters: 0 / a no-op, or a ConfigError.

    (max_norm_ and unit_norm_ are no-ops; the public L1/L2/ProximalL1 objects raise a clear
    ConfigError.)
    """
    result = _works_or_config_error(EMPTY_OK[name])
    if isinstance(result, torch.Tensor):
        assert result.numel() == 1 and float(result) == 0.0


# -- augmentations -------------------------------------------------------------------------------

GEOMETRIC: dict[str, Callable[[float], A.Augmentation]] = {
    "rotation": lambda fill: A.RandomRotation(30, fill=fill),
    "translation": lambda fill: A.RandomTranslation(0.3, fill=fill),
    "affine": lambda fill: A.RandomAffine(15, 0.2, (0.8, 1.2), 10, fill=fill),
    "zoom": lambda fill: A.RandomZoom(0.3, fill=fill),
}
OTHERS: dict[str, Callable[[], A.Augmentation]] = {
    "flip": lambda: A.RandomFlip("both", p=0.5),
    "crop": lambda: A.RandomCrop(3, padding=1),
    "erasing": lambda: A.RandomErasing(p=1.0, value=0.0),
    "brightness": lambda: A.RandomBrightness(0.2),
    "contrast": lambda: A.RandomContrast(0.2),
    "noise": lambda: A.RandomGaussianNoise(0.1),
    "compose": lambda: A.Compose([A.RandomRotation(10), A.RandomTranslation(0.1)]),
}


def _all_augs() -> dict[str, Callable[[], A.Augmentation]]:
    out: dict[str, Callable[[], A.Augmentation]] = dict(OTHERS)
    out.update({k: (lambda f=f: f(0.0)) for k, f in GEOMETRIC.items()})
    return out


@pytest.mark.parametrize("name", sorted(_all_augs()))
@SETTINGS
@given(data=images(max_side=8))
def test_augmentations_keep_shape_dtype_and_replay(name, data):
    x, seed = data
    aug = _all_augs()[name]()
    y = _works_or_config_error(lambda: aug(x, generator=seeded(seed)))
    if y is None:
        return
    if name == "crop":
        assert y.shape[:2] == x.shape[:2] and y.shape[2:] == (3, 3) and y.dtype == x.dtype
    else:
        _same_layout(x, y)
    # Same seed, same result; generate_params + apply replays the call.
    assert torch.equal(aug(x, generator=seeded(seed)), y)
    params = aug.generate_params(x.shape, generator=seeded(seed))
    assert torch.equal(aug.apply(x, params), y)
    if name != "noise" and x.numel():
        assert torch.isfinite(y).all() == torch.isfinite(x).all()


@pytest.mark.parametrize("name", sorted(GEOMETRIC))
@SETTINGS
@given(data=images(min_n=1), fill=st.sampled_from([0.0, 1.0]))
def test_resampling_stays_within_the_input_range_and_fill(name, data, fill):
    """Bilinear resampling is a convex combination of pixels and the fill: no overshoot."""
    x, seed = data
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()  # the bound is exact arithmetic; half precision rounds past it
    y = GEOMETRIC[name](fill)(x, generator=seeded(seed))
    lo = min(float(x.min()), fill)
    hi = max(float(x.max()), fill)
    slack = 1e-5 * max(abs(lo), abs(hi), 1e-30)
    assert float(y.min()) >= lo - slack and float(y.max()) <= hi + slack


@pytest.mark.parametrize("name", sorted(GEOMETRIC))
@pytest.mark.parametrize("value", [0.0, 1e-30, 7.0, 1e30])
def test_resampling_a_constant_image_with_the_same_fill_is_constant(name, value):
    x = torch.full((3, 2, 6, 6), value)
    y = GEOMETRIC[name](value)(x, generator=seeded(1))
    torch.testing.assert_close(y, x, rtol=1e-5, atol=0)


# RandomCrop changes the size and Compose has no p of its own: the others, at p = 0.
@pytest.mark.parametrize("name", sorted(set(_all_augs()) - {"crop", "compose"}))
def test_probability_zero_is_the_identity(name):
    aug = _all_augs()[name]()
    aug_p0 = type(aug)(**{**_init_kwargs(aug), "p": 0.0})
    x = torch.rand(4, 2, 5, 5, generator=seeded(3))
    assert torch.equal(aug_p0(x, generator=seeded(0)), x)


def _init_kwargs(aug: A.Augmentation) -> dict[str, Any]:
    """Keyword arguments that rebuild ``aug`` (its constructor's names that it stores)."""
    import inspect

    sig = inspect.signature(type(aug).__init__)
    out = {}
    for name in list(sig.parameters)[1:]:
        if hasattr(aug, name):
            out[name] = getattr(aug, name)
    return out


@SETTINGS
@given(data=images(), flip=st.sampled_from(["horizontal", "vertical", "both"]))
def test_flip_twice_is_the_identity(data, flip):
    x, _ = data
    aug = A.RandomFlip(flip, p=1.0)
    assert torch.equal(aug(aug(x)), x)


@pytest.mark.parametrize("mixer", ["mixup", "cutmix", "tabular_mixup"])
@SETTINGS
@given(
    n=st.integers(0, 6),
    k=st.integers(2, 5),
    alpha=st.sampled_from([0.1, 1.0, 10.0]),
    eps=st.sampled_from([0.0, 0.1]),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16]),
    seed=st.integers(0, 2**31 - 1),
)
def test_mixing_gives_soft_labels_that_sum_to_one(mixer, n, k, alpha, eps, dtype, seed):
    if mixer == "tabular_mixup":
        m: Any = A.MixUp(alpha, num_classes=k, label_smoothing=eps, layout="tabular")
        x = _tensor((n, 5), dtype, 1.0, seed)
    else:
        cls = A.MixUp if mixer == "mixup" else A.CutMix
        m = cls(alpha, num_classes=k, label_smoothing=eps)
        x = _tensor((n, 2, 6, 6), dtype, 1.0, seed)
    y = torch.randint(0, k, (n,), generator=seeded(seed))
    out = _works_or_config_error(lambda: m.mix(x, y, generator=seeded(seed)))
    if out is None:
        return
    xm, ys = out
    _same_layout(x, xm)
    assert ys.shape == (n, k) and ys.is_floating_point()
    if n:
        torch.testing.assert_close(
            ys.double().sum(1), torch.ones(n, dtype=torch.float64), rtol=0, atol=1e-3
        )
        assert float(ys.min()) >= eps / k - 1e-3 and float(ys.max()) <= 1 + 1e-3
        assert torch.isfinite(xm).all()


@SETTINGS
@given(
    n=st.integers(0, 6),
    dtype=st.sampled_from(DTYPES),
    std=st.sampled_from([0.0, 0.1, 1.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_tabular_noise_keeps_shape_dtype(n, dtype, std, seed):
    x = _tensor((n, 4), dtype, 1.0, seed)
    aug = TB.FeatureNoise(std)
    y = _works_or_config_error(lambda: aug(x, generator=seeded(seed)))
    if y is None:
        return
    _same_layout(x, y)
    if std == 0.0:
        assert torch.equal(y, x)
    assert torch.isfinite(y).all()
