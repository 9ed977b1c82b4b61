"""RandAugment and TrivialAugment: per-operation parity with kornia, replay, draws, dtypes, errors.

Parity tolerances (float32 images in [0, 1], the same inputs and magnitudes):

* exact (0): Posterize, Solarize, Equalize, TranslateX/Y;
* 1e-6: Brightness, Color, Contrast, Sharpness (the same blend, operations in another order);
* 1e-5: Rotate, ShearX/Y (the same pixel map, a grid built another way), AutoContrast (kornia
  divides by ``max - min + 1e-6``, we by ``max - min``).
"""

from __future__ import annotations

import math

import pytest
import torch

import reglab.augment as A
from reglab.augment.auto import OPERATIONS
from reglab.errors import ConfigError
from tests.checklist import AugmentationCase, Check, checklist

K = pytest.importorskip("kornia.augmentation")
KE = pytest.importorskip("kornia.enhance")
KG = pytest.importorskip("kornia.geometry.transform")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _one_op(
    name: str, magnitudes: list[float], x: torch.Tensor, aug: A.RandAugment | None = None
) -> torch.Tensor:
    """Apply operation ``name`` with the given per-sample magnitudes through ``apply``."""
    aug = aug or A.RandAugment(1, 9)
    n = x.shape[0]
    draws = {
        "apply": torch.ones(n, dtype=torch.bool),
        "op": torch.full((n, 1), OPERATIONS.index(name)),
        "magnitude": torch.tensor(magnitudes, dtype=torch.float32).view(n, 1),
    }
    return aug.apply(x, draws)


X = torch.rand(4, 3, 16, 20, generator=_gen(0))
ENHANCE = [0.3, -0.5, 0.9, 0.0]
FACTORS = torch.tensor(ENHANCE) + 1


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> None:
    assert a.shape == b.shape
    err = (a - b).abs().max().item()
    assert err <= tol, f"max |ours - kornia| = {err:.3g} > {tol}"


# ------------------------------------------------------------------------------ parity
@pytest.mark.parametrize(
    ("name", "reference", "tol"),
    [
        ("Brightness", lambda x: KE.adjust_brightness_accumulative(x, FACTORS), 1e-6),
        ("Color", lambda x: KE.adjust_saturation_with_gray_subtraction(x, FACTORS), 1e-6),
        ("Contrast", lambda x: KE.adjust_contrast_with_mean_subtraction(x, FACTORS), 1e-6),
        ("Sharpness", lambda x: KE.sharpness(x, FACTORS), 1e-6),
    ],
)
def test_enhance_operations_match_kornia(name, reference, tol):
    _close(_one_op(name, ENHANCE, X), reference(X), tol)


def test_posterize_matches_kornia():
    for bits in ([4, 1, 7, 8], [0, 2, 3, 6], [5, 5, 5, 5]):
        ours = _one_op("Posterize", [float(b) for b in bits], X)
        _close(ours, KE.posterize(X, torch.tensor(bits)), 0.0)


def test_solarize_matches_kornia():
    t = [0.5, 0.2, 1.0, 0.0]
    _close(_one_op("Solarize", t, X), KE.solarize(X, torch.tensor(t)), 0.0)


def test_autocontrast_and_equalize_match_kornia():
    _close(_one_op("AutoContrast", ENHANCE, X), KE.normalize_min_max(X), 1e-5)
    _close(_one_op("Equalize", ENHANCE, X), KE.equalize(X), 0.0)
    # A low-contrast image, where equalization moves values a long way.
    x = 0.4 + 0.1 * X
    _close(_one_op("Equalize", ENHANCE, x), KE.equalize(x), 0.0)


def test_rotate_matches_kornia():
    deg = [10.0, -25.0, 30.0, 0.0]
    ref = KG.rotate(X, torch.tensor(deg), align_corners=True)
    _close(_one_op("Rotate", deg, X), ref, 1e-5)


@pytest.mark.parametrize("axis", ["X", "Y"])
def test_shear_matches_kornia_random_shear(axis):
    """Shear factor ``s`` is kornia's RandomShear at ``atan(s)`` degrees (about the centre)."""
    for s in (0.3, -0.2, 0.99):
        deg = math.degrees(math.atan(s))
        bounds = (deg, deg, 0.0, 0.0) if axis == "X" else (0.0, 0.0, deg, deg)
        ref = K.RandomShear(bounds, p=1.0, align_corners=True)(X)
        _close(_one_op(f"Shear{axis}", [s] * 4, X), ref, 1e-5)


@pytest.mark.parametrize("axis", ["X", "Y"])
def test_translate_matches_kornia(axis):
    shifts = [3.0, -5.0, 0.0, 14.0]
    pairs = [[s, 0.0] if axis == "X" else [0.0, s] for s in shifts]
    ref = KG.translate(X, torch.tensor(pairs), align_corners=True)
    # Whole-pixel shifts are exact copies; kornia resamples them bilinearly (equal within 1e-5).
    _close(_one_op(f"Translate{axis}", shifts, X), ref, 1e-5)
    ours = _one_op(f"Translate{axis}", shifts, X)
    dim = -1 if axis == "X" else -2
    assert torch.equal(
        ours[0].narrow(dim, 3, X.shape[dim] - 3), X[0].narrow(dim, 0, X.shape[dim] - 3)
    )


def test_identity_and_skipped_samples_are_unchanged():
    assert torch.equal(_one_op("Identity", [0.0] * 4, X), X)
    aug = A.RandAugment(2, 9, p=0.0)
    assert torch.equal(aug(X, _gen(0)), X)


def test_fill_value():
    x = torch.zeros(1, 3, 8, 8)
    y = _one_op("TranslateX", [2.0], x, A.RandAugment(1, 9, fill=(0.1, 0.2, 0.3)))
    assert torch.allclose(
        y[0, :, :, :2], torch.tensor([0.1, 0.2, 0.3]).view(3, 1, 1).expand(3, 8, 2)
    )
    assert torch.equal(y[0, :, :, 2:], x[0, :, :, 2:])


# ------------------------------------------------------------------------------ magnitudes
def test_randaugment_magnitudes_are_torchvisions():
    t = A.RandAugment(2, 9).magnitudes(32, 32)
    names = list(OPERATIONS)
    assert t[names.index("ShearX"), 9].item() == pytest.approx(0.09)
    assert t[names.index("Rotate"), 30].item() == pytest.approx(30.0)
    assert t[names.index("Brightness"), 30].item() == pytest.approx(0.9)
    # 150/331 * 32 = 14.5 pixels at the top bin, truncated to whole pixels.
    assert t[names.index("TranslateX"), 30].item() == 14.0
    assert t[names.index("TranslateX"), 9].item() == math.trunc(9 / 30 * 150 / 331 * 32)
    # Posterize: 8 bits at bins 0-3, 4 bits at the top (round(8 - k / 7.5)).
    assert t[names.index("Posterize"), :4].tolist() == [8.0] * 4
    assert t[names.index("Posterize"), 30].item() == 4.0
    assert (
        t[names.index("Solarize"), 0].item() == 1.0 and t[names.index("Solarize"), 30].item() == 0.0
    )


def test_trivialaugment_magnitudes_are_torchvisions_wide():
    t = A.TrivialAugment().magnitudes(32, 32)
    names = list(OPERATIONS)
    assert t[names.index("ShearY"), 30].item() == pytest.approx(0.99)
    assert t[names.index("Rotate"), 30].item() == pytest.approx(135.0)
    assert t[names.index("TranslateY"), 30].item() == 32.0
    assert t[names.index("Posterize"), 30].item() == 2.0
    assert t[names.index("Color"), 30].item() == pytest.approx(0.99)


# ------------------------------------------------------------------------------ draws
def test_replay_and_same_seed_same_bits():
    x = torch.rand(64, 3, 16, 16, generator=_gen(1))
    for aug in (A.RandAugment(2, 9), A.TrivialAugment(), A.RandAugment(3, 30)):
        draws = aug.generate_params(x.shape, _gen(5))
        assert torch.equal(aug.apply(x, draws), aug(x, _gen(5)))
        assert torch.equal(aug(x, _gen(5)), aug(x, _gen(5)))
        assert not torch.equal(aug(x, _gen(6)), aug(x, _gen(5)))


def test_operation_frequencies_are_uniform_per_sample():
    """Seeded: 2 x 7000 draws; each of the 14 operations within 5 standard deviations of 1000."""
    draws = A.RandAugment(2, 9).generate_params((7000, 3, 32, 32), _gen(0))
    ops = draws["op"]
    assert ops.shape == (7000, 2)
    counts = torch.bincount(ops.flatten(), minlength=14).double()
    expected = ops.numel() / 14
    sd = math.sqrt(ops.numel() * (1 / 14) * (13 / 14))
    assert ((counts - expected).abs() <= 5 * sd).all(), counts.tolist()
    # Per sample, not per batch: the two rounds and the samples differ.
    assert (ops[:, 0] != ops[:, 1]).float().mean().item() == pytest.approx(13 / 14, abs=0.02)
    first = A.RandAugment(2, 9).generate_params((16, 3, 8, 8), _gen(3))["op"][:, 0]
    assert len(set(first.tolist())) > 1


def test_signs_and_trivialaugment_bins():
    """Signed operations: half negative (within 5 sd); TrivialAugment bins uniform over 31."""
    aug = A.TrivialAugment()
    n = 31 * 400
    draws = aug.generate_params((n, 3, 32, 32), _gen(2))
    op, mag = draws["op"][:, 0], draws["magnitude"][:, 0]
    rot = mag[op == OPERATIONS.index("Rotate")]
    negative = (rot < 0).double().mean().item()
    nonzero = (rot != 0).double().mean().item()
    sd = math.sqrt(0.25 / rot.numel())
    assert abs(negative - 0.5 * nonzero) <= 5 * sd
    bins = (rot.abs() / 4.5).round().long()  # 135 / 30 degrees per bin
    counts = torch.bincount(bins, minlength=31).double()
    expected = rot.numel() / 31
    sd_bin = math.sqrt(rot.numel() * (1 / 31) * (30 / 31))
    assert ((counts - expected).abs() <= 5 * sd_bin).all()
    # Unsigned operations never go negative.
    for name in ("Posterize", "Solarize"):
        assert (mag[op == OPERATIONS.index(name)] >= 0).all()


def test_same_on_batch_draws_one_policy():
    draws = A.RandAugment(2, 9, same_on_batch=True).generate_params((8, 3, 8, 8), _gen(0))
    assert (draws["op"] == draws["op"][0]).all()
    assert (draws["magnitude"] == draws["magnitude"][0]).all()


# ------------------------------------------------------------------------------ dtypes, channels
def test_uint8_in_and_out():
    x = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8, generator=_gen(0))
    aug = A.RandAugment(2, 9, value_range=(0, 255))
    y = aug(x, _gen(1))
    assert y.dtype == torch.uint8 and y.shape == x.shape
    assert torch.equal(aug.apply(x, aug.generate_params(x.shape, _gen(1))), y)
    # Posterize on 8-bit levels keeps the high bits exactly; solarize inverts at the threshold.
    poster = _one_op("Posterize", [4.0] * 32, x, aug)
    assert torch.equal(poster, x & 0xF0)
    sol = _one_op("Solarize", [0.5] * 32, x, aug)
    assert torch.equal(sol, torch.where(x.float() >= 127.5, 255 - x, x))
    # Equalize of uint8 equals kornia's on x / 255.
    eq = _one_op("Equalize", [0.0] * 32, x, aug)
    ref = (KE.equalize(x.float() / 255) * 255).round().to(torch.uint8)
    assert torch.equal(eq, ref)


def test_uint8_without_value_range_is_refused():
    x = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ConfigError, match="value_range=\\(low, high\\)"):
        A.RandAugment()(x)


def test_other_value_range_matches_unit_range():
    """Images in [-1, 1] (fill -1, black) give the [0, 1] result mapped to [-1, 1].

    Up to float rounding; an 8-bit level (Posterize, Equalize) computed from the rescaled value
    may land one level lower, so 99% of values agree within 1e-5 and all within 2 levels.
    """
    x = torch.rand(64, 3, 12, 12, generator=_gen(4))
    aug01 = A.RandAugment(2, 14)
    aug11 = A.RandAugment(2, 14, value_range=(-1.0, 1.0), fill=-1.0)
    draws = aug01.generate_params(x.shape, _gen(0))
    err = (aug11.apply(x * 2 - 1, draws) - (aug01.apply(x, draws) * 2 - 1)).abs()
    assert (err <= 1e-5).double().mean().item() >= 0.99
    assert err.max().item() <= 2 * 2 / 255 + 1e-5


def test_grey_images():
    x = torch.rand(6, 1, 12, 12, generator=_gen(7))
    # Color leaves grey images unchanged; Contrast blends towards the image's mean.
    assert torch.equal(_one_op("Color", [0.9] * 6, x), x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(_one_op("Contrast", [0.5] * 6, x), (mean + 1.5 * (x - mean)).clamp(0, 1))
    for aug in (A.RandAugment(2, 9), A.TrivialAugment()):
        y = aug(x, _gen(0))
        assert y.shape == x.shape and torch.equal(
            aug.apply(x, aug.generate_params(x.shape, _gen(0))), y
        )
    # A single (C, H, W) image.
    assert A.TrivialAugment()(x[0], _gen(0)).shape == x[0].shape


def test_float64_and_small_images():
    x = torch.rand(8, 3, 2, 2, dtype=torch.float64, generator=_gen(8))
    y = A.RandAugment(3, 20)(x, _gen(0))
    assert y.dtype == torch.float64 and y.shape == x.shape


# ------------------------------------------------------------------------------ errors
def _msg(param: str, owner: str, constraint: str, got: str) -> str:
    return f"The {param!r} parameter of {owner} must be {constraint}. Got {got} instead."


def test_magnitude_out_of_range_names_the_valid_range():
    with pytest.raises(ConfigError) as e:
        A.RandAugment(2, 31)
    assert str(e.value) == _msg("magnitude", "RandAugment", "an int in [0, 30]", "31")
    with pytest.raises(ConfigError) as e:
        A.RandAugment(2, 12, num_magnitude_bins=10)
    assert str(e.value) == _msg("magnitude", "RandAugment", "an int in [0, 9]", "12")
    with pytest.raises(ConfigError) as e:
        A.RandAugment(2, -1)
    assert str(e.value) == _msg("magnitude", "RandAugment", "an int in [0, inf)", "-1")


def test_other_bad_arguments():
    with pytest.raises(ConfigError, match="'num_ops' parameter of RandAugment"):
        A.RandAugment(0)
    with pytest.raises(ConfigError, match="'num_magnitude_bins' parameter of TrivialAugment"):
        A.TrivialAugment(1)
    with pytest.raises(ConfigError, match=r"1 or 3 channels \(.*\)\. Got 4 channels instead"):
        A.TrivialAugment()(torch.rand(2, 4, 8, 8))
    aug = A.RandAugment()
    draws = aug.generate_params((2, 3, 8, 8), _gen(0))
    draws["op"] = draws["op"] + 20
    with pytest.raises(ConfigError, match=r"draws\['op'\] as integer indices in \[0, 13\]"):
        aug.apply(torch.rand(2, 3, 8, 8), draws)
    with pytest.raises(ConfigError, match="draw them with generate_params"):
        aug.apply(torch.rand(3, 3, 8, 8), aug.generate_params((2, 3, 8, 8), _gen(0)))


# ------------------------------------------------------------------------------ checklist
AUTO_CASES = [
    AugmentationCase(
        "RandAugment",
        lambda: A.RandAugment(2, 9),
        repr_contains=["num_ops=2", "magnitude=9", "num_magnitude_bins=31"],
        bad=[
            (
                lambda: A.RandAugment(2, 31),
                _msg("magnitude", "RandAugment", "an int in [0, 30]", "31"),
            ),
            (lambda: A.RandAugment(0), _msg("num_ops", "RandAugment", "an int in [1, inf)", "0")),
        ],
    ),
    AugmentationCase(
        "TrivialAugment",
        lambda: A.TrivialAugment(),
        repr_contains=["num_magnitude_bins=31", "interpolation='bilinear'"],
        bad=[
            (
                lambda: A.TrivialAugment(num_magnitude_bins=1),
                _msg("num_magnitude_bins", "TrivialAugment", "an int in [2, inf)", "1"),
            )
        ],
    ),
]


@pytest.mark.parametrize(("case", "check"), checklist(AUTO_CASES))
def test_checklist(case: AugmentationCase, check: Check) -> None:
    check(case)
