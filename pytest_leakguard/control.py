"""A control run for a leak: does the growth remain with ``tracemalloc`` off?

``tracemalloc`` keeps, for as long as it traces, the file name of every code
object that allocated memory while traced (its table of file names holds a
reference to each distinct one).  A test that compiles code under a new name on
every run (``FunctionBuilder``, templating, ``exec`` with a counter in the file
name) then grows by one string per run: the instrument's growth, not the test's.
With tracing stopped the table is emptied and no longer fills; if the ``blocks``
growth that decided the leak is gone, the leak was the table's.
"""

from __future__ import annotations

import tracemalloc
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .result import FLAT, GROWING, ProbeTrend
from .tracing import Tracing
from .verdict import assess

COUNT_PROBES = ("blocks", "objects", "malloc")
"""Sampled with tracing off (``malloc``: tracemalloc's own tables come from the C heap)."""


def needs_control(offending: Sequence[ProbeTrend]) -> bool:
    """Whether the table of file names can explain the leak: ``blocks`` grew, nothing but
    memory probes decided, and ``tracemalloc`` is tracing."""
    names = {t.probe for t in offending}
    return (
        tracemalloc.is_tracing()
        and "blocks" in names
        and names <= {"blocks", "objects", "heap", "malloc"}
        and all(t.trend == GROWING for t in offending)
    )


def growth_without_tracing(
    run_once: Callable[[], Any],
    settle: Callable[[], None],
    probes: Sequence[Any],
    thresholds: Mapping[str, float | None],
    runs: int,
) -> list[ProbeTrend] | None:
    """Run the test ``1 + runs`` times with tracing off; the count probes' trends.

    The sample after the first run is the base: stopping tracing frees what the
    table held.  Returns ``None`` if a run did not pass; tracing is restarted with
    the same number of frames.
    """
    counters = [p for p in probes if p.name in COUNT_PROBES]
    # Preallocated: storing a sample must allocate nothing that stays alive.
    windows = {p.name: array("q", bytes(8 * (1 + runs))) for p in counters}
    with Tracing() as tracing:
        tracing.pause()
        for index in range(1 + runs):
            if run_once() is not None:
                return None
            settle()
            for probe in counters:
                windows[probe.name][index] = probe.sample()
    return [
        assess(name, window.tolist(), thresholds.get(name) or 0.0, "count")
        for name, window in windows.items()
    ]


def tracemalloc_own(trends: Sequence[ProbeTrend]) -> bool:
    """Whether the count probes were flat once tracing was off."""
    return bool(trends) and all(t.trend == FLAT for t in trends)
