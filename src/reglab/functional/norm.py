"""Normalization as pure functions (to be filled by the normalization work)."""

__all__: list[str] = []
