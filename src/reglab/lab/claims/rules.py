"""Decision rules: from the measured rows of a claim's arms to a verdict with its numbers.

Empirical rules compare two arms by the per-seed paired difference ``d_s = m(arm, s) -
m(than, s)`` of one metric, oriented so that positive is the claimed direction: the gain ``g_s =
side * d_s`` (``side`` +1 when higher is better, -1 when lower is). The interval of the mean gain
is the repeated confidence interval of :func:`reglab.lab.stats.decide` (valid at every look of a
sequential run: seeds 0..n-1 of both arms, n a look of the design), and each rule reads it against
its own margin ``m`` (in the metric's units):

==============  ==============================  ===============================================
rule            reproduced                      refuted
==============  ==============================  ===============================================
``Better``      ``low > m``: a gain beyond m    ``high < m``: no gain as large as m (the arm is
                                                worse, equivalent, or gains less than m)
``NotWorse``    ``low > -m``: loses less than m ``high < -m``: loses more than m
``Same``        ``-m < low, high < m``          ``low >= m`` or ``high <= -m``
``Differs``     as Same's refuted               as Same's reproduced
==============  ==============================  ===============================================

and **inconclusive** otherwise. In :func:`~reglab.lab.stats.decide`'s words: ``Better(m)`` is
decide's "better" / "worse" on the shifted gains ``g - m`` (margin 0), ``NotWorse(m)`` the same
on ``g + m``; ``Same(m)`` reproduced is decide's "equivalent" within ``m`` (whichever sign the
interval has), refuted is "better" on ``d - m`` or "worse" on ``d + m``. So a ``Better`` with
``m > 0`` is refuted by an "equivalent" interval (no gain as large as the margin) as by a "worse"
one, and ``m = 0`` only by "worse". The claims keep their own words (reproduced, refuted,
inconclusive); inconclusive is the study's "undecided".

A comparison stops at the first look whose verdict is not inconclusive (later seeds, run for
another part of the claim, do not change it), or at the last look; ``Finding.open`` is True
while it is inconclusive before the last look, and :class:`AllOf` is open while its verdict is
inconclusive and a part is open. Error rate: each claim is one question at level ``alpha``
(0.05): an :class:`AllOf` with k comparisons decides each at ``alpha / k`` (Bonferroni), so the
chance of any wrong empirical part in a claim is at most alpha, at every look.

Arithmetic rules compare one number per seed against a tolerance: :class:`AtMost` (every
seed's value ``<= tol``) and :class:`AtLeast` (every seed's ``>= tol``). :class:`AllOf` holds
when every part holds and fails when any part fails.

Example:
    >>> rows = [{"arm": "a", "seed": s, "acc": 0.9 + 0.01 * (s % 3)} for s in range(5)]
    >>> rows += [{"arm": "b", "seed": s, "acc": 0.8 + 0.01 * (s % 2)} for s in range(5)]
    >>> found = Better("acc", "a", "b", margin=0.05).decide(rows)
    >>> found.verdict, found.seeds, found.open
    (<Verdict.REPRODUCED: 'reproduced'>, 5, False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..stats import DEFAULT_LOOKS, decide, mean_ci

__all__ = [
    "AllOf",
    "AtLeast",
    "AtMost",
    "Better",
    "Design",
    "Differs",
    "Finding",
    "NotWorse",
    "Rule",
    "Same",
    "Verdict",
    "paired",
]

Rows = Sequence[Mapping[str, Any]]


class Verdict(str, Enum):
    """What a claim's experiment shows."""

    REPRODUCED = "reproduced"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Design:
    """The looks (seed counts) at which comparisons are decided, and the error rate per claim.

    A fixed number of seeds ``n`` is the one-look design ``(n,)``: its interval is the plain
    Student-t interval at level ``alpha``.
    """

    looks: tuple[int, ...] = DEFAULT_LOOKS
    alpha: float = 0.05


@dataclass
class Finding:
    """A verdict and the numbers behind it (one ``parts`` entry per sub-rule).

    ``seeds`` is how many seeds the verdict reads (the stopping look of a comparison); ``open``
    is True while the verdict is inconclusive and a further look could decide it.
    """

    verdict: Verdict
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)
    parts: list[Finding] = field(default_factory=list)
    seeds: int = 0
    open: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": str(self.verdict),
            "text": self.text,
            "seeds": self.seeds,
            "numbers": self.numbers,
            "parts": [p.to_dict() for p in self.parts],
        }


class Rule:
    """Base class: ``decide(rows, design)`` reads a claim's rows and returns a :class:`Finding`."""

    def arms(self) -> set[str]:
        raise NotImplementedError

    def comparisons(self) -> int:
        """How many empirical comparisons the rule makes (its share of the claim's alpha)."""
        return 0

    def open_arms(self, found: Finding) -> set[str]:
        """The arms that the next look needs, given this rule's ``found``: the arms of the
        comparisons still open (a decided part needs no more seeds)."""
        return self.arms() if found.open else set()

    def decide(
        self, rows: Rows, design: Design | None = None, alpha: float | None = None
    ) -> Finding:
        """The verdict; ``alpha`` (default ``design.alpha``) is this rule's share of the error;
        ``design`` defaults to looks 5, 10, 15, 20 at alpha 0.05."""
        raise NotImplementedError


def _values(rows: Rows, arm: str, metric: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for r in rows:
        v = r.get(metric)
        numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
        if r.get("arm") == arm and numeric and math.isfinite(float(v)):  # type: ignore[arg-type]
            out[int(r["seed"])] = float(v)  # type: ignore[arg-type]
    return out


def paired(rows: Rows, metric: str, arm: str, than: str) -> dict[str, Any]:
    """Per-seed differences ``arm - than`` of ``metric`` for seeds 0, 1, ... while both arms have
    one (a gap ends the sequence: a look counts the first n seeds only), and the arms' means."""
    a, b = _values(rows, arm, metric), _values(rows, than, metric)
    diffs: list[float] = []
    while len(diffs) in a and len(diffs) in b:
        diffs.append(a[len(diffs)] - b[len(diffs)])
    return {
        "metric": metric,
        "arm": arm,
        "than": than,
        "diffs": diffs,
        "arm_mean": mean_ci(list(a.values()))[0],
        "than_mean": mean_ci(list(b.values()))[0],
    }


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else f"{v:+.4g}"


@dataclass(frozen=True)
class _Compare(Rule):
    metric: str
    arm: str
    than: str
    higher_is_better: bool = True
    margin: float = 0.0

    def arms(self) -> set[str]:
        return {self.arm, self.than}

    def comparisons(self) -> int:
        return 1

    def _side(self) -> float:
        return 1.0 if self.higher_is_better else -1.0

    def _verdict(self, low: float, high: float) -> Verdict:
        """The verdict of an interval of the gain ``side * d``."""
        raise NotImplementedError

    def _claim_text(self) -> str:
        raise NotImplementedError

    def decide(
        self, rows: Rows, design: Design | None = None, alpha: float | None = None
    ) -> Finding:
        design = design or Design()
        p = paired(rows, self.metric, self.arm, self.than)
        side = self._side()
        gains = [side * d for d in p["diffs"]]
        level = design.alpha if alpha is None else alpha
        verdict, low, high, n, look = Verdict.INCONCLUSIVE, -math.inf, math.inf, len(gains), 0
        for k, n_k in enumerate(design.looks, start=1):
            if n_k > len(gains):
                break
            d = decide(gains[:n_k], margin=0.0, looks=design.looks, alpha=level)
            verdict, low, high, n, look = self._verdict(d.low, d.high), d.low, d.high, n_k, k
            if verdict is not Verdict.INCONCLUSIVE:
                break
        mean = math.fsum(gains[:n]) / n if n else math.nan
        last = look == len(design.looks)
        # back to the metric's own direction: arm - than
        lo, hi = sorted((side * low, side * high))
        text = (
            f"{self._claim_text()}: {self.metric} {self.arm} - {self.than} = {_fmt(side * mean)} "
            f"[{_fmt(lo)}, {_fmt(hi)}] over {n} seeds"
        )
        numbers = {
            **p,
            "diffs": p["diffs"][:n],
            "mean": side * mean,
            "low": lo,
            "high": hi,
            "look": look,
            "alpha": level,
            "margin": self.margin,
            "side": side,
        }
        is_open = verdict is Verdict.INCONCLUSIVE and not last
        return Finding(verdict, text, numbers, seeds=n, open=is_open)


@dataclass(frozen=True)
class Better(_Compare):
    """``arm`` beats ``than`` on ``metric`` by more than ``margin``; refuted when the gain is
    surely below ``margin`` (worse, or no gain as large as the margin)."""

    def _verdict(self, low: float, high: float) -> Verdict:
        if low > self.margin:
            return Verdict.REPRODUCED
        if high < self.margin:
            return Verdict.REFUTED
        return Verdict.INCONCLUSIVE

    def _claim_text(self) -> str:
        word = "higher" if self.higher_is_better else "lower"
        return f"{self.arm} {word} than {self.than} by > {self.margin:g}"


@dataclass(frozen=True)
class NotWorse(_Compare):
    """``arm`` loses at most ``margin`` against ``than`` on ``metric``."""

    def _verdict(self, low: float, high: float) -> Verdict:
        if low > -self.margin:
            return Verdict.REPRODUCED
        if high < -self.margin:
            return Verdict.REFUTED
        return Verdict.INCONCLUSIVE

    def _claim_text(self) -> str:
        return f"{self.arm} no worse than {self.than} (margin {self.margin:g})"


def _same(low: float, high: float, margin: float) -> Verdict:
    if -margin < low and high < margin:
        return Verdict.REPRODUCED
    if low >= margin or high <= -margin:
        return Verdict.REFUTED
    return Verdict.INCONCLUSIVE


@dataclass(frozen=True)
class Same(_Compare):
    """``arm`` and ``than`` agree on ``metric`` within ``margin`` (an equivalence claim)."""

    def _verdict(self, low: float, high: float) -> Verdict:
        return _same(low, high, self.margin)

    def _claim_text(self) -> str:
        return f"{self.arm} and {self.than} agree within {self.margin:g}"


_SWAP = {
    Verdict.REPRODUCED: Verdict.REFUTED,
    Verdict.REFUTED: Verdict.REPRODUCED,
    Verdict.INCONCLUSIVE: Verdict.INCONCLUSIVE,
}


@dataclass(frozen=True)
class Differs(_Compare):
    """``arm`` and ``than`` differ on ``metric`` by more than ``margin`` (either way)."""

    def _verdict(self, low: float, high: float) -> Verdict:
        return _SWAP[_same(low, high, self.margin)]

    def _claim_text(self) -> str:
        return f"{self.arm} and {self.than} differ by more than {self.margin:g}"


@dataclass(frozen=True)
class _Bound(Rule):
    metric: str
    arm: str
    tolerance: float

    def arms(self) -> set[str]:
        return {self.arm}

    def _holds(self, worst: float) -> bool:
        raise NotImplementedError

    def _worst(self, values: list[float]) -> float:
        raise NotImplementedError

    def _word(self) -> str:
        raise NotImplementedError

    def decide(
        self, rows: Rows, design: Design | None = None, alpha: float | None = None
    ) -> Finding:
        values = list(_values(rows, self.arm, self.metric).values())
        if not values:
            return Finding(Verdict.INCONCLUSIVE, f"{self.arm}: no {self.metric} measured", {})
        worst = self._worst(values)
        verdict = Verdict.REPRODUCED if self._holds(worst) else Verdict.REFUTED
        text = (
            f"{self.arm}: {self.metric} {self._word()} {self.tolerance:g} in every seed "
            f"(worst {worst:.3g} of {len(values)})"
        )
        numbers = {"metric": self.metric, "arm": self.arm, "values": values, "worst": worst}
        return Finding(verdict, text, {**numbers, "tolerance": self.tolerance}, seeds=len(values))


@dataclass(frozen=True)
class AtMost(_Bound):
    """Every seed's ``metric`` of ``arm`` is at most ``tolerance``."""

    def _worst(self, values: list[float]) -> float:
        return max(values)

    def _holds(self, worst: float) -> bool:
        return worst <= self.tolerance

    def _word(self) -> str:
        return "<="


@dataclass(frozen=True)
class AtLeast(_Bound):
    """Every seed's ``metric`` of ``arm`` is at least ``tolerance``."""

    def _worst(self, values: list[float]) -> float:
        return min(values)

    def _holds(self, worst: float) -> bool:
        return worst >= self.tolerance

    def _word(self) -> str:
        return ">="


@dataclass(frozen=True)
class AllOf(Rule):
    """Holds when every part holds; fails when any part fails; else inconclusive.

    The comparisons among the parts share the claim's alpha equally (Bonferroni).
    """

    parts: tuple[Rule, ...]

    def arms(self) -> set[str]:
        return set().union(*(p.arms() for p in self.parts))

    def comparisons(self) -> int:
        return sum(p.comparisons() for p in self.parts)

    def open_arms(self, found: Finding) -> set[str]:
        if not found.open:
            return set()
        return set().union(*(p.open_arms(f) for p, f in zip(self.parts, found.parts, strict=True)))

    def decide(
        self, rows: Rows, design: Design | None = None, alpha: float | None = None
    ) -> Finding:
        design = design or Design()
        level = (design.alpha if alpha is None else alpha) / max(self.comparisons(), 1)
        found = [p.decide(rows, design, level) for p in self.parts]
        verdicts = {f.verdict for f in found}
        if Verdict.REFUTED in verdicts:
            verdict = Verdict.REFUTED
        elif verdicts == {Verdict.REPRODUCED}:
            verdict = Verdict.REPRODUCED
        else:
            verdict = Verdict.INCONCLUSIVE
        is_open = verdict is Verdict.INCONCLUSIVE and any(f.open for f in found)
        seeds = max((f.seeds for f in found), default=0)
        return Finding(verdict, "; ".join(f.text for f in found), {}, found, seeds, is_open)
