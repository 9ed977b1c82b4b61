"""``reglab claims``: every claim of the source notes, reproduced or refuted by a run.

``table.py`` holds the claims as data (statement, source notes, experiment, decision rule),
``rules.py`` the decision rules, ``arithmetic.py`` the checks that arithmetic settles and
``experiments.py`` one cell of a claim (an arm with a seed).
"""

from __future__ import annotations

from .experiments import run_claim_cell
from .rules import Finding, Verdict
from .table import CLAIMS, NOTES, ClaimSetting, NoteClaim

__all__ = ["CLAIMS", "NOTES", "ClaimSetting", "Finding", "NoteClaim", "Verdict", "run_claim_cell"]
