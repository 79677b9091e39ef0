"""The leak decision: samples in, :class:`Decision` out (the result is result.py's).

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .result import CLEAN, FLAT, GROWING, INCONCLUSIVE, LEAK, NOISY, ProbeTrend
from .units import format_amount

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


def growing_probes(trends: Iterable[ProbeTrend]) -> set[str]:
    """The deciding probes whose trend is growing."""
    return {t.probe for t in trends if t.decisive and t.trend == GROWING}


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

CONFIRM_RESOURCES = 128
"""The same for a resource probe (fds, threads, tasks, processes): more than any pool's
usual bound (a thread pool's 32 workers), and far from the process's limits (1,024 fds
by default): a leak of one per run must not exhaust them for the tests after it."""

_CONFIRM_CAPS = {"bytes": CONFIRM_BYTES, "resources": CONFIRM_RESOURCES}
"""The growth over the window that confirms a leak early, by unit (none for counts)."""


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
      :data:`CONFIRM_BYTES`, no resource probe by :data:`CONFIRM_RESOURCES`):
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
    moving = [t for t in decisive if t.trend != FLAT]
    cycles = _cycles(windows, moving) if runs > max_runs else None
    if cycles is not None:
        return Decision(CLEAN, trends, bounded_reason(cycles))
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


def _cycles(
    windows: Mapping[str, Sequence[float]], moving: Sequence[ProbeTrend]
) -> dict[str, tuple[int, str]] | None:
    """The shapes of moving (growing or noisy) probes that all fell back to where they
    began since their peak (a container purged past a size, caught rising again, or just
    purged, when the budget ran out); ``None`` if one did not: a leak's lows climb."""
    shapes = {t.probe: growth_shape(windows[t.probe], t.threshold or 0.0) for t in moving}
    if shapes and all(shape == SAWTOOTH for _, shape in shapes.values()):
        return shapes
    return None


def _spent(budget: Confirmation, runs: int, trends: Sequence[ProbeTrend]) -> str | None:
    """Which part of the confirmation's budget is spent (``None``: none, run on)."""
    if runs >= budget.runs:
        return f"{budget.runs} runs"
    if budget.out_of_time:
        return f"{budget.seconds:g} s" if budget.seconds is not None else "its time"
    for trend in trends:
        grown = trend.growth_per_run * trend.runs
        cap = _CONFIRM_CAPS.get(trend.unit)
        if trend.decisive and cap is not None and grown >= cap:
            return f"{trend.probe} grew by {format_amount(grown, trend.unit)}"
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

    ``threshold`` is the growth per run tolerated: what the window may keep over all its
    runs (a byte probe's resolution floor makes a few hundred bytes kept over 300 runs noise).
    """
    peak = max(window)
    rise = peak - window[0]
    if rise <= threshold:
        return 0, PLATEAU
    at = list(window).index(peak)
    low = min(window[at:])
    if peak - low <= max(threshold, rise / 4):
        return at, PLATEAU
    if low - window[0] <= max(threshold * (len(window) - 1), rise / 10):
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


__all__ = [
    "CONFIRM_BYTES",
    "CONFIRM_RESOURCES",
    "CONTINUE",
    "MIN_MOVING_RUNS",
    "MIN_TAIL",
    "Confirmation",
    "Decision",
    "assess",
    "counts_decide",
    "decide",
    "growing_probes",
    "growth_shape",
    "is_quiet",
    "tail_length",
]
