"""The lab's core layer: what one cell is and how it trains, whatever front end asked for it.

* :mod:`.text` — a text cell's vocabulary, EDA copies and batches;
* :mod:`.cells` — a cell's identity (:class:`~.cells.Cell`), split sizes, model kind, device,
  its stored row;
* :mod:`.recipe` — :class:`~.recipe.Recipe` (spec strings, TOML, the built-in recipes);
* :mod:`.splits` — :class:`~.splits.SplitCache`, the one split cache of every front end;
* :mod:`.run` — :func:`~.run.run_cell`, one recipe trained with one seed;
* :mod:`.train_fn` — a cell run by the user's own training function.

Each module imports only those listed above it (``tests/test_layout.py`` checks it).
"""
