"""Image folders: ``path/<class>/<image>``, one sub-folder per class, read with Pillow.

Class sub-folders are taken in name order (hidden ones skipped) and their names are the class
names; images are the files with a suffix in ``IMAGE_SUFFIXES``, in name order. If every image
is grayscale the dataset has 1 channel, otherwise every image is converted to RGB (alpha
dropped); ``channels="grayscale"`` or ``"rgb"`` forces it. Without ``image_size`` all images
must share one size; with ``image_size=(H, W)`` each is resized (bilinear). When every image is
8-bit, the pixels stay uint8 in ``Dataset.data`` (``divisor`` 255); 16-bit grayscale is divided by
65535 and 32-bit images kept as float32. Either way the features ``X`` are ``(N, C, H, W)`` in
[0, 1].

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for cls in ("cats", "dogs"):
    ...     (root / cls).mkdir()
    ...     Image.new("L", (4, 3)).save(root / cls / "1.png")
    >>> ds = load_image_folder(root)
    >>> ds.X.shape, ds.class_names
    (torch.Size([2, 1, 3, 4]), ('cats', 'dogs'))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError
from .._dataset import Dataset, make_dataset
from ._common import one_line, show_path

__all__ = ["IMAGE_SUFFIXES", "load_image_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})
# Modes with more than 8 bits per value: read as float32 instead of uint8.
_WIDE_MODES = frozenset({"I", "F", "I;16", "I;16B", "I;16L", "I;16N"})


def load_image_folder(
    path: str | Path,
    *,
    image_size: tuple[int, int] | None = None,
    channels: str = "auto",
) -> Dataset:
    """Read ``path/<class>/<image>`` files with Pillow into ``(N, C, H, W)`` values in [0, 1]."""
    import PIL.Image  # noqa: F401  (Pillow is optional: a missing one fails before any reading)

    path = Path(path)
    class_dirs = _class_dirs(path)
    files = _image_files(path, class_dirs)
    images = _open_images(path, files)
    gray = all(img.mode in _GRAY_MODES for img in images)
    n_channels = {"auto": 1 if gray else 3, "grayscale": 1, "rgb": 3}[channels]
    size = _common_size(path, images, files) if image_size is None else image_size
    eight_bit = all(img.mode not in _WIDE_MODES for img in images)
    dtype = np.uint8 if eight_bit else np.float32
    X = np.empty((len(images), n_channels, size[0], size[1]), dtype=dtype)
    for i, img in enumerate(images):
        X[i] = _to_array(img, n_channels, size, eight_bit)
    y = np.array([label for _, label in files], dtype=np.int64)
    return make_dataset(
        X,
        y,
        name=path.name,
        task="classification",
        kind="image",
        class_names=[d.name for d in class_dirs],
        source=show_path(path),
        divisor=255.0 if eight_bit else 1.0,
    )


def _class_dirs(path: Path) -> list[Path]:
    """The visible sub-folders of ``path``, in name order: one per class."""
    class_dirs = sorted(
        (d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")),
        key=lambda d: d.name,
    )
    if not class_dirs:
        raise ConfigError(
            f"{show_path(path)}: no class sub-folders; an image folder needs one sub-folder per "
            "class holding its images (e.g. cats/1.png, dogs/2.png)."
        )
    return class_dirs


def _image_files(path: Path, class_dirs: list[Path]) -> list[tuple[Path, int]]:
    """``(file, label)`` for every image, class by class, files in name order."""
    files: list[tuple[Path, int]] = []
    for label, d in enumerate(class_dirs):
        found = sorted(
            (f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES),
            key=lambda f: f.name,
        )
        if not found:
            raise ConfigError(
                f"{show_path(path)}: class folder {d.name!r} has no images "
                f"({', '.join(IMAGE_SUFFIXES)}); add images or remove the folder."
            )
        files.extend((f, label) for f in found)
    return files


def _open_images(path: Path, files: list[tuple[Path, int]]) -> list[Any]:
    """Every image opened and decoded with Pillow."""
    from PIL import Image, UnidentifiedImageError

    images: list[Any] = []
    for f, _ in files:
        try:
            img = Image.open(f)
            img.load()
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            raise ConfigError(
                f"{show_path(path)}: cannot read image {f.relative_to(path).as_posix()!r} "
                f"({one_line(exc)}); remove it or replace it with a valid image."
            ) from None
        images.append(img)
    return images


def _common_size(path: Path, images: list[Any], files: list[tuple[Path, int]]) -> tuple[int, int]:
    """``(H, W)`` shared by every image; an error names the first image that differs."""
    h0, w0 = images[0].height, images[0].width
    for img, (f, _) in zip(images, files):
        if (img.height, img.width) != (h0, w0):
            raise ConfigError(
                f"{show_path(path)}: images differ in size: "
                f"{files[0][0].relative_to(path).as_posix()!r} is {h0}x{w0} (HxW) but "
                f"{f.relative_to(path).as_posix()!r} is {img.height}x{img.width}; pass "
                "image_size=(H, W) (CLI: --image-size) to resize them all."
            )
    return (h0, w0)


def _to_array(img: Any, n_channels: int, size: tuple[int, int], eight_bit: bool) -> np.ndarray:
    """One image as ``(n_channels, H, W)``: uint8 as stored, or float32 in [0, 1]."""
    from PIL import Image

    if eight_bit:
        img = img.convert("L" if n_channels == 1 else "RGB")
        if (img.height, img.width) != size:
            img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        arr8 = np.asarray(img, dtype=np.uint8)
        return arr8[None].repeat(n_channels, 0) if arr8.ndim == 2 else arr8.transpose(2, 0, 1)

    if img.mode.startswith("I;16"):
        # 16-bit grayscale: keep the full range instead of clipping to 8 bits.
        img = Image.fromarray((np.asarray(img, dtype=np.float32) / 65535.0).astype(np.float32))
        scale = 1.0
    else:
        img = img.convert("L" if n_channels == 1 else "RGB") if img.mode != "F" else img
        scale = 1.0 if img.mode == "F" else 255.0
    if (img.height, img.width) != size:
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.float32) / np.float32(scale)
    if arr.ndim == 2:
        arr = arr[None]
        if n_channels == 3:
            arr = np.repeat(arr, 3, axis=0)
    else:
        arr = arr.transpose(2, 0, 1)
    return arr
