"""The deep probes' driver: what a leak's few more runs show, and what it changes.

A leak (decided by :mod:`pytest_leakguard.verdict`) is looked at more closely
over a few more runs of the test.  Every deep probe follows one protocol,
:class:`DeepProbe` (pytest-xdist's ``Scheduling`` protocol is the model):
:meth:`~DeepProbe.before` the runs, :meth:`~DeepProbe.after` them, or
:meth:`~DeepProbe.abort` when they were interrupted.  One driver,
:func:`observe`, makes the runs and calls them:

* :class:`~pytest_leakguard.explain.Explainer`: allocation sites, growing
  types, holders, back-reference chain (``--leakguard-explain``);
* :class:`~pytest_leakguard.attribution.Observer`: the growth that ``site:`` /
  ``type:`` suppressions match, over the same runs;
* :class:`~pytest_leakguard.native.NativeExplainer`: memray's native frames,
  over runs of their own.

Each restores ``tracemalloc`` through :class:`~pytest_leakguard.tracing.Tracing`.
:func:`explain_leak` runs the control (:mod:`pytest_leakguard.control`), the
deep probes and the resource probes' ``explain()``; :class:`Findings` applies
what they found to the verdict.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from .attribution import Observer
from .config import Settings
from .control import growth_without_tracing, needs_control, tracemalloc_own
from .explain import Explainer, gaining_every_run, graph_name
from .native import NativeExplainer, rss_only
from .probes import Probe
from .probes.memory import outer_session_traces
from .result import CLEAN, GROWING, LEAK, Explanation, TestResult
from .rootcause import ROOT_CAUSE_RUNS, root_causes
from .settle import settle
from .suppress import MEMORY_PROBES, Attribution, Suppressions, judge
from .verdict import Decision, growing_probes, is_quiet

EXPLAIN_RUNS = 3
"""Extra runs of a leaking test between the two observations of the deep probes."""

TRACEMALLOC_OWN = (
    "the growth is tracemalloc's own: it keeps the file name of every code object that"
    " allocated while traced, and this test compiles code under a new name each run;"
    " with tracing off it does not grow"
)

RunOnce = Callable[[], "TestResult | None"]
"""One more run of the test: ``None`` when it passed, else the verdict it ends with."""


class DeepProbe(Protocol):
    """A deep probe: it observes a few more runs of a leaking test, made by the driver.

    The driver calls :meth:`before` after :attr:`delay` runs, then makes the runs
    (settling after the last), then :meth:`after`; the probes of one observation
    end in the reverse order of their start, so each sees the others' bookkeeping as
    older than its own ``before``.  Whatever interrupts the runs (a failure, Ctrl-C),
    :meth:`abort` undoes what ``before`` started (tracing, a tracker).
    """

    delay: int
    """Runs the driver makes before calling :meth:`before`."""

    def before(self, absorb: Callable[[], object] | None = None) -> bool:
        """Start observing; ``absorb`` makes one more run (settled).  ``False``: no runs
        are wanted (the probe cannot observe), but :meth:`after` is still called."""
        ...

    def after(self, runs: int, complete: bool = True) -> dict[str, Any] | None:
        """Stop observing after ``runs`` runs (``complete``: every planned run passed);
        the JSON-able findings (``None``: nothing for the explanation)."""
        ...

    def abort(self) -> None:
        """Undo what :meth:`before` started; harmless when there is nothing to undo."""
        ...


def observe(
    probes: Sequence[DeepProbe], run_once: RunOnce, runs: int = EXPLAIN_RUNS
) -> dict[str, Any] | None:
    """Run ``probes`` over up to ``runs`` more runs; their findings merged.

    A failure of the probes never fails pytest: the findings are then a note.
    """
    try:
        return _observe(probes, run_once, runs)
    except Exception as exc:  # an explanation is a bonus: report, never crash the run
        return {"notes": [f"the deep probes failed: {type(exc).__name__}: {exc}"]}


def _observe(probes: Sequence[DeepProbe], run_once: RunOnce, runs: int) -> dict[str, Any] | None:
    started: list[DeepProbe] = []
    waiting = list(probes)
    watching = 0
    done = 0
    settle()
    try:
        while True:
            for probe in [p for p in waiting if p.delay == done]:
                waiting.remove(probe)
                if done:
                    settle()
                started.append(probe)  # aborted even if before() fails half-way
                watching += probe.before(absorb=lambda: _settled(run_once))
            if done >= runs or not (watching or waiting) or run_once() is not None:
                break
            done += 1
        settle()
    except BaseException:
        _abort(started)
        raise
    found: dict[str, Any] | None = None
    while started:
        probe = started.pop()
        try:
            result = probe.after(max(0, done - probe.delay), done == runs)
        except BaseException:
            _abort(started)
            raise
        if result is not None:
            found = {**(found or {}), **result}
    return found


def _abort(started: list[DeepProbe]) -> None:
    """Abort the started probes, newest first (each stops what it started)."""
    while started:
        started.pop().abort()


def _settled(run_once: RunOnce) -> None:
    run_once()
    settle()


@dataclass
class Findings:
    """What a closer look at a test found: the explanation, and what changes its verdict."""

    explanation: dict[str, Any] | None = None
    status: str | None = None
    """The verdict's status from now on (``None``: as decided), with :attr:`reason`."""
    reason: str = ""
    attribution: Attribution | None = None
    """The growth ``site:`` / ``type:`` suppressions matched."""

    def apply(self, verdict: TestResult) -> None:
        """Change the verdict as found (a leak cleared, a clean test that leaks), or add notes."""
        if self.status is not None:
            verdict.status = self.status
        if self.reason:
            verdict.reason = self.reason
        if self.status is None and self.attribution is not None:
            _suppress(verdict, self.attribution)


def explain_leak(
    item: pytest.Item,
    run_once: RunOnce,
    settings: Settings,
    decision: Decision,
    probes: Sequence[Probe],
    thresholds: Mapping[str, float | None],
) -> Findings:
    """The tracing control, then the deep probes and the resource probes' ``explain()``."""
    if outer_session_traces():  # each of them restarts tracemalloc
        return Findings({"notes": [OUTER_TRACES]})
    if _tracemalloc_own(decision, run_once, probes, thresholds, settings.runs):
        return Findings(status=CLEAN, reason=TRACEMALLOC_OWN)
    observer = _observer(item, settings)
    # With suppressions, each leak is judged by what its own runs show: no grouping; nor
    # for an open file or a thread, which no container's length stands for.
    grouped = observer is None and _python_heap_only(decision)
    causes = root_causes(item.session) if grouped else None
    if causes is not None:
        known = causes.confirm(run_once, str(item.config.rootpath))
        if known is not None:
            return _in_group(*known)
    explanation = _explain(item, run_once, settings, decision, observer)
    resources = _explain_resources(probes, decision)
    if resources:
        explanation = {**(explanation or {}), "resources": resources}
    found = Findings(explanation, attribution=observer.result if observer else None)
    filling = _bounded_filling(explanation, decision) if explanation else None
    if filling is not None:
        found.status, found.reason = CLEAN, filling
    elif causes is not None and explanation is not None:
        causes.add(explanation, item.nodeid)
    return found


OUTER_TRACES = (
    "not explained: the pytest session this one runs in counts the heap with tracemalloc,"
    " which explaining restarts (its count would be lost)"
)


def known_root_cause(
    item: pytest.Item, run_once: RunOnce, settings: Settings, decision: Decision
) -> Findings | None:
    """A test still growing at the end of its window whose growth a leak confirmed earlier
    in the session explains (its holder grows in every run, its site allocates): that
    root cause's leak, without a confirmation stage of its own.  ``None`` otherwise (and
    at no cost while no root cause is known)."""
    if Suppressions.from_items(settings.ignore) or not _python_heap_only(decision):
        return None
    known = root_causes(item.session).confirm(run_once, str(item.config.rootpath))
    return _in_group(*known) if known is not None else None


def _bounded_filling(explanation: Mapping[str, Any], decision: Decision) -> str | None:
    """The reason a leak is bounded: every holder that grew is a cache with a bound it has
    not reached (``lru_cache(maxsize=...)``, ``deque(maxlen=...)``); else ``None``.

    Only when the Python heap grew: a bounded cache holds no open file, thread or
    native memory.
    """
    holders = explanation.get("holders") or []
    if not holders or not _python_heap_only(decision):
        return None
    if not all("bound" in h and h["size"] < h["bound"] for h in holders):
        return None
    return "bounded cache filling: " + ", ".join(
        f"{h['size']}/{h['bound']} ({h['path']})" for h in holders
    )


def _python_heap_only(decision: Decision) -> bool:
    """Whether what grew is the Python heap (``heap``, ``blocks``, ``objects``; ``rss`` and
    ``malloc`` beside: Python's blocks over 512 bytes come from the C heap)."""
    growing = growing_probes(decision.trends)
    python = set(MEMORY_PROBES)
    return bool(growing & python) and growing - {"rss", "malloc"} <= python


HELD_RUNS = 3
"""Runs of a clean test whose window rose, in each of which a container must gain entries."""


def rose_only(
    windows: Mapping[str, Sequence[float]],
    thresholds: Mapping[str, float | None],
    floors: Mapping[str, float],
) -> bool:
    """Whether a decisive probe's window moved (see :func:`~pytest_leakguard.verdict.is_quiet`),
    none ever went down, and a run grew the heap without a new block (:func:`_resized`).

    What a container of shared objects does (the bytes rise at each resize, and never
    fall); a quiet test does not pay for the holder check, nor does one that went down
    (a cache purged, noise), nor one with a budget on the Python heap's probes (the
    user tolerates small growth) or without them.
    """
    decisive = [w for name, w in windows.items() if thresholds.get(name) is not None]
    budgets = [thresholds.get(name) for name in MEMORY_PROBES if name in windows]
    if any(budgets) or all(budget is None for budget in budgets):
        return False  # a budget tolerates the little growth this check finds
    return (
        not is_quiet(windows, thresholds, floors)
        and all(b >= a for window in decisive for a, b in zip(window, window[1:]))
        and _resized(windows)
    )


def _resized(windows: Mapping[str, Sequence[float]]) -> bool:
    """Whether a run grew the heap without adding a block: an array reallocated, the only
    trace of a container of shared objects gaining entries.

    A run that grew both made new objects (a lazy import, a one-off cache entry: most
    windows that rose once), which the probes follow run by run, and the holder check's
    two walks of the heap would be spent for nothing.  Without both probes, every window
    that rose qualifies.
    """
    heap, blocks = windows.get("heap"), windows.get("blocks")
    if heap is None or blocks is None:
        return True
    steps = zip(heap, heap[1:], blocks, blocks[1:])
    return any(after > before and made <= kept for before, after, kept, made in steps)


def held_growth(run_once: RunOnce) -> Findings | None:
    """A leak that the bytes hide: a module- or class-level container that gains entries
    in each of :data:`HELD_RUNS` more runs (the same object appended, ``None``, a small
    int: its memory grows only at each resize).  ``None`` when there is none."""
    holders = gaining_every_run(run_once, settle, HELD_RUNS)
    if not holders:
        return None
    named = ", ".join(f"{h['path']} +{h['growth_per_run']:g}/run" for h in holders)
    reason = (
        f"a container gains entries every run ({HELD_RUNS} runs), though the memory barely"
        f" moves (the same objects kept: it grows at each resize only): {named}"
    )
    return Findings({"runs": HELD_RUNS, "holders": holders}, status=LEAK, reason=reason)


def _in_group(group: Mapping[str, str | None], growth: float) -> Findings:
    """The findings of a later leak of a known root cause: its holder, and the group."""
    explanation = {
        "runs": ROOT_CAUSE_RUNS,
        "holders": [{"path": group["holder"], "growth_per_run": growth}],
        "root_cause": dict(group),
    }
    reason = (
        f"same root cause as {group['first']} (explained there): {group['holder']}"
        f" grows by {growth:g} entries per run"
    )
    return Findings(explanation, reason=reason)


def _tracemalloc_own(
    decision: Decision,
    run_once: RunOnce,
    probes: Sequence[Probe],
    thresholds: Mapping[str, float | None],
    runs: int,
) -> bool:
    """Whether a leak's growth vanishes with tracing off (see control.py)."""
    offending = [t for t in decision.trends if t.decisive and t.trend == GROWING]
    if not needs_control(offending):
        return False
    trends = growth_without_tracing(run_once, settle, probes, thresholds, runs)
    return trends is not None and tracemalloc_own(trends)


def _explain(
    item: pytest.Item,
    run_once: RunOnce,
    settings: Settings,
    decision: Decision,
    observer: Observer | None,
) -> dict[str, Any] | None:
    """The Python deep probes (with ``explain``) and the observer (with suppressions) over
    the same runs; then native frames (memray) over runs of their own, when asked for, or
    when RSS grows and the Python heap does not."""
    explanation: dict[str, Any] | None = None
    python: list[DeepProbe] = []
    if settings.explain:
        python.append(Explainer(str(item.config.rootpath), _graph(item, settings)))
    if observer is not None:
        python.append(observer)
    native_only = rss_only(decision.trends)
    if python:
        explanation = observe(python, run_once)
        if native_only and explanation and "objects" not in growing_probes(decision.trends):
            explanation = _without_object_findings(explanation)
    if settings.native or (settings.explain and native_only):
        tracker = NativeExplainer(str(item.config.rootpath), heap_grows=not native_only)
        explanation = {**(explanation or {}), "native": observe([tracker], run_once)}
    return explanation


OBJECT_FINDINGS = ("types", "sizes", "holders", "chain", "graph")
"""What the Python deep probes say about objects: noise when no Python probe grew."""


def _without_object_findings(explanation: dict[str, Any]) -> dict[str, Any]:
    """A native leak's explanation without the object types, sizes, holders and chain that
    its 3 runs happened to leave (a tuple or two): they would point at unrelated code."""
    kept = {k: v for k, v in explanation.items() if k not in OBJECT_FINDINGS}
    if len(kept) < len(explanation):
        note = "the Python heap did not grow: no object types, holders or chain shown"
        kept["notes"] = [*kept.get("notes", []), note]
    return kept


def _graph(item: pytest.Item, settings: Settings) -> str | None:
    """Where to write the test's back-reference graph, without extension (``None``: nowhere)."""
    if settings.graph_dir is None:
        return None
    directory = item.config.invocation_params.dir / settings.graph_dir
    return str(directory / graph_name(item.nodeid))


def _observer(item: pytest.Item, settings: Settings) -> Observer | None:
    """An observer of the explanation's runs, when ``site:``/``type:`` suppressions apply."""
    suppressions = Suppressions.from_items(settings.ignore)
    return Observer(suppressions, str(item.config.rootpath)) if suppressions else None


def _suppress(verdict: TestResult, attribution: Attribution) -> None:
    """Clear a leak whose growth suppressions explain, or say how far they went."""
    explained, lines = judge(attribution, verdict.offending)
    matched = {
        pattern: amounts
        for pattern, amounts in attribution.by_pattern.items()
        if amounts["bytes_per_run"] > 0 or amounts["objects_per_run"] > 0
    }
    if explained:
        verdict.status = CLEAN
        verdict.reason = "leak suppressed by " + ", ".join(matched)
        verdict.suppressions = [{"pattern": p, **amounts} for p, amounts in matched.items()]
    elif matched:
        if verdict.explanation is None:
            verdict.explanation = Explanation()
        verdict.explanation.add_note(
            "suppressions matched part of the growth only: "
            + ", ".join(matched)
            + "; "
            + "; ".join(lines)
        )


def _explain_resources(probes: Sequence[Probe], decision: Decision) -> dict[str, list[str]]:
    """What the growing probes that can explain themselves found (open files, threads...)."""
    growing = growing_probes(decision.trends)
    found: dict[str, list[str]] = {}
    for probe in probes:
        describe = getattr(probe, "explain", None)
        if probe.name in growing and describe is not None:
            counts = collections.Counter(describe())
            found[probe.name] = [
                f"{n} x {line}" if n > 1 else line for line, n in counts.most_common(10)
            ]
    return found
