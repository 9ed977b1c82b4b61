"""Dropout family as pure functions (to be filled by the dropout work)."""

__all__: list[str] = []
