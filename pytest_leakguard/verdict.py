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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The statuses and the trend of a probe are the result's (result.py); Verdict and the
# rendering functions are re-exported for the code that imports them from here.
from .report.text import cost_lines, explanation_lines
from .result import (
    CLEAN,
    ERROR,
    FLAT,
    GROWING,
    INCONCLUSIVE,
    LEAK,
    NOISY,
    SKIPPED,
    VERDICTS,
    ProbeTrend,
    Status,
)
from .result import TestResult as Verdict

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


@dataclass(frozen=True)
class Decision:
    """What :func:`decide` concluded: a verdict status or :data:`CONTINUE`."""

    status: str
    trends: tuple[ProbeTrend, ...]


def decide(
    windows: Mapping[str, Sequence[float]],
    thresholds: Mapping[str, float | None],
    units: Mapping[str, str],
    *,
    min_runs: int,
    max_runs: int,
    floors: Mapping[str, float] | None = None,
) -> Decision:
    """Judge the windows of all probes after ``len(window) - 1`` measured runs.

    * fewer than ``min_runs`` runs, or fewer than :data:`MIN_MOVING_RUNS` (and
      ``max_runs``) when a decisive probe moved at all (see :func:`is_quiet`):
      :data:`CONTINUE`;
    * every decisive probe flat: :data:`CLEAN` (early stop);
    * a decisive probe growing or noisy before ``max_runs``: :data:`CONTINUE`
      (a bounded cache that is still filling looks like a leak until it is full);
    * at ``max_runs``: :data:`LEAK` if a decisive probe grows (a count probe only
      when no exact byte probe is judged, see :func:`counts_decide`), else
      :data:`INCONCLUSIVE`.
    """
    trends = tuple(
        assess(
            name,
            window,
            thresholds.get(name),
            units.get(name, "count"),
            (floors or {}).get(name, 0.0),
        )
        for name, window in windows.items()
    )
    runs = min((t.runs for t in trends), default=0)
    decisive = [t for t in trends if t.decisive]
    if runs < min_runs or (
        runs < min(MIN_MOVING_RUNS, max_runs) and not is_quiet(windows, thresholds, floors)
    ):
        return Decision(CONTINUE, trends)
    if all(t.trend == FLAT for t in decisive):
        return Decision(CLEAN, trends)
    if runs < max_runs:
        return Decision(CONTINUE, trends)
    growing = [t for t in decisive if t.trend == GROWING]
    counts = counts_decide(decisive, floors or {})
    if any(t.unit != "count" or counts for t in growing):
        return Decision(LEAK, trends)
    return Decision(INCONCLUSIVE, trends)


def counts_decide(decisive: Sequence[ProbeTrend], floors: Mapping[str, float]) -> bool:
    """Whether growing counts (blocks, objects) make a leak on their own.

    They only corroborate an *exact* byte probe (one without a resolution floor,
    ``heap``): every Python allocation shows in it, so counts growing while it is flat
    are not a leak.  A coarse one (``rss``, 64 KiB) or a resource probe cannot see a
    few blocks per run, so while none but these is judged, the counts decide.
    """
    return not any(t.unit == "bytes" and not floors.get(t.probe) for t in decisive)


__all__ = [  # with the names kept here for the code that imports them from this module
    "CLEAN",
    "CONTINUE",
    "ERROR",
    "FLAT",
    "GROWING",
    "INCONCLUSIVE",
    "LEAK",
    "MIN_MOVING_RUNS",
    "MIN_TAIL",
    "NOISY",
    "SKIPPED",
    "VERDICTS",
    "Decision",
    "ProbeTrend",
    "Status",
    "Verdict",
    "assess",
    "cost_lines",
    "counts_decide",
    "decide",
    "explanation_lines",
    "is_quiet",
    "tail_length",
]
