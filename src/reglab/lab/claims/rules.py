"""Decision rules: from the measured rows of a claim's arms to a verdict with its numbers.

Empirical rules compare two arms by the per-seed paired difference ``d_s = m(arm, s) -
m(than, s)`` of one metric and its 95% Student-t interval ``[lo, hi]``. A claim "``side * d``
exceeds ``t``" (``side`` +1 when higher is better, -1 when lower is) is

* ``reproduced`` when the whole interval of ``side * d`` lies above ``t``,
* ``refuted`` when it lies below ``t``,
* ``inconclusive`` otherwise.

:class:`Better` sets ``t = +margin`` (an improvement of at least the margin), :class:`NotWorse`
sets ``t = -margin`` (no loss larger than the margin). :class:`Same` claims ``|d| < margin``:
reproduced when the interval lies inside ``(-margin, margin)``, refuted when it lies wholly
outside; :class:`Differs` claims the opposite, with the verdicts swapped. Arithmetic rules compare one number per seed against a tolerance: :class:`AtMost`
(every seed's value ``<= tol``) and :class:`AtLeast` (every seed's ``>= tol``). :class:`AllOf`
holds when every part holds and fails when any part fails.

Example:
    >>> rows = [{"arm": "a", "seed": s, "acc": 0.9 + 0.01 * s} for s in range(3)]
    >>> rows += [{"arm": "b", "seed": s, "acc": 0.8 + 0.01 * s} for s in range(3)]
    >>> Better("acc", "a", "b", margin=0.05).decide(rows).verdict
    <Verdict.REPRODUCED: 'reproduced'>
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..stats import mean_ci

__all__ = [
    "AllOf",
    "AtLeast",
    "AtMost",
    "Better",
    "Differs",
    "Finding",
    "NotWorse",
    "Rule",
    "Same",
    "Verdict",
]

Rows = Sequence[Mapping[str, Any]]


class Verdict(str, Enum):
    """What a claim's experiment shows."""

    REPRODUCED = "reproduced"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


@dataclass
class Finding:
    """A verdict and the numbers behind it (one ``parts`` entry per sub-rule)."""

    verdict: Verdict
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)
    parts: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": str(self.verdict),
            "text": self.text,
            "numbers": self.numbers,
            "parts": [p.to_dict() for p in self.parts],
        }


class Rule:
    """Base class: ``decide(rows)`` reads the rows of one claim and returns a :class:`Finding`."""

    def arms(self) -> set[str]:
        raise NotImplementedError

    def decide(self, rows: Rows) -> Finding:
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
    """Per-seed differences ``arm - than`` of ``metric``, their mean and 95% interval."""
    a, b = _values(rows, arm, metric), _values(rows, than, metric)
    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    m, lo, hi = mean_ci(diffs)
    return {
        "metric": metric,
        "arm": arm,
        "than": than,
        "seeds": seeds,
        "diffs": diffs,
        "mean": m,
        "low": lo,
        "high": hi,
        "arm_mean": mean_ci(list(a.values()))[0],
        "than_mean": mean_ci(list(b.values()))[0],
    }


def _side_verdict(lo: float, hi: float, threshold: float) -> Verdict:
    if math.isnan(lo) or math.isnan(hi):
        return Verdict.INCONCLUSIVE
    if lo > threshold:
        return Verdict.REPRODUCED
    if hi < threshold:
        return Verdict.REFUTED
    return Verdict.INCONCLUSIVE


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

    def _threshold(self) -> float:
        raise NotImplementedError

    def _claim_text(self) -> str:
        raise NotImplementedError

    def decide(self, rows: Rows) -> Finding:
        p = paired(rows, self.metric, self.arm, self.than)
        side = 1.0 if self.higher_is_better else -1.0
        lo, hi = sorted((side * p["low"], side * p["high"]))
        verdict = _side_verdict(lo, hi, self._threshold())
        text = (
            f"{self._claim_text()}: {self.metric} {self.arm} - {self.than} = {_fmt(p['mean'])} "
            f"[{_fmt(p['low'])}, {_fmt(p['high'])}] over {len(p['seeds'])} seeds"
        )
        return Finding(verdict, text, {**p, "margin": self.margin, "side": side})


@dataclass(frozen=True)
class Better(_Compare):
    """``arm`` beats ``than`` on ``metric`` by more than ``margin``."""

    def _threshold(self) -> float:
        return self.margin

    def _claim_text(self) -> str:
        word = "higher" if self.higher_is_better else "lower"
        return f"{self.arm} {word} than {self.than} by > {self.margin:g}"


@dataclass(frozen=True)
class NotWorse(_Compare):
    """``arm`` loses at most ``margin`` against ``than`` on ``metric``."""

    def _threshold(self) -> float:
        return -self.margin

    def _claim_text(self) -> str:
        return f"{self.arm} no worse than {self.than} (margin {self.margin:g})"


@dataclass(frozen=True)
class Same(Rule):
    """``arm`` and ``than`` agree on ``metric`` within ``margin``."""

    metric: str
    arm: str
    than: str
    margin: float

    def arms(self) -> set[str]:
        return {self.arm, self.than}

    def decide(self, rows: Rows) -> Finding:
        p = paired(rows, self.metric, self.arm, self.than)
        lo, hi = p["low"], p["high"]
        if math.isnan(lo):
            verdict = Verdict.INCONCLUSIVE
        elif -self.margin < lo and hi < self.margin:
            verdict = Verdict.REPRODUCED
        elif lo >= self.margin or hi <= -self.margin:
            verdict = Verdict.REFUTED
        else:
            verdict = Verdict.INCONCLUSIVE
        text = (
            f"{self.arm} and {self.than} agree within {self.margin:g}: {self.metric} difference "
            f"{_fmt(p['mean'])} [{_fmt(lo)}, {_fmt(hi)}] over {len(p['seeds'])} seeds"
        )
        return Finding(verdict, text, {**p, "margin": self.margin})


@dataclass(frozen=True)
class Differs(Same):
    """``arm`` and ``than`` differ on ``metric`` by more than ``margin`` (either way)."""

    def decide(self, rows: Rows) -> Finding:
        same = super().decide(rows)
        swap = {Verdict.REPRODUCED: Verdict.REFUTED, Verdict.REFUTED: Verdict.REPRODUCED}
        text = same.text.replace("agree within", "differ by more than")
        return Finding(swap.get(same.verdict, same.verdict), text, same.numbers)


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

    def decide(self, rows: Rows) -> Finding:
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
        return Finding(verdict, text, {**numbers, "tolerance": self.tolerance})


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
    """Holds when every part holds; fails when any part fails; else inconclusive."""

    parts: tuple[Rule, ...]

    def arms(self) -> set[str]:
        return set().union(*(p.arms() for p in self.parts))

    def decide(self, rows: Rows) -> Finding:
        found = [p.decide(rows) for p in self.parts]
        verdicts = {f.verdict for f in found}
        if Verdict.REFUTED in verdicts:
            verdict = Verdict.REFUTED
        elif verdicts == {Verdict.REPRODUCED}:
            verdict = Verdict.REPRODUCED
        else:
            verdict = Verdict.INCONCLUSIVE
        return Finding(verdict, "; ".join(f.text for f in found), {}, found)
