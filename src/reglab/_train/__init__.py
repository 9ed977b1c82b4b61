"""Internals of :func:`reglab.fit` (the public names live in :mod:`reglab.train`)."""
