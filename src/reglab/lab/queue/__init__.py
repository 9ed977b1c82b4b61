"""The lab's queue layer: cells stored, leased, run by workers, and stored back.

* :mod:`.workers` — worker processes, the interrupt policy, progress events;
* :mod:`.storage` — :class:`~.storage.CellStore`: the cells in an Optuna database, leases and
  heartbeats;
* :mod:`.loop` — :func:`~.loop.work` and :func:`~.loop.run_workers`: lease, run, store, with
  the front end's executor passed in.

It imports the core layer (a cell's identity) and never a front end.
"""
