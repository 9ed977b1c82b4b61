"""Encoding a raw table (string columns, missing values) with statistics of the training rows.

A table loaded with string columns or missing values keeps them in its ``Dataset``: ``data``
holds, per column, the number (numeric column) or the category code (string column, an index
into ``Dataset.categories[j]``), NaN where the cell is missing (empty, ``NA``, ``NaN``, ``null``,
an infinity). :class:`TableEncoder` is fit on the training rows only and turns every part into
float32 features:

* **numeric column**: missing cells get the training median (0 when every training cell is
  missing); a 0/1 column ``<name>_missing`` is added when the training rows have a missing cell.
* **string column** with at most ``max_onehot`` (20) categories in the training rows: one-hot,
  one 0/1 column ``<name>=<category>`` per category. A missing cell is its own category
  (``<missing>``) when it occurs in the training rows. A category not seen in the training rows
  (or a missing cell when none was) is all zeros.
* **string column** with more categories: ordinal, one column holding ``1..K`` (the training
  categories in sorted order, ``<missing>`` last), ``0`` reserved for a category not seen in the
  training rows.
* **constant column** (one value in the training rows): kept, and marked ``constant`` in
  :meth:`TableEncoder.describe`; ``split``'s standardization maps it to 0.

Example:
    >>> import torch
    >>> nan = float("nan")
    >>> train = torch.tensor([[1.0, 0.0], [nan, 1.0], [3.0, 0.0]])
    >>> enc = TableEncoder.fit(train, (None, ("blue", "red")), ("size", "color"))
    >>> enc.feature_names
    ('size', 'size_missing', 'color=blue', 'color=red')
    >>> enc.transform(torch.tensor([[nan, 1.0], [5.0, nan]])).tolist()
    [[2.0, 1.0, 0.0, 1.0], [5.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._checks import Constraints, Interval, validate_params
from ._dataset import Dataset, _with

__all__ = ["MAX_ONEHOT", "MISSING_CATEGORY", "ColumnCode", "TableEncoder"]

# A string column with more training categories than this is encoded as one ordinal column.
MAX_ONEHOT = 20
# How a missing string cell is named when it is a category of its own.
MISSING_CATEGORY = "<missing>"


@dataclass(frozen=True)
class ColumnCode:
    """How one source column is encoded (fit on the training rows)."""

    name: str
    kind: str  # "numeric", "one-hot" or "ordinal"
    outputs: tuple[str, ...]
    n_missing: int  # missing cells in the training rows
    constant: bool
    median: float | None = None  # numeric: the value a missing cell gets
    lookup: np.ndarray | None = None  # string: code (last slot: missing) -> position, -1 unseen
    categories: tuple[str, ...] = ()  # string: the training categories, in output order

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: kind, categories count, imputed value, indicator added."""
        return {
            "column": self.name,
            "kind": self.kind,
            "categories": len(self.categories) if self.kind != "numeric" else None,
            "missing_in_train": self.n_missing,
            "imputed": self.median if self.kind == "numeric" else None,
            "indicator": self.kind == "numeric" and len(self.outputs) == 2,
            "constant": self.constant,
            "outputs": len(self.outputs),
        }


#: The constraints of TableEncoder.fit's arguments, checked by validate_params.
_FIT_CONSTRAINTS: Constraints = {"max_onehot": [Interval(int, 1, None)]}


class TableEncoder:
    """One-hot / ordinal codes and median imputation, fit on the training rows of a table."""

    def __init__(self, columns: list[ColumnCode]) -> None:
        self.columns = columns

    @classmethod
    def fit(
        cls,
        train: Tensor,
        categories: tuple[tuple[str, ...] | None, ...],
        names: tuple[str, ...],
        max_onehot: int = MAX_ONEHOT,
    ) -> TableEncoder:
        """Fit on ``train`` (``(n, F)`` raw values: numbers or category codes, NaN missing)."""
        validate_params("TableEncoder.fit", locals(), _FIT_CONSTRAINTS)
        values = train.to(torch.float64).numpy()
        columns = []
        for j, vocab in enumerate(categories):
            name = names[j] if j < len(names) else f"x{j}"
            if vocab is None:
                columns.append(_fit_numeric(name, values[:, j]))
            else:
                columns.append(_fit_strings(name, values[:, j], vocab, max_onehot))
        return cls(columns)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the encoded columns, in order."""
        return tuple(out for c in self.columns for out in c.outputs)

    def transform(self, raw: Tensor) -> Tensor:
        """float32 ``(n, len(feature_names))`` features of ``raw`` rows."""
        values = raw.to(torch.float64).numpy()
        blocks = [_encode_column(c, values[:, j]) for j, c in enumerate(self.columns)]
        out = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(values), 0))
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))

    def encode(self, part: Dataset) -> Dataset:
        """``part`` (rows of the raw table) with encoded float32 features."""
        X = self.transform(part.data)
        return _with(
            part,
            data=X,
            categories=None,
            feature_names=self.feature_names,
            input_shape=(int(X.shape[1]),),
        )

    def describe(self) -> list[dict[str, Any]]:
        """What was encoded, one dict per source column (for ``summary.json`` and reports)."""
        return [c.describe() for c in self.columns]

    def __repr__(self) -> str:
        return f"TableEncoder(columns={len(self.columns)}, outputs={len(self.feature_names)})"


def _fit_numeric(name: str, col: np.ndarray) -> ColumnCode:
    missing = np.isnan(col)
    present = col[~missing]
    median = float(np.median(present)) if present.size else 0.0
    n_missing = int(missing.sum())
    outputs = (name, f"{name}_missing") if n_missing else (name,)
    constant = np.unique(present).size <= 1 and n_missing in (0, col.size)
    return ColumnCode(name, "numeric", outputs, n_missing, bool(constant), median=median)


def _fit_strings(name: str, col: np.ndarray, vocab: tuple[str, ...], max_onehot: int) -> ColumnCode:
    missing = np.isnan(col)
    codes = np.unique(col[~missing].astype(np.int64))
    slots = [int(c) for c in codes] + ([len(vocab)] if missing.any() else [])
    lookup = np.full(len(vocab) + 1, -1, dtype=np.int64)
    lookup[slots] = np.arange(len(slots))
    cats = tuple(vocab[s] if s < len(vocab) else MISSING_CATEGORY for s in slots)
    kind = "one-hot" if len(cats) <= max_onehot else "ordinal"
    outputs = tuple(f"{name}={c}" for c in cats) if kind == "one-hot" else (name,)
    return ColumnCode(
        name,
        kind,
        outputs,
        int(missing.sum()),
        len(cats) <= 1,
        lookup=lookup,
        categories=cats,
    )


def _encode_column(code: ColumnCode, col: np.ndarray) -> np.ndarray:
    """The ``(n, len(code.outputs))`` block of one column."""
    missing = np.isnan(col)
    if code.kind == "numeric":
        filled = np.where(missing, code.median or 0.0, col)
        if len(code.outputs) == 1:
            return filled[:, None]
        return np.stack([filled, missing.astype(np.float64)], axis=1)
    assert code.lookup is not None
    slot = np.where(missing, len(code.lookup) - 1, np.nan_to_num(col)).astype(np.int64)
    slot = np.clip(slot, 0, len(code.lookup) - 1)
    pos = code.lookup[slot]
    if code.kind == "ordinal":
        return (pos + 1).astype(np.float64)[:, None]  # unseen (-1) -> the reserved 0
    out = np.zeros((col.size, len(code.outputs)))
    rows = np.flatnonzero(pos >= 0)
    out[rows, pos[rows]] = 1.0
    return out
