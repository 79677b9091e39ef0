"""The leak decision: samples in, :class:`Verdict` out.

Pure: no pytest import, no I/O, no global state, so every rule here is
unit-tested with plain lists.

A *window* is the series of samples a probe took after the warm-up runs: the
last warm-up sample first (the base), then one sample after each measured run.
A probe's series is judged by three figures:

* ``growth``: average growth per run over the whole window,
* ``tail growth``: average growth per run over the last third of the window
  (at least four runs), which tells sustained growth from growth that stopped
  (a bounded cache that filled up, a lazy import in a measured run),
* ``rising steps``: how many runs grew by more than the threshold.

A probe is *growing* when all three say so (see :func:`assess`); *flat* when the
tail did not grow beyond the threshold; *noisy* otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .units import format_amount

LEAK = "leak"
CLEAN = "clean"
INCONCLUSIVE = "inconclusive"
ERROR = "error"
SKIPPED = "skipped"
VERDICTS = (LEAK, INCONCLUSIVE, ERROR, CLEAN, SKIPPED)

GROWING = "growing"
FLAT = "flat"
NOISY = "noisy"

CONTINUE = "continue"
"""Returned by :func:`decide` while more runs are needed."""

MIN_TAIL = 4
"""Runs in the shortest tail: a leak that grows every 2nd, 3rd or 4th run is seen in it."""

MIN_MOVING_RUNS = MIN_TAIL + 1
"""The fewest measured runs for a window that moved at all: its tail needs :data:`MIN_TAIL`
runs after the first one, which may hold the last of a one-off step."""


def is_quiet(
    windows: Mapping[str, Sequence[float]],
    thresholds: Mapping[str, float | None],
    floors: Mapping[str, float] | None = None,
) -> bool:
    """Whether no decisive probe's window moved at all (beyond the probe's resolution floor)."""
    floors = floors or {}
    return all(
        thresholds.get(name) is None or max(window) - min(window) <= floors.get(name, 0.0)
        for name, window in windows.items()
    )


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

    def describe(self) -> str:
        """One line for people: ``heap: +1.0 MiB/run over 20 runs (budget 0 B)``."""
        growth = format_amount(self.growth_per_run, self.unit)
        sign = "+" if self.growth_per_run >= 0 else ""
        line = f"{self.probe}: {sign}{growth}/run over {self.runs} runs"
        line += f", grew in {self.rising_runs} of {self.runs}"
        if self.threshold is None:
            return line + " (informative)"
        return line + f" (budget {format_amount(self.threshold, self.unit)}/run)"


def tail_length(steps: int) -> int:
    """Number of runs in the tail of a window of ``steps`` runs."""
    return min(steps, max(MIN_TAIL, math.ceil(steps / 3)))


def _slope(points: Sequence[float]) -> float:
    """Least-squares growth per run: unlike the two end points, blind to the phase of noise."""
    n = len(points)
    mean_x = (n - 1) / 2
    mean_y = sum(points) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(points))
    return num / sum((x - mean_x) ** 2 for x in range(n))


def assess(
    probe: str,
    window: Sequence[float],
    threshold: float | None,
    unit: str = "count",
    floor: float = 0.0,
) -> ProbeTrend:
    """Classify one probe's window (base sample first) as growing, flat or noisy.

    ``threshold`` is the growth per run that is tolerated; ``None`` makes the
    probe informative (its trend is computed against 0 but never decides).
    ``floor`` is the probe's resolution: growth below it is never *sustained*.
    """
    steps = len(window) - 1
    if steps < 1:
        raise ValueError("a window needs at least two samples")
    if min(window) == max(window):  # the common case, without the arithmetic
        return ProbeTrend(probe, unit, FLAT, 0.0, 0.0, 0, steps, threshold)
    limit = 0.0 if threshold is None else threshold
    growth = (window[-1] - window[0]) / steps
    tail = tail_length(steps)
    tail_growth = _slope(window[-1 - tail :])
    trend = _classify(window, limit, growth, tail_growth)
    rising = sum(1 for a, b in zip(window, window[1:]) if b - a > limit)
    # The growth that would be a leak with no budget at all: what baselines compare.
    sustained = growth if _classify(window, floor, growth, tail_growth) == GROWING else 0.0
    return ProbeTrend(probe, unit, trend, growth, tail_growth, rising, steps, threshold, sustained)


def _classify(window: Sequence[float], limit: float, growth: float, tail_growth: float) -> str:
    steps = len(window) - 1
    if tail_growth <= limit:
        return FLAT
    rising = sum(1 for a, b in zip(window, window[1:]) if b - a > limit)
    if growth > limit and rising >= max(3, math.ceil(steps / 4)):
        return GROWING
    return NOISY


@dataclass(frozen=True)
class Decision:
    """What :func:`decide` concluded: a verdict status or :data:`CONTINUE`."""

    status: str
    trends: tuple[ProbeTrend, ...]
    reason: str = ""
    """Why, when the confirmation stage decided (see :func:`decide`)."""


@dataclass(frozen=True)
class Confirmation:
    """The confirmation stage's budget: how long a test still growing at ``max_runs`` runs on.

    ``runs``: measured runs at most (at or below ``max_runs``: no confirmation);
    ``out_of_time``: whether its time is spent (the runner's clock, so that this stays pure).
    """

    runs: int
    out_of_time: bool = False
    seconds: float | None = None
    """The time budget, for the reason only."""


CONFIRM_BYTES = 64 * 1024 * 1024
"""Growth of a byte probe over the window that confirms a leak before the budget is spent:
a test that kept this much more alive by re-running has shown what it costs."""


def decide(
    windows: Mapping[str, Sequence[float]],
    thresholds: Mapping[str, float | None],
    units: Mapping[str, str],
    *,
    min_runs: int,
    max_runs: int,
    floors: Mapping[str, float] | None = None,
    confirmation: Confirmation | None = None,
) -> Decision:
    """Judge the windows of all probes after ``len(window) - 1`` measured runs.

    * fewer than ``min_runs`` runs, or fewer than :data:`MIN_MOVING_RUNS` (and
      ``max_runs``) when a decisive probe moved at all (see :func:`is_quiet`):
      :data:`CONTINUE`;
    * every decisive probe flat: :data:`CLEAN` (early stop); after ``max_runs``,
      with the reason (growth that stopped, or fell back to where it began, is
      bounded; one that fell back short of it runs on, see :func:`growth_shape`);
    * a decisive probe growing or noisy before ``max_runs``: :data:`CONTINUE`
      (a bounded cache that is still filling looks like a leak until it is full);
    * from ``max_runs`` on, the confirmation stage, while ``confirmation`` allows
      (``confirmation``: runs left, time left; and no byte probe grown by
      :data:`CONFIRM_BYTES`):
      :data:`CONTINUE`;
    * at the end: :data:`LEAK` if a decisive probe grows (a count probe only
      when no exact byte probe is judged, see :func:`counts_decide`), else
      :data:`INCONCLUSIVE`.
    """
    floors = floors or {}
    trends = tuple(
        assess(name, window, thresholds.get(name), units.get(name, "count"), floors.get(name, 0.0))
        for name, window in windows.items()
    )
    runs = min((t.runs for t in trends), default=0)
    decisive = [t for t in trends if t.decisive]
    if runs < min_runs or (
        runs < min(MIN_MOVING_RUNS, max_runs) and not is_quiet(windows, thresholds, floors)
    ):
        return Decision(CONTINUE, trends)
    if runs < max_runs and not all(t.trend == FLAT for t in decisive):
        return Decision(CONTINUE, trends)
    spent = (
        _spent(confirmation or Confirmation(max_runs), runs, trends) if runs >= max_runs else None
    )
    if all(t.trend == FLAT for t in decisive):
        return _flat(windows, trends, confirming=runs > max_runs, spent=spent is not None)
    if spent is None:
        return Decision(CONTINUE, trends)
    growing = [t for t in decisive if t.trend == GROWING]
    counts = counts_decide(decisive, floors)
    if any(t.unit != "count" or counts for t in growing):
        return Decision(LEAK, trends, _leak_reason(runs, max_runs, spent))
    return Decision(INCONCLUSIVE, trends)


def _flat(
    windows: Mapping[str, Sequence[float]],
    trends: tuple[ProbeTrend, ...],
    *,
    confirming: bool,
    spent: bool,
) -> Decision:
    """Every decisive probe's tail is flat: clean, unless a confirmed one fell short.

    In the confirmation stage, a probe that fell back but kept much of its rise (see
    :func:`growth_shape`) is a leak under a sawtooth until shown otherwise: it runs on,
    and is a leak when the budget is spent with it still short.
    """
    if not confirming:
        return Decision(CLEAN, trends)
    shapes = {
        t.probe: growth_shape(windows[t.probe], t.threshold or 0.0) for t in trends if t.decisive
    }
    if all(shape != SHORT for _, shape in shapes.values()):
        return Decision(CLEAN, trends, bounded_reason(shapes))
    if not spent:
        return Decision(CONTINUE, trends)
    short = ", ".join(name for name, (_, shape) in shapes.items() if shape == SHORT)
    reason = (
        f"{short} fell back after growing but stayed well above where it began, until the"
        " confirmation's budget ran out: a leak on top of a sawtooth"
    )
    return Decision(LEAK, trends, reason)


def _spent(budget: Confirmation, runs: int, trends: Sequence[ProbeTrend]) -> str | None:
    """Which part of the confirmation's budget is spent (``None``: none, run on)."""
    if runs >= budget.runs:
        return f"{budget.runs} runs"
    if budget.out_of_time:
        return f"{budget.seconds:g} s" if budget.seconds is not None else "its time"
    for trend in trends:
        grown = trend.growth_per_run * trend.runs
        if trend.decisive and trend.unit == "bytes" and grown >= CONFIRM_BYTES:
            return f"{trend.probe} grew by {format_amount(grown, 'bytes')}"
    return None


def _leak_reason(runs: int, max_runs: int, spent: str) -> str:
    if runs <= max_runs:
        return ""  # no confirmation stage: the window's verdict, as it always was
    return (
        f"still growing after {runs} runs, when the confirmation's budget ran out ({spent}):"
        " growth that lasts that long is a leak"
    )


PLATEAU = "a plateau"
SAWTOOTH = "it fell back (a sawtooth)"
SHORT = "fell short"
"""The shapes of growth that stopped (see :func:`growth_shape`)."""


def growth_shape(window: Sequence[float], threshold: float) -> tuple[int, str]:
    """The run at which a window whose tail is flat peaked, and the shape of what followed.

    * :data:`PLATEAU`: it never fell by more than a quarter of its rise after the peak;
    * :data:`SAWTOOTH`: it fell back to within a tenth of its rise of where the window
      began (a container purged when it passes a size): nothing was kept;
    * :data:`SHORT`: it fell back, but kept more, as a leak on top of a sawtooth does.
    """
    peak = max(window)
    rise = peak - window[0]
    if rise <= threshold:
        return 0, PLATEAU
    at = list(window).index(peak)
    low = min(window[at:])
    if peak - low <= max(threshold, rise / 4):
        return at, PLATEAU
    if low - window[0] <= max(threshold, rise / 10):
        return at, SAWTOOTH
    return at, SHORT


def bounded_reason(shapes: Mapping[str, tuple[int, str]]) -> str:
    """Why growth seen at ``max_runs`` is bounded: when it stopped (the probe that grew
    longest), and whether it fell back."""
    peak_run, shape = max(shapes.values(), default=(0, PLATEAU))
    return f"growth stopped after {peak_run} runs: bounded, {shape}"


def counts_decide(decisive: Sequence[ProbeTrend], floors: Mapping[str, float]) -> bool:
    """Whether growing counts (blocks, objects) make a leak on their own.

    They only corroborate an *exact* byte probe (one without a resolution floor,
    ``heap``): every Python allocation shows in it, so counts growing while it is flat
    are not a leak.  A coarse one (``rss``, 64 KiB) or a resource probe cannot see a
    few blocks per run, so while none but these is judged, the counts decide.
    """
    return not any(t.unit == "bytes" and not floors.get(t.probe) for t in decisive)


@dataclass
class Verdict:
    """The outcome of checking one test, with everything the reports need."""

    status: str
    reason: str = ""
    warmup: int = 0
    trends: tuple[ProbeTrend, ...] = ()
    samples: dict[str, list[int]] = field(default_factory=dict)
    error: str = ""
    explanation: dict[str, Any] | None = None
    """Allocation sites, growing types and holders (deep probes, leaks only)."""
    runs_made: int = 0
    """Measured runs made when no probe was judged (a re-run failed or skipped itself)."""
    suppressions: list[dict[str, Any]] = field(default_factory=list)
    """For a leak that ``site:``/``type:`` suppressions explained (the verdict is then
    clean): each suppression used, with the bytes and objects per run it matched."""

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

    def message(self) -> str:
        """The failure message: the verdict, then one line per probe."""
        head = {
            LEAK: "memory leak: retained memory grows from run to run",
            INCONCLUSIVE: "leak check inconclusive: growth that is neither flat nor sustained",
            ERROR: "leak check error: a re-run of the test failed",
            CLEAN: "no leak",
            SKIPPED: "leak check skipped",
        }[self.status]
        lines = [f"{head} ({self.runs} measured runs after {self.warmup} warm-up runs)"]
        if self.reason:
            lines.append(self.reason)
        marked = {t.probe for t in self.offending}
        for trend in self.trends:
            prefix = "  > " if trend.probe in marked else "    "
            lines.append(prefix + trend.describe())
        if self.error:
            lines.append(self.error)
        if self.explanation:
            lines.extend(explanation_lines(self.explanation))
        return "\n".join(lines)

    def summary(self) -> str:
        """A short phrase for one summary line: the offending probes' growth per run."""
        if self.status in (ERROR, SKIPPED):
            return self.reason
        shown = self.offending or [t for t in self.trends if t.decisive]
        parts = []
        for trend in shown:
            sign = "+" if trend.growth_per_run >= 0 else ""
            parts.append(
                f"{trend.probe} {sign}{format_amount(trend.growth_per_run, trend.unit)}/run"
            )
        return ", ".join(parts) + f" ({self.runs} runs)"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (it travels on the test report, across xdist too)."""
        return {
            "verdict": self.status,
            "reason": self.reason,
            "warmup": self.warmup,
            "runs": self.runs,
            "growth_per_run": {t.probe: t.growth_per_run for t in self.trends},
            "trend": {t.probe: t.trend for t in self.trends},
            "thresholds": {t.probe: t.threshold for t in self.trends},
            "units": {t.probe: t.unit for t in self.trends},
            "rising_runs": {t.probe: t.rising_runs for t in self.trends},
            "tail_growth_per_run": {t.probe: t.tail_growth_per_run for t in self.trends},
            "sustained_growth_per_run": {t.probe: t.sustained_growth_per_run for t in self.trends},
            "samples": {name: list(values) for name, values in self.samples.items()},
            "error": self.error,
            "explanation": self.explanation,
            "suppressions": [dict(entry) for entry in self.suppressions],
            "message": self.message() if self.status != CLEAN else "",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """Rebuild a verdict from :meth:`to_dict` output (as received from an xdist worker)."""
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
        )


def explanation_lines(explanation: Mapping[str, Any], top: int = 3) -> list[str]:
    """The short form of an explanation for the failure message (the JSON has it all)."""
    lines = []
    for probe, found in explanation.get("resources", {}).items():
        lines.append(f"new {probe} still open after the runs:")
        lines.extend(f"  {line}" for line in found)
    if "sites" not in explanation:
        return lines + _native_lines(explanation, top)
    runs = explanation.get("runs", 0)
    lines.append(f"where it is allocated (tracemalloc, growth over {runs} more runs, per run):")
    sites = explanation.get("sites", [])[:top]
    for site in sites:
        size = format_amount(site["size_per_run"], "bytes")
        blocks = format_amount(site["count_per_run"], "count")
        lines.append(f"  {site['file']}:{site['line']}: +{size}/run, +{blocks} blocks/run")
        if site.get("code"):
            lines.append(f"      {site['code']}")
        callers = site.get("called_from", [])
        # The outermost (usually the test) and the nearest caller say the most.
        for caller in dict.fromkeys([*callers[:1], *callers[-1:]]):
            lines.append(f"      called from {caller}")
    if not sites:
        lines.append("  (no growing Python allocation in your code: native memory, see rss)")
    types_ = explanation.get("types", [])[:5]
    if types_:
        growth = ", ".join(
            f"{t['type']} +{format_amount(t['count_per_run'], 'count')}" for t in types_
        )
        lines.append(f"growing types (objects per run): {growth}")
    holders = explanation.get("holders", [])[:top]
    if holders:
        lines.append("who keeps it alive (containers growing per run):")
        for holder in holders:
            example = f" {holder['example']}" if holder.get("example") else ""
            growth = format_amount(holder["growth_per_run"], "count")
            lines.append(f"  {holder['path']}: +{growth}/run{example}")
    sizes = explanation.get("sizes", [])[:5]
    if sizes:
        growth = ", ".join(
            f"{t['type']} +{format_amount(t['size_per_run'], 'bytes')}" for t in sizes
        )
        lines.append(f"growing types by size (pympler, bytes per run): {growth}")
    if explanation.get("chain"):
        lines.append(f"back-reference chain: {explanation['chain']}")
    graph = explanation.get("graph")
    if graph:
        svg = f" (SVG: {graph['svg']})" if graph.get("svg") else ""
        lines.append(f"back-reference graph: {graph['dot']}{svg}")
    lines.extend(f"note: {note}" for note in explanation.get("notes", []))
    lines.extend(cost_lines(explanation))
    return lines + _native_lines(explanation, top)


def cost_lines(explanation: Mapping[str, Any]) -> list[str]:
    """What the deep probes cost, so that a slow explanation is seen (and can be turned off)."""
    seconds, cpu = explanation.get("seconds"), explanation.get("cpu_seconds")
    if not isinstance(seconds, (int, float)):
        return []
    spent = f" ({cpu:.2f} s CPU)" if isinstance(cpu, (int, float)) else ""
    return [f"explained in {seconds:.2f} s{spent} (--leakguard-explain=no to skip)"]


def _native_lines(explanation: Mapping[str, Any], top: int) -> list[str]:
    native = explanation.get("native")
    if not native:
        return []
    from .native import native_lines

    return native_lines(native, top)
