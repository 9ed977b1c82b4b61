"""User files: CSV, Parquet, JSON Lines, NPZ, image and text folders, MNIST IDX files and
CIFAR-10 python batches.

One module per format, each with one entry function that returns a ``Dataset``:

* ``table.py``: ``load_csv`` and ``load_parquet`` (both read into ``Column`` objects, then
  ``table_dataset`` builds the dataset);
* ``jsonl.py``: ``load_jsonl`` (JSON Lines, read into the same ``Column`` objects);
* ``npz.py``: ``load_npz``;
* ``image_folder.py``: ``load_image_folder``;
* ``text_folder.py``: ``load_text_folder`` (and ``text_class_dirs``, which ``load_dataset``
  uses to recognise the folder);
* ``idx.py``: ``load_mnist_idx`` (and ``idx_image_files``, which ``load_dataset`` uses to
  recognise the folder);
* ``cifar.py``: ``load_cifar10``, ``cifar_batch_files`` and ``safe_unpickle``;
* ``_common.py``: how every reader words a path, a list of names and a row count in its
  one-line ``ConfigError``.

Decisions (the README repeats them):

* **CSV / Parquet**: ``target=COLUMN`` names the label column; every other column is a feature,
  numeric or strings. Empty cells, ``NA``, ``N/A``, ``NaN``, ``null`` and infinities are
  missing. A table with string columns or missing features is kept raw (``Dataset.categories``)
  and ``reglab.data.split`` encodes it on the training rows (``reglab.data.encode``); a missing
  target is an error. Nested or binary Parquet columns are an error naming the column. String
  class labels are encoded ``0..K-1`` in sorted order and their names kept.
* **JSON Lines** (``.jsonl``, ``.ndjson``): one JSON object per line, keys are columns; each
  value becomes the token a CSV cell would hold, so the table is read as a CSV is (``null`` or
  an absent key is missing); list or object values are an error naming the column and line.
* **Text column** (CSV, Parquet, JSON Lines): ``text=COLUMN`` makes a text dataset from that
  string column and the target, other columns ignored; without it, exactly one long-text
  column (median of at least 4 words, mostly distinct cells) is detected and used
  (``Dataset.text_detected``); several long-text columns stay a table. Empty cells are kept as
  empty texts; a column of numbers only is an error listing the string columns.
* **NPZ**: arrays ``X`` and ``y`` (optional ``class_names``, ``feature_names``), loaded with
  ``allow_pickle=False``. ``X`` of shape ``(N, F)`` is tabular, ``(N, H, W)`` or ``(N, C, H, W)``
  is images; integer images are divided by 255 (uint8 ones stay uint8, divided per batch),
  float images kept as they are.
* **Image folder**: one sub-folder per class (its name is the class name), images read with
  Pillow. All grayscale -> 1 channel, otherwise every image is converted to RGB (alpha dropped).
  Without ``image_size`` all images must share one size; with ``image_size=(H, W)`` each is
  resized (bilinear). 8-bit images stay uint8 (divided by 255 per batch); 16-bit grayscale is
  divided by 65535.
* **Text folder**: one sub-folder of UTF-8 ``.txt`` files per class (a byte-order mark is
  dropped; a file that is not UTF-8 is an error naming it), at least two classes; the aclImdb
  layout ``train/<class>/*.txt`` + ``test/<class>/*.txt`` keeps ``test/`` as the official test
  split and skips a class folder only ``train/`` has (``unsup``).
* **MNIST IDX**: ``<prefix>-images-idx3-ubyte`` with ``<prefix>-labels-idx1-ubyte`` (``.gz``
  optional, ``.idx`` spelled with a dot also accepted); ``train`` files first, uint8 pixels
  (divided by 255 per batch); ``t10k-*``/``test-*`` rows are the official test split.
* **CIFAR-10**: ``data_batch_1`` .. ``data_batch_5`` then ``test_batch`` (any present subset),
  class names from ``batches.meta`` when present, uint8 pixels; ``test_batch`` rows are the
  official test split. The pickles are read by an unpickler that only rebuilds numpy arrays,
  lists, dicts, strings and numbers; anything else is refused, so a malicious file cannot run
  code.

Folder formats concatenate every file they find (train files first) and mark the official test
rows in ``Dataset.official_test``; ``reglab.data.split`` makes the train/validation/test split
(the official test rows as the test split by default). A folder that mixes formats is an error.
"""

from __future__ import annotations

from .cifar import CIFAR10_CLASSES, cifar_batch_files, load_cifar10, safe_unpickle
from .idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, idx_image_files, load_mnist_idx
from .image_folder import IMAGE_SUFFIXES, load_image_folder
from .jsonl import JSONL_SUFFIXES, load_jsonl
from .npz import load_npz
from .table import load_csv, load_parquet
from .text_folder import TEXT_SUFFIX, load_text_folder, text_class_dirs

__all__ = [
    "CIFAR10_CLASSES",
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "IMAGE_SUFFIXES",
    "JSONL_SUFFIXES",
    "TEXT_SUFFIX",
    "cifar_batch_files",
    "idx_image_files",
    "load_cifar10",
    "load_csv",
    "load_image_folder",
    "load_jsonl",
    "load_mnist_idx",
    "load_npz",
    "load_parquet",
    "load_text_folder",
    "safe_unpickle",
    "text_class_dirs",
]
