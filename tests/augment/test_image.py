"""Image augmentations: formulas (NumPy oracles), kornia parity, fused resampling, replay, errors."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reglab.augment as A
from reglab import ConfigError, _rng
from tests.helpers import seeded

K = pytest.importorskip("kornia.augmentation", reason="kornia is the dev-only parity oracle")


def image(n: int = 6, c: int = 3, h: int = 11, w: int = 13, dtype=torch.float64, seed=0):
    return torch.rand(n, c, h, w, generator=seeded(seed), dtype=dtype)


# ------------------------------------------------------------------------------ NumPy oracle
def np_warp(img: np.ndarray, m: np.ndarray, fill: float = 0.0, nearest: bool = False) -> np.ndarray:
    """Resample (C, H, W) under the forward pixel map m (3x3): out(p) = in(m^-1 p), from the formula.

    Bilinear weights over the four neighbouring pixel centres; neighbours outside the image
    contribute ``fill``.
    """
    c, h, w = img.shape
    inv = np.linalg.inv(m)
    ys, xs = np.mgrid[0:h, 0:w]
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)])
    sx, sy, _ = inv @ pts

    def px(yy, xx):
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        vals = np.full((c, yy.size), fill, dtype=np.float64)
        vals[:, inside] = img[:, yy[inside], xx[inside]]
        return vals

    if nearest:
        return px(np.round(sy).astype(int), np.round(sx).astype(int)).reshape(c, h, w)
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    wx, wy = sx - x0, sy - y0
    out = (
        px(y0, x0) * (1 - wx) * (1 - wy)
        + px(y0, x0 + 1) * wx * (1 - wy)
        + px(y0 + 1, x0) * (1 - wx) * wy
        + px(y0 + 1, x0 + 1) * wx * wy
    )
    return out.reshape(c, h, w)


def rot(deg: float, h: int, w: int) -> np.ndarray:
    """Counter-clockwise (on screen, y down) rotation about the centre, written from scratch."""
    t = math.radians(deg)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    c_, s_ = math.cos(t), math.sin(t)
    to_c = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1.0]])
    back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1.0]])
    r = np.array([[c_, s_, 0], [-s_, c_, 0], [0, 0, 1.0]])
    return back @ r @ to_c


def shift(tx: float, ty: float) -> np.ndarray:
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1.0]])


def hflip(w: int) -> np.ndarray:
    return np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1.0]])


# ------------------------------------------------------------------------------ formulas
def test_rotation_matches_numpy_oracle():
    x = image()
    aug = A.RandomRotation(40.0)
    p = aug.generate_params(x.shape, seeded(1), dtype=torch.float64)
    y = aug.apply(x, p)
    for i in range(x.shape[0]):
        ref = np_warp(x[i].numpy(), rot(float(p["angle"][i]), 11, 13))
        np.testing.assert_allclose(y[i].numpy(), ref, atol=1e-12)


def test_rotation_nearest_and_fill_match_oracle():
    x = image()
    aug = A.RandomRotation(40.0, interpolation="nearest", fill=0.5)
    p = aug.generate_params(x.shape, seeded(2), dtype=torch.float64)
    y = aug.apply(x, p)
    for i in range(x.shape[0]):
        ref = np_warp(x[i].numpy(), rot(float(p["angle"][i]), 11, 13), fill=0.5, nearest=True)
        np.testing.assert_allclose(y[i].numpy(), ref, atol=1e-12)


def test_translation_fill_per_channel_matches_oracle():
    x = image(c=3)
    aug = A.RandomTranslation(0.3, fill=(0.1, 0.2, 0.3))
    p = aug.generate_params(x.shape, seeded(3), dtype=torch.float64)
    y = aug.apply(x, p)
    for i in range(x.shape[0]):
        tx, ty = p["translate"][i].tolist()
        for ch, f in enumerate((0.1, 0.2, 0.3)):
            ref = np_warp(x[i, ch : ch + 1].numpy(), shift(tx, ty), fill=f)
            np.testing.assert_allclose(y[i, ch].numpy(), ref[0], atol=1e-12)


def test_rotation_by_90_moves_right_of_centre_to_above():
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[0, 0, 2, 4] = 1.0
    y = A.RandomRotation((90.0, 90.0)).apply(
        x, {"apply": torch.tensor([True]), "angle": torch.tensor([90.0])}
    )
    assert y[0, 0, 0, 2].item() == pytest.approx(1.0)
    assert y.sum().item() == pytest.approx(1.0)


def test_zoom_matches_oracle():
    x = image()
    aug = A.RandomZoom((0.7, 1.4))
    p = aug.generate_params(x.shape, seeded(4), dtype=torch.float64)
    y = aug.apply(x, p)
    for i in range(x.shape[0]):
        s = float(p["scale"][i])
        cx, cy = 6.0, 5.0
        m = np.array([[s, 0, cx - s * cx], [0, s, cy - s * cy], [0, 0, 1.0]])
        np.testing.assert_allclose(y[i].numpy(), np_warp(x[i].numpy(), m), atol=1e-12)


def test_crop_matches_slicing_of_padded_image():
    x = image(n=5, h=8, w=9)
    aug = A.RandomCrop((6, 7), padding=2, fill=-1.0)
    p = aug.generate_params(x.shape, seeded(5))
    y = aug.apply(x, p)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=-1.0)
    for i in range(5):
        oy, ox = p["offset"][i].tolist()
        np.testing.assert_array_equal(y[i].numpy(), padded[i, :, oy : oy + 6, ox : ox + 7])
    # offsets cover the whole room (0..12-6, 0..13-7) over many draws
    big = aug.generate_params((2000, 1, 8, 9), seeded(6))["offset"]
    assert big[:, 0].min() == 0 and big[:, 0].max() == 6
    assert big[:, 1].min() == 0 and big[:, 1].max() == 6


def test_crop_not_applied_takes_centre_window():
    x = image(n=2, h=8, w=8)
    aug = A.RandomCrop(8, padding=3, p=0.0)
    assert torch.equal(aug(x, seeded()), x)


def test_erasing_box_statistics_and_values():
    aug = A.RandomErasing(scale=(0.1, 0.2), ratio=(0.5, 2.0), value=(1.0, 2.0), p=1.0)
    p = aug.generate_params((4000, 2, 40, 40), seeded(7))
    y0, x0, bh, bw = p["box"].unbind(1)
    area = (bh * bw).double() / 1600
    # rounding h and w to whole pixels moves the area a little outside [0.1, 0.2]
    assert area.min() > 0.08 and area.max() < 0.23
    ratio = bh.double() / bw.double()
    assert ratio.min() > 0.4 and ratio.max() < 2.5
    assert (y0 + bh <= 40).all() and (x0 + bw <= 40).all() and (y0 >= 0).all()
    x = torch.zeros(3, 2, 10, 10)
    pp = aug.generate_params(x.shape, seeded(8))
    out = aug.apply(x, pp)
    for i in range(3):
        ty, tx, th, tw = pp["box"][i].tolist()
        box = out[i, :, ty : ty + th, tx : tx + tw]
        assert torch.all(box[0] == 1.0) and torch.all(box[1] == 2.0)
        assert out[i].ne(0).sum() == 2 * th * tw


def test_contrast_and_brightness_formulas():
    x = image(dtype=torch.float64)
    c = A.RandomContrast((0.5, 1.5))
    p = c.generate_params(x.shape, seeded(9), dtype=torch.float64)
    xn = x.numpy()
    mean = xn.mean(axis=(2, 3), keepdims=True)
    ref = (xn - mean) * p["factor"].numpy()[:, None, None, None] + mean
    np.testing.assert_allclose(c.apply(x, p).numpy(), ref, atol=1e-12)
    b = A.RandomBrightness(0.3)
    pb = b.generate_params(x.shape, seeded(10), dtype=torch.float64)
    np.testing.assert_allclose(
        b.apply(x, pb).numpy(), xn + pb["delta"].numpy()[:, None, None, None], atol=1e-15
    )
    clipped = A.RandomBrightness((0.8, 0.8), value_range=(0.0, 1.0))(x)
    assert clipped.max() <= 1.0
    torch.testing.assert_close(clipped, (x + 0.8).clamp(0, 1))


def test_gaussian_noise_statistics_and_thread_independence():
    x = torch.zeros(64, 3, 32, 32)
    y = A.RandomGaussianNoise(0.2)(x, seeded(11))
    # 196608 draws: sd of the sample mean 0.2/443 = 4.5e-4; of the sample std about 3.2e-4
    assert abs(y.mean().item()) < 3e-3
    assert y.std().item() == pytest.approx(0.2, abs=2e-3)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = _rng.normal((64, 3, 32, 32), 0.2, seeded(12))
        torch.set_num_threads(2)
        b = _rng.normal((64, 3, 32, 32), 0.2, seeded(12))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(a, b)
    # streams are independent: no correlation between the first and second half
    flat = a.flatten()
    half = flat.numel() // 2
    corr = torch.corrcoef(torch.stack([flat[:half], flat[half : 2 * half]]))[0, 1]
    assert abs(corr.item()) < 0.01


def test_gaussian_noise_probability_zeroes_noise_of_skipped_samples():
    aug = A.RandomGaussianNoise(1.0, p=0.5)
    x = torch.zeros(400, 1, 4, 4)
    p = aug.generate_params(x.shape, seeded(13))
    y = aug.apply(x, p)
    touched = y.flatten(1).ne(0).any(1)
    assert torch.equal(touched, p["apply"])
    assert 160 < int(touched.sum()) < 240  # Binomial(400, 0.5): mean 200, sd 10


# ------------------------------------------------------------------------------ kornia parity
def _k_params(kaug, x):
    kaug(x)
    return dict(kaug._params)


@pytest.mark.parametrize("align_corners", [True, False])
def test_rotation_parity_with_kornia(align_corners):
    x = image()
    aug = A.RandomRotation(30.0)
    p = aug.generate_params(x.shape, seeded(20), dtype=torch.float64)
    k = K.RandomRotation(30.0, p=1.0, align_corners=align_corners)
    kp = _k_params(k, x)
    kp["degrees"] = p["angle"].clone()
    torch.testing.assert_close(aug.apply(x, p), k(x, params=kp), atol=1e-12, rtol=0)


def test_rotation_nearest_parity_with_kornia():
    x = image()
    aug = A.RandomRotation(30.0, interpolation="nearest")
    p = aug.generate_params(x.shape, seeded(21), dtype=torch.float64)
    k = K.RandomRotation(30.0, p=1.0, resample="nearest")
    kp = _k_params(k, x)
    kp["degrees"] = p["angle"].clone()
    torch.testing.assert_close(aug.apply(x, p), k(x, params=kp), atol=1e-12, rtol=0)


@pytest.mark.parametrize("fill", [0.0, 0.25])
def test_affine_parity_with_kornia_opposite_angle(fill):
    x = image()
    aug = A.RandomAffine(20.0, translate=0.2, scale=(0.8, 1.2), shear=(-10, 10, -5, 5), fill=fill)
    p = aug.generate_params(x.shape, seeded(22), dtype=torch.float64)
    extra = {"padding_mode": "fill", "fill_value": torch.tensor([fill] * 3)} if fill else {}
    k = K.RandomAffine(20.0, (0.2, 0.2), (0.8, 1.2), (-10, 10, -5, 5), p=1.0, **extra)
    kp = _k_params(k, x)
    kp["angle"] = -p["angle"]  # kornia's RandomAffine turns clockwise for a positive angle
    kp["translations"] = p["translate"].clone()
    kp["scale"] = p["scale"][:, None].expand(-1, 2).clone()
    kp["shear_x"], kp["shear_y"] = p["shear"][:, 0].clone(), p["shear"][:, 1].clone()
    torch.testing.assert_close(aug.apply(x, p), k(x, params=kp), atol=1e-12, rtol=0)


def test_translation_parity_with_kornia():
    x = image()
    aug = A.RandomTranslation((0.2, 0.3))
    p = aug.generate_params(x.shape, seeded(23), dtype=torch.float64)
    k = K.RandomTranslate(0.2, 0.3, p=1.0)
    kp = _k_params(k, x)
    kp["translate_x"], kp["translate_y"] = (
        p["translate"][:, 0].clone(),
        p["translate"][:, 1].clone(),
    )
    torch.testing.assert_close(aug.apply(x, p), k(x, params=kp), atol=1e-12, rtol=0)


@pytest.mark.parametrize("mode", ["horizontal", "vertical"])
def test_flip_parity_with_kornia(mode):
    x = image()
    aug = A.RandomFlip(mode, p=0.5)
    p = aug.generate_params(x.shape, seeded(24))
    k = K.RandomHorizontalFlip(p=0.5) if mode == "horizontal" else K.RandomVerticalFlip(p=0.5)
    kp = _k_params(k, x)
    kp["batch_prob"] = p[mode].to(torch.float32)
    assert torch.equal(aug.apply(x, p), k(x, params=kp))


def test_noise_erasing_brightness_parity_with_kornia():
    x = image(dtype=torch.float32)
    noise = A.RandomGaussianNoise(0.1)
    p = noise.generate_params(x.shape, seeded(25))
    k = K.RandomGaussianNoise(std=0.1, p=1.0)
    kp = _k_params(k, x)
    kp["gaussian_noise"] = p["noise"]
    assert torch.equal(noise.apply(x, p), k(x, params=kp))

    er = A.RandomErasing(p=1.0, value=0.5)
    pe = er.generate_params(x.shape, seeded(26))
    k = K.RandomErasing(p=1.0, value=0.5)
    kp = _k_params(k, x)
    y0, x0, bh, bw = pe["box"].float().unbind(1)
    kp.update(xs=x0, ys=y0, widths=bw, heights=bh, values=torch.full((6,), 0.5))
    assert torch.equal(er.apply(x, pe), k(x, params=kp))

    br = A.RandomBrightness(0.3, value_range=(0.0, 1.0))
    pb = br.generate_params(x.shape, seeded(27))
    k = K.RandomBrightness((0.7, 1.3), p=1.0)
    kp = _k_params(k, x)
    kp["brightness_factor"] = pb["delta"] + 1
    torch.testing.assert_close(br.apply(x, pb), k(x, params=kp), atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------ Compose fusion
def _pipeline():
    return A.Compose([A.RandomFlip(p=0.5), A.RandomRotation(15.0), A.RandomTranslation(0.1)])


def test_compose_resamples_once_and_equals_hand_composed_matrix():
    x = image(n=8)
    aug = _pipeline()
    p = aug.generate_params(x.shape, seeded(30), dtype=torch.float64)
    with mock.patch.object(F, "grid_sample", wraps=F.grid_sample) as spy:
        y = aug.apply(x, p)
    assert spy.call_count == 1
    for i in range(8):
        m = hflip(13) if p["0.horizontal"][i] else np.eye(3)
        m = shift(*p["2.translate"][i].tolist()) @ rot(float(p["1.angle"][i]), 11, 13) @ m
        np.testing.assert_allclose(y[i].numpy(), np_warp(x[i].numpy(), m), atol=1e-12)


def test_compose_interpolates_once_not_three_times():
    x = image(n=8)
    aug = _pipeline()
    p = aug.generate_params(x.shape, seeded(31), dtype=torch.float64)
    fused = aug.apply(x, p)
    with mock.patch.object(F, "grid_sample", wraps=F.grid_sample) as spy:
        step = x
        for i, t in enumerate(aug.transforms):
            sub = {k.split(".", 1)[1]: v for k, v in p.items() if k.startswith(f"{i}.")}
            step = t.apply(step, sub)
    # the flip copies pixels exactly (no resampling); rotation and translation interpolate once each
    assert [c.kwargs["mode"] for c in spy.call_args_list] == ["bilinear", "bilinear"]
    # one resampling blurs less: the fused output keeps more of the image's variance
    inside = (slice(None), slice(None), slice(3, 8), slice(3, 10))
    assert fused[inside].var() > step[inside].var()


def test_flip_only_runs_take_the_exact_path():
    x = image(n=10)
    aug = A.Compose([A.RandomFlip("horizontal", p=0.5), A.RandomFlip("both", p=0.5)])
    p = aug.generate_params(x.shape, seeded(32))
    with mock.patch.object(F, "grid_sample", wraps=F.grid_sample) as spy:
        y = aug.apply(x, p)
    # exact copies of the flipped samples: no resampling at all
    assert spy.call_count == 0
    for i in range(10):
        ref = x[i]
        if bool(p["0.horizontal"][i]) ^ bool(p["1.horizontal"][i]):
            ref = ref.flip(-1)
        if p["1.vertical"][i]:
            ref = ref.flip(-2)
        assert torch.equal(y[i], ref)


def test_compose_breaks_runs_on_different_settings_and_non_geometric():
    aug = A.Compose(
        [
            A.RandomFlip(),
            A.RandomRotation(10.0),
            A.RandomTranslation(0.1, interpolation="nearest"),
            A.RandomGaussianNoise(0.1),
            A.RandomZoom(0.1),
            A.RandomAffine(5.0),
        ]
    )
    assert aug._segments == [[0, 1], [2], [3], [4, 5]]
    x = image(n=4)
    with mock.patch.object(F, "grid_sample", wraps=F.grid_sample) as spy:
        aug(x, seeded(33))
    assert spy.call_count == 3


def test_compose_with_crop_and_noise_replays_and_tracks_shape():
    aug = A.Compose(
        [
            A.RandomCrop(8, padding=2),
            A.RandomRotation(10.0),
            A.RandomGaussianNoise(0.05),
            A.RandomErasing(),
        ]
    )
    x = image(n=5, h=10, w=10)
    y = aug(x, seeded(34))
    assert y.shape == (5, 3, 8, 8)
    p = aug.generate_params(x.shape, seeded(34))
    assert p["2.noise"].shape == (5, 3, 8, 8)
    assert torch.equal(aug.apply(x, p), y)


def test_compose_rejects_mixing_and_non_augmentations():
    with pytest.raises(ConfigError) as e:
        A.Compose([A.RandomFlip(), A.MixUp(0.2, num_classes=3)])
    assert str(e.value) == (
        "Compose takes augmentations of the input only; MixUp mixes labels: call its mix(x, y) "
        "on the batch after the augmentations."
    )
    with pytest.raises(ConfigError) as e:
        A.Compose([A.RandomFlip(), torch.nn.Identity()])
    assert str(e.value) == (
        "The 'transforms' parameter of Compose must be a list of augmentations. "
        "Got an element of type Identity instead."
    )


# ------------------------------------------------------------------------------ replay, independence, p
ALL = {
    "flip": lambda: A.RandomFlip("both"),
    "rotation": lambda: A.RandomRotation(20.0),
    "translation": lambda: A.RandomTranslation(0.2),
    "zoom": lambda: A.RandomZoom(0.2),
    "affine": lambda: A.RandomAffine(10.0, 0.1, (0.9, 1.1), 5.0),
    "crop": lambda: A.RandomCrop(9, padding=2),
    "erasing": lambda: A.RandomErasing(p=1.0),
    "noise": lambda: A.RandomGaussianNoise(0.1),
    "brightness": lambda: A.RandomBrightness(0.2),
    "contrast": lambda: A.RandomContrast(0.3),
    "compose": lambda: A.Compose(
        [
            A.RandomFlip(),
            A.RandomRotation(15.0),
            A.RandomTranslation(0.1),
            A.RandomGaussianNoise(0.1),
        ]
    ),
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_exact_replay_from_saved_params(name):
    aug = ALL[name]()
    x = image(n=6, h=11, w=11, dtype=torch.float32)
    y = aug(x, seeded(40))
    draws = aug.generate_params(x.shape, seeded(40))
    saved = {k: v.clone() for k, v in draws.items()}
    assert torch.equal(aug.apply(x, saved), y)
    assert torch.equal(aug(x, seeded(40)), y)  # same seed, same bits
    assert not torch.equal(aug(x, seeded(41)), y)  # another seed, another draw


@pytest.mark.parametrize("name", sorted(set(ALL) - {"compose"}))
def test_per_sample_independence_and_same_on_batch(name):
    x = image(n=1, h=11, w=11, dtype=torch.float32).expand(8, -1, -1, -1).contiguous()
    aug = ALL[name]()
    y = aug(x, seeded(42))
    distinct = {tuple(r.flatten().tolist()) for r in y}
    assert len(distinct) > 1, "samples of a batch must get their own parameters"
    aug.same_on_batch = True
    y = aug(x, seeded(42))
    assert all(torch.equal(y[i], y[0]) for i in range(8))
    p = aug.generate_params(x.shape, seeded(43))
    assert all(v.shape[0] == 8 for v in p.values())


def test_rotation_angles_are_uniform_over_the_range():
    a = A.RandomRotation((-10.0, 30.0)).generate_params((20000, 1, 4, 4), seeded(44))["angle"]
    assert a.min() >= -10 and a.max() < 30
    assert a.mean().item() == pytest.approx(10.0, abs=0.3)  # sd of the mean: 11.5/141 = 0.08
    assert a.var().item() == pytest.approx(40**2 / 12, rel=0.05)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_probability_per_sample(p):
    aug = A.RandomRotation(30.0, p=p)
    x = image(n=1, dtype=torch.float32).expand(1000, -1, -1, -1)
    params = aug.generate_params(x.shape, seeded(45))
    y = aug.apply(x, params)
    changed = (y != x).flatten(1).any(1)
    assert torch.equal(changed, params["apply"])
    assert changed.float().mean().item() == pytest.approx(p, abs=0.05)  # sd 0.0145


# ------------------------------------------------------------------------------ label/content preservation
def test_flips_and_integer_shifts_preserve_content():
    x = image(n=6, dtype=torch.float32)
    y = A.RandomFlip("both", p=0.7)(x, seeded(46))
    assert torch.equal(y.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    # whole-pixel translation with nearest: every output pixel is an input pixel or the fill
    t = A.RandomTranslation(0.2, interpolation="nearest", fill=-1.0)(x, seeded(47))
    for i in range(6):
        vals = set(x[i].flatten().tolist()) | {-1.0}
        assert set(t[i].flatten().tolist()) <= vals


def test_label_mixing_is_the_only_label_change():
    # image augmentations take and return x only: labels pass through fit untouched
    for make in ALL.values():
        aug = make()
        assert aug.mixes_labels is False
    assert A.MixUp.mixes_labels is True and A.CutMix.mixes_labels is True


# ------------------------------------------------------------------------------ dtypes, shapes, devices
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(ALL))
def test_output_keeps_dtype_shape_and_device(name, dtype):
    aug = ALL[name]()
    x = image(n=3, h=11, w=11, dtype=torch.float32).to(dtype)
    y = aug(x, seeded(50))
    assert y.dtype == dtype and y.device == x.device
    assert torch.isfinite(y.float()).all()
    single = aug(x[0], seeded(50))
    assert single.dim() == 3 and single.dtype == dtype


def test_single_image_equals_batch_of_one():
    aug = ALL["compose"]()
    x = image(n=1, dtype=torch.float32)
    assert torch.equal(aug(x[0], seeded(51)), aug(x, seeded(51))[0])


def test_integer_images_need_a_declared_range():
    x = (image(n=2, dtype=torch.float32) * 255).to(torch.uint8)
    with pytest.raises(ConfigError) as e:
        A.RandomRotation(10.0)(x)
    assert str(e.value) == (
        "RandomRotation got an integer image (dtype torch.uint8) without a declared value range: "
        "pass value_range=(low, high), e.g. (0, 255) for uint8, or convert the image to a float "
        "tensor."
    )
    aug = A.Compose([A.RandomRotation(10.0), A.RandomGaussianNoise(20.0)], value_range=(0, 255))
    y = aug(x, seeded(52))
    assert y.dtype == torch.uint8 and y.shape == x.shape
    # rounded and clipped: the float result, rounded, equals the integer output
    p = aug.generate_params(x.shape, seeded(52))
    yf = A.Compose([A.RandomRotation(10.0), A.RandomGaussianNoise(20.0)]).apply(x.float(), p)
    assert torch.equal(y, yf.round().clamp(0, 255).to(torch.uint8))
    assert torch.equal(A.RandomFlip(p=1.0, value_range=(0, 255))(x), x.flip(-1))


# ------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize(
    "make",
    [
        lambda: A.RandomRotation(30.0),
        lambda: A.RandomAffine(10.0, 0.1, (0.9, 1.1), 5.0, fill=0.3),
        lambda: A.RandomCrop(5, padding=1),
        lambda: A.RandomErasing(p=1.0),
        lambda: A.RandomContrast(0.5),
        lambda: A.Compose([A.RandomFlip(), A.RandomRotation(15.0), A.RandomGaussianNoise(0.1)]),
    ],
    ids=["rotation", "affine", "crop", "erasing", "contrast", "compose"],
)
def test_gradcheck_wrt_input(make):
    aug = make()
    x = image(n=2, c=2, h=6, w=6, dtype=torch.float64).requires_grad_()
    p = aug.generate_params(x.shape, seeded(60), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: aug.apply(t, p), (x,))


# ------------------------------------------------------------------------------ errors
def _msg(param, owner, constraint, got):
    return f"The {param!r} parameter of {owner} must be {constraint}. Got {got} instead."


def test_bad_inputs_at_call_time():
    aug = A.RandomRotation(10.0)
    with pytest.raises(ConfigError) as e:
        aug(torch.rand(5, 5))
    assert str(e.value) == (
        "RandomRotation expects 'input' of shape (N, C, H, W) or (C, H, W). Got shape (5, 5) instead."
    )
    with pytest.raises(ConfigError) as e:
        aug([[1.0]])  # type: ignore[arg-type]
    assert str(e.value) == "RandomRotation expects a torch.Tensor as 'input'. Got list instead."
    with pytest.raises(ConfigError) as e:
        aug.generate_params((4, 4))
    assert (
        str(e.value)
        == "RandomRotation expects a shape (N, C, H, W) or (C, H, W). Got (4, 4) instead."
    )
    with pytest.raises(ConfigError) as e:
        aug(torch.rand(2, 1, 4, 4), generator=0)  # type: ignore[arg-type]
    assert str(e.value) == _msg("generator", "RandomRotation", "a torch.Generator or None", "0")
    p = aug.generate_params((3, 1, 4, 4), seeded())
    with pytest.raises(ConfigError) as e:
        aug.apply(torch.rand(2, 1, 4, 4), p)
    assert str(e.value) == (
        "RandomRotation.apply got draws['apply'] with shape (3,) for a batch of 2 samples: "
        "draw them with generate_params for this batch's shape."
    )
    with pytest.raises(ConfigError) as e:
        aug.apply(torch.rand(3, 1, 4, 4), {"apply": p["apply"]})
    assert str(e.value) == (
        "RandomRotation.apply needs draws['angle'] (draw them with generate_params). "
        "Got keys ['apply'] instead."
    )
    with pytest.raises(ConfigError) as e:
        A.RandomCrop(10)(torch.rand(1, 1, 8, 8))
    assert (
        str(e.value)
        == "RandomCrop cannot cut a (10, 10) window from a (8, 8) image padded by 0 to (8, 8)."
    )
    with pytest.raises(ConfigError) as e:
        A.RandomRotation(10.0, fill=(0.0, 1.0))(torch.rand(1, 3, 4, 4))
    assert str(e.value) == (
        "RandomRotation has a fill of 2 values for an image with 3 channels: give one value or one per channel."
    )


def test_nearest_paths_are_bit_exact_on_large_float32_images():
    # flips and crops sample exact integer coordinates: values are copied bit for bit
    x = torch.rand(3, 2, 197, 263, generator=seeded(70))
    y = A.RandomFlip("both", p=1.0)(x)
    assert torch.equal(y, x.flip(-1).flip(-2))
    aug = A.RandomCrop((150, 201), padding=7, fill=-2.0)
    p = aug.generate_params(x.shape, seeded(71))
    out = aug.apply(x, p)
    padded = torch.nn.functional.pad(x, (7, 7, 7, 7), value=-2.0)
    for i in range(3):
        oy, ox = p["offset"][i].tolist()
        assert torch.equal(out[i], padded[i, :, oy : oy + 150, ox : ox + 201])
