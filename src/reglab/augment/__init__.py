"""Data augmentation: batched image transforms, label mixing, tabular noise.

Text augmentation (EDA) lives in :mod:`reglab.augment.text` and is imported on demand.
"""

from __future__ import annotations

__all__: list[str] = []
