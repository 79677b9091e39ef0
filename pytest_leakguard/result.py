"""One checked test's result: its :class:`Status`, the probes' trends, the explanation.

:class:`TestResult` has one JSON form (:meth:`TestResult.to_json`,
:meth:`TestResult.from_json`): it travels on the test report (across xdist
too), and it is the entry of the JSON report, which ``report/schema.json``
describes.  Every renderer (terminal, JSON, HTML, baseline) reads that form, so a
field added here reaches them all.

A clean test whose every probe stayed flat (no run beyond its threshold) has a
*compact* form (see :meth:`TestResult.is_compact`): its verdict, runs, the probes
with their thresholds and the growth of those that moved at all, without samples
nor per-probe figures that are all zeros.  It is what a session keeps per clean
test, in memory and in the JSON report.

Pure: no pytest import, no rendering (see ``report/text.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(str, enum.Enum):
    """How the check of a test ended, with the words and colour the reports show it by.

    A member equals, hashes and formats as its value (the JSON word), so members and
    the plain strings of a report read back mix in comparisons and as dict keys.
    """

    label: str
    """The word of the terminal summary and the HTML badge."""
    word: str
    """The test's status word (``-v``) when the check fails the test, else ``""``."""
    letter: str
    """The test's progress letter when the check fails the test, else ``""``."""
    colour: str
    """The terminal colour of its summary line."""
    counted: str
    """Its word in the counts (``3 leaked, 10 clean``)."""

    LEAK = ("leak", "LEAKED", "LEAKED", "L", "red", "leaked")
    INCONCLUSIVE = ("inconclusive", "INCONCLUSIVE", "INCONCLUSIVE", "I", "yellow", "inconclusive")
    ERROR = ("error", "ERROR", "LEAKERROR", "E", "red", "error")
    CLEAN = ("clean", "clean", "", "", "green", "clean")
    SKIPPED = ("skipped", "skipped", "", "", "yellow", "skipped")

    def __new__(
        cls, value: str, label: str, word: str, letter: str, colour: str, counted: str
    ) -> Status:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label, member.word, member.letter = label, word, letter
        member.colour, member.counted = colour, counted
        return member

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)

    def __hash__(self) -> int:
        return str.__hash__(self)

    @classmethod
    def of(cls, value: object) -> Status | None:
        """The member whose value is ``value`` (a report's word), or ``None``."""
        return _BY_WORD.get(value) if isinstance(value, str) else None

    @classmethod
    def parse(cls, word: str) -> Status:
        """The member whose value is ``word``; ``ValueError`` for another word."""
        status = cls.of(word)
        if status is None:
            raise ValueError(f"{word!r} is not a leakguard status")
        return status


_BY_WORD = {status.value: status for status in Status}


# Typed as plain words: they key dicts that a report's words (plain strings) index.
LEAK: str = Status.LEAK
CLEAN: str = Status.CLEAN
INCONCLUSIVE: str = Status.INCONCLUSIVE
ERROR: str = Status.ERROR
SKIPPED: str = Status.SKIPPED
VERDICTS: tuple[str, ...] = tuple(Status)
"""Every status, in the reports' order: leaks first, skipped last."""

GROWING = "growing"
FLAT = "flat"
NOISY = "noisy"


@dataclass(frozen=True)
class ProbeTrend:
    """How one probe's series moved over the measured runs."""

    probe: str
    unit: str
    trend: str
    growth_per_run: float
    tail_growth_per_run: float
    rising_runs: int
    runs: int
    threshold: float | None
    sustained_growth_per_run: float = 0.0
    """``growth_per_run`` if the probe grows in a sustained way even below its budget, else 0."""

    @property
    def decisive(self) -> bool:
        """Whether this probe may decide the verdict (it has a threshold)."""
        return self.threshold is not None

    @property
    def quiet(self) -> bool:
        """Flat, and no run grew beyond the threshold: at most noise below it (a page of
        RSS), which the compact form keeps as the two growth figures."""
        return self.trend == FLAT and not (self.rising_runs or self.sustained_growth_per_run)

    def describe(self) -> str:
        """One line for people (see :func:`pytest_leakguard.report.text.describe`)."""
        from .report.text import describe  # rendering lives in report/; kept for callers

        return describe(self)


@dataclass
class Explanation:
    """What the deep probes found for a leak; its JSON form is the report's ``explanation``.

    The known parts are typed fields (``None``: not given); what a deep probe adds
    beyond them is kept in ``extra`` and written back as is, so a new part reaches the
    JSON and HTML reports before it has a field here.
    """

    runs: int | None = None
    """The explanation's runs (after the check's)."""
    sites: list[dict[str, Any]] | None = None
    """Allocation sites growing per run (tracemalloc), largest first."""
    types: list[dict[str, Any]] | None = None
    holders: list[dict[str, Any]] | None = None
    sizes: list[dict[str, Any]] | None = None
    chain: str | None = None
    graph: dict[str, Any] | None = None
    notes: list[str] | None = None
    native: dict[str, Any] | None = None
    """memray's native frames (native.py)."""
    resources: dict[str, list[str]] | None = None
    """What the growing resource probes found still open, by probe."""
    seconds: float | None = None
    cpu_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Parts no field names yet, kept as they came."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form: every part given (``None`` is a part not given), then ``extra``."""
        data = {name: getattr(self, name) for name in _EXPLANATION_FIELDS}
        return {**{k: v for k, v in data.items() if v is not None}, **self.extra}

    def add_note(self, note: str) -> None:
        """Add a line to the notes."""
        self.notes = [*(self.notes or []), note]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Explanation:
        """Rebuild from :meth:`to_json` output (or a deep probe's dict)."""
        known = {name: data[name] for name in _EXPLANATION_FIELDS if name in data}
        extra = {k: v for k, v in data.items() if k not in _EXPLANATION_FIELDS}
        return cls(**known, extra=extra)


_EXPLANATION_FIELDS = (
    "runs",
    "sites",
    "types",
    "holders",
    "sizes",
    "chain",
    "graph",
    "notes",
    "native",
    "resources",
    "seconds",
    "cpu_seconds",
)


@dataclass(init=False)
class TestResult:
    """The outcome of checking one test, with everything the reports need."""

    __test__ = False  # not a pytest test class, wherever it is imported

    status: str
    """A :class:`Status` (a plain word where a report had one this version does not know)."""
    reason: str
    warmup: int
    trends: tuple[ProbeTrend, ...]
    samples: dict[str, list[int]]
    error: str
    explanation: Explanation | None
    """Allocation sites, growing types and holders (deep probes, leaks only)."""
    runs_made: int
    """Measured runs made when no probe was judged (a re-run failed or skipped itself)."""
    suppressions: list[dict[str, Any]]
    """For a leak that ``site:``/``type:`` suppressions explained (the verdict is then
    clean): each suppression used, with the bytes and objects per run it matched."""
    holder_check_runs: int
    """Runs made after the window by the holder check of a clean test whose window rose
    (deep.py): executions that no window counts."""
    nodeid: str = field(default="", compare=False)
    """The test's node id (set when the result is put on the report); not part of the
    verdict's identity."""

    def __init__(
        self,
        status: str,
        reason: str = "",
        warmup: int = 0,
        trends: tuple[ProbeTrend, ...] = (),
        samples: dict[str, list[int]] | None = None,
        error: str = "",
        explanation: Explanation | Mapping[str, Any] | None = None,
        runs_made: int = 0,
        suppressions: list[dict[str, Any]] | None = None,
        nodeid: str = "",
        holder_check_runs: int = 0,
    ) -> None:
        """As the fields; an ``explanation`` given as a dict is taken as its JSON form."""
        self.status = Status.of(status) or status
        self.reason, self.warmup, self.trends = reason, warmup, trends
        self.samples = {} if samples is None else samples
        self.error = error
        if isinstance(explanation, Mapping):
            explanation = Explanation.from_json(explanation)
        self.explanation = explanation
        self.runs_made = runs_made
        self.suppressions = [] if suppressions is None else suppressions
        self.nodeid = nodeid
        self.holder_check_runs = holder_check_runs

    @property
    def runs(self) -> int:
        """Measured runs (warm-up runs not counted)."""
        return max((t.runs for t in self.trends), default=self.runs_made)

    @property
    def offending(self) -> list[ProbeTrend]:
        """Decisive probes that grew (for a leak) or were noisy (inconclusive)."""
        wanted = {LEAK: (GROWING,), INCONCLUSIVE: (GROWING, NOISY)}.get(self.status, ())
        return [t for t in self.trends if t.decisive and t.trend in wanted]

    def severity(self) -> float:
        """A sort key: the largest growth per run among offending byte probes, then counts."""
        offending = self.offending
        byte_growth = [t.growth_per_run for t in offending if t.unit == "bytes"]
        count_growth = [t.growth_per_run for t in offending if t.unit != "bytes"]
        return max(byte_growth, default=0.0) * 1e6 + max(count_growth, default=0.0)

    def is_compact(self) -> bool:
        """Whether the compact form says it all: clean, nothing to say, every probe quiet."""
        return (
            self.status == CLEAN
            and bool(self.trends)
            and not (self.reason or self.error or self.explanation or self.suppressions)
            and not self.holder_check_runs
            and all(t.quiet for t in self.trends)
        )

    def to_json(self, compact: bool = False) -> dict[str, Any]:
        """The JSON form (plain types: it crosses xdist as is).

        With ``compact``, a result that :meth:`is_compact` gets the compact form
        ``{"nodeid", "verdict", "warmup", "runs", "flat": {probe: threshold}}``, and
        ``"moved": {probe: [growth, tail growth]}`` for the probes whose figures are
        not 0; the probes' units are the report's (``units`` at its top level).
        """
        if compact and self.is_compact():
            data: dict[str, Any] = {
                "nodeid": self.nodeid,
                "verdict": Status.CLEAN.value,
                "warmup": self.warmup,
                "runs": self.runs,
                "flat": {t.probe: t.threshold for t in self.trends},
            }
            moved = {
                t.probe: [t.growth_per_run, t.tail_growth_per_run]
                for t in self.trends
                if t.growth_per_run or t.tail_growth_per_run
            }
            if moved:
                data["moved"] = moved
            return data
        from .report.text import message  # the failure message is part of the JSON form

        return {
            "nodeid": self.nodeid,
            "verdict": str.__str__(self.status),
            "reason": self.reason,
            "warmup": self.warmup,
            "runs": self.runs,
            "holder_check_runs": self.holder_check_runs,
            "growth_per_run": {t.probe: t.growth_per_run for t in self.trends},
            "trend": {t.probe: t.trend for t in self.trends},
            "thresholds": {t.probe: t.threshold for t in self.trends},
            "units": {t.probe: t.unit for t in self.trends},
            "rising_runs": {t.probe: t.rising_runs for t in self.trends},
            "tail_growth_per_run": {t.probe: t.tail_growth_per_run for t in self.trends},
            "sustained_growth_per_run": {t.probe: t.sustained_growth_per_run for t in self.trends},
            "samples": {name: list(values) for name, values in self.samples.items()},
            "error": self.error,
            "explanation": self.explanation.to_json() if self.explanation else None,
            "suppressions": [dict(entry) for entry in self.suppressions],
            "message": message(self) if self.status != CLEAN else "",
        }

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], units: Mapping[str, str] | None = None
    ) -> TestResult:
        """Rebuild a result from :meth:`to_json` output (as received from an xdist worker).

        ``units`` gives the probes' units for the compact form (the report's ``units``).
        """
        if "flat" in data:
            return cls._from_compact(data, units or {})
        trends = tuple(
            ProbeTrend(
                probe=name,
                unit=data["units"][name],
                trend=data["trend"][name],
                growth_per_run=data["growth_per_run"][name],
                tail_growth_per_run=data["tail_growth_per_run"][name],
                rising_runs=data["rising_runs"][name],
                sustained_growth_per_run=data.get("sustained_growth_per_run", {}).get(name, 0.0),
                runs=data["runs"],
                threshold=data["thresholds"][name],
            )
            for name in data["growth_per_run"]
        )
        return cls(
            status=data["verdict"],
            reason=data.get("reason", ""),
            warmup=data.get("warmup", 0),
            trends=trends,
            samples={k: list(v) for k, v in data.get("samples", {}).items()},
            error=data.get("error", ""),
            explanation=data.get("explanation"),
            runs_made=0 if trends else data.get("runs", 0),
            suppressions=[dict(entry) for entry in data.get("suppressions") or []],
            nodeid=data.get("nodeid", ""),
            holder_check_runs=data.get("holder_check_runs", 0),
        )

    @classmethod
    def _from_compact(cls, data: Mapping[str, Any], units: Mapping[str, str]) -> TestResult:
        runs, moved = data["runs"], data.get("moved", {})
        trends = []
        for name, threshold in data["flat"].items():
            growth, tail = moved.get(name, (0.0, 0.0))
            unit = units.get(name, "count")
            trends.append(ProbeTrend(name, unit, FLAT, growth, tail, 0, runs, threshold))
        warmup = data.get("warmup", 0)
        return cls(CLEAN, warmup=warmup, trends=tuple(trends), nodeid=data["nodeid"])

    # -- kept for this round: other branches still call these (see report/text.py) --

    from_dict = from_json

    def to_dict(self) -> dict[str, Any]:
        """The full JSON form, without ``nodeid`` while none is set (as before it was)."""
        data = self.to_json()
        if not self.nodeid:
            del data["nodeid"]
        return data

    def message(self) -> str:
        """The failure message (see :func:`pytest_leakguard.report.text.message`)."""
        from .report.text import message

        return message(self)

    def summary(self) -> str:
        """A short phrase (see :func:`pytest_leakguard.report.text.summary`)."""
        from .report.text import summary

        return summary(self)


class Kept:
    """What a session keeps of each result (the controller, for its reports).

    A compact result becomes a dict of its own whose keys are this module's strings
    (xdist gives each received report fresh ones) and whose ``flat`` is shared with
    every earlier clean test that had the same probes and thresholds; the JUnit
    properties of the reports (:meth:`property`) are shared too.  What a clean test
    then costs is one small dict.
    """

    def __init__(self) -> None:
        self._flat: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
        self._properties: dict[tuple[str, type, Any], tuple[str, Any]] = {}

    def property(self, name: str, value: Any) -> tuple[str, Any]:
        """A JUnit property ``(name, value)``, one copy for the values many tests share
        (a status word, a number of runs, a growth of 0): reports keep them to the end."""
        if isinstance(value, float) and value:
            return (name, value)  # a growth: the tests that have one are few
        return self._properties.setdefault((name, type(value), value), (name, value))

    def __call__(self, data: dict[str, Any], nodeid: str) -> dict[str, Any]:
        """The dict to keep for ``data``, the JSON form of the result of test ``nodeid``."""
        flat = data.get("flat")
        if flat is None:
            return data
        shared = self._flat.setdefault(tuple(flat.items()), flat)
        kept = {
            "nodeid": nodeid,
            "verdict": Status.CLEAN.value,
            "warmup": data["warmup"],
            "runs": data["runs"],
            "flat": shared,
        }
        if "moved" in data:
            kept["moved"] = data["moved"]
        return kept


def expand(entry: Mapping[str, Any], units: Mapping[str, str]) -> dict[str, Any]:
    """A report entry in the full form: a compact one rebuilt (without samples), else as is.

    ``units`` are the report's.  A malformed compact entry (a hand-edited report) is
    returned as is, for the reader to show what it can.
    """
    if "flat" not in entry:
        return dict(entry)
    try:
        return TestResult.from_json(entry, units).to_json()
    except (KeyError, TypeError, ValueError, AttributeError):
        return dict(entry)


__all__ = [
    "CLEAN",
    "ERROR",
    "FLAT",
    "GROWING",
    "INCONCLUSIVE",
    "LEAK",
    "NOISY",
    "SKIPPED",
    "VERDICTS",
    "Explanation",
    "Kept",
    "ProbeTrend",
    "Status",
    "TestResult",
    "expand",
]
