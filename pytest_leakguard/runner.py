"""The repeat loop around one test: normal run, warm-up runs, measured runs.

The test's own outcome comes from its normal run, whose reports are logged as
usual.  Only when that run passed is the test run again: its function-scoped
fixtures are torn down after each run (``teardown_exact`` up to the test's
parent), so a leak in a fixture is found; higher-scoped fixtures stay up until
the final teardown, which uses the real next item.
"""

from __future__ import annotations

import functools
import time
import traceback
import warnings
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import pytest

from . import compat
from .compat import call_and_report, forget_request
from .config import FLOORS as PROBE_FLOORS
from .config import Settings
from .deep import Findings, explain_leak, held_growth, known_root_cause, rose_only
from .held import held_reports
from .probes import Probe, ProbeFactory
from .probes.memory import measuring, note_test_call, other_threads_doubt
from .probes.resources import IGNORE_KINDS
from .rerun import Rerun, function_scope_end
from .result import CLEAN, ERROR, INCONCLUSIVE, LEAK, SKIPPED, TestResult
from .settle import Freezer, compact_rerun_tables, settle
from .verdict import (
    CONTINUE,
    MIN_MOVING_RUNS,
    Confirmation,
    Decision,
    decide,
    growing_probes,
    is_quiet,
)

FLOORS = {name: float(floor) for name, floor in PROBE_FLOORS.items()}
"""Resolution of probes whose small moves are noise (see :data:`config.FLOORS`)."""


@dataclass
class Outcome:
    """The reports to log for one test and its verdict (``None``: not checked)."""

    reports: list[pytest.TestReport]
    verdict: TestResult | None


def run_test(
    item: pytest.Item,
    nextitem: pytest.Item | None,
    settings: Settings,
    factories: Mapping[str, ProbeFactory],
) -> Outcome:
    """Run ``item`` normally, then (if it passed) again under measurement."""
    setup = call_and_report(item, "setup", log=False)
    reports = [setup]
    call: pytest.TestReport | None = None
    if setup.passed:
        note_test_call()
        call = call_and_report(item, "call", log=False)
        reports.append(call)
    if item.session.shouldfail or item.session.shouldstop:
        nextitem = None
    reason = _why_not_rerun(item, setup, call)
    verdict: TestResult | None = None
    if reason is None:
        # The normal run's function-scoped teardown; the rest waits for the end.
        first_teardown = call_and_report(
            item, "teardown", log=False, nextitem=function_scope_end(item)
        )
        forget_request(item)
        _drop_stale_finalizers(item)
        if first_teardown.passed:
            verdict = measure(item, settings, factories)
            reports.append(_final_teardown(item, nextitem) or first_teardown)
        else:
            verdict = TestResult(SKIPPED, reason="the test's teardown failed")
            reports.append(_also_failed(first_teardown, _final_teardown(item, nextitem)))
    else:
        verdict = TestResult(SKIPPED, reason=reason)
        reports.append(call_and_report(item, "teardown", log=False, nextitem=nextitem))
        forget_request(item)
    return Outcome(reports, verdict)


def _final_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> pytest.TestReport | None:
    """Tear down what the re-runs kept up (higher scopes, as nextitem needs).

    Not through the teardown hook: its implementations (logging, capture) expect a
    setup before each teardown.  A report is made only for an error.
    """
    call = pytest.CallInfo.from_call(lambda: compat.teardown_exact(item, nextitem), when="teardown")
    if call.excinfo is None:
        return None
    function = cast(Any, item)
    cleared = compat.has_request(item) and function.funcargs is None
    if cleared:
        # Other plugins' report hooks read the fixtures' values (pytest-benchmark):
        # as pytest-rerunfailures does, report before they are forgotten.
        function.funcargs = {}
    try:
        report: pytest.TestReport = item.ihook.pytest_runtest_makereport(item=item, call=call)
    finally:
        if cleared:
            function.funcargs = None
    return report


def _also_failed(report: pytest.TestReport, later: pytest.TestReport | None) -> pytest.TestReport:
    """The test's failed teardown ``report``, with what failed in the teardown that waited
    for the re-runs (a plain run has one teardown: pytest reports both failures there)."""
    if later is not None:
        report.sections.append(("higher-scoped teardown also failed", later.longreprtext))
    return report


def _why_not_rerun(
    item: pytest.Item, setup: pytest.TestReport, call: pytest.TestReport | None
) -> str | None:
    if not isinstance(item, pytest.Function):
        return f"{type(item).__name__} items are not re-run"
    if call is None:
        return "the test was skipped" if setup.skipped else "the test's setup failed"
    if hasattr(call, "wasxfail"):
        return "xfail tests are not re-run"
    if call.skipped:
        return "the test was skipped"
    if call.failed:
        return "the test failed"
    if item.session.shouldfail or item.session.shouldstop:
        return "the session is stopping"
    return None


def _drop_stale_finalizers(item: pytest.Item) -> None:
    """Forget the fixture finalizers a run left on the nodes and fixtures still set up.

    pytest registers ``partial(fixture.finish, request)`` on every fixture a fixture
    requests (and, before pytest 8.1, on the node of every fixture requested, even a
    cached one), and empties those lists only when that fixture or node is torn
    down.  Every run of a test whose function-scoped fixture requests a module- or
    session-scoped one (pytest-asyncio's event loop runner does) would then keep a
    partial, a bound method and a request alive: pytest's growth, not the test's.
    A finalizer of a fixture already torn down does nothing, and of several for
    one live fixture only the last one registered does anything; the others go.
    """
    for finalizers in compat.node_finalizers(item):
        _prune(finalizers)
        for finalizer in finalizers:
            owner = _finish_owner(finalizer)
            if owner is not None:
                _prune(compat.fixture_finalizers(owner))


def _prune(finalizers: list[Any]) -> None:
    seen: set[int] = set()
    kept = []
    for finalizer in reversed(finalizers):
        owner = _finish_owner(finalizer)
        if owner is not None:
            if owner.cached_result is None or id(owner) in seen:
                continue
            seen.add(id(owner))
        kept.append(finalizer)
    if len(kept) < len(finalizers):
        finalizers[:] = reversed(kept)


def _finish_owner(finalizer: object) -> pytest.FixtureDef[Any] | None:
    """The fixture whose ``finish`` ``finalizer`` calls, if it is such a partial."""
    if not isinstance(finalizer, functools.partial):
        return None
    owner = getattr(finalizer.func, "__self__", None)
    if isinstance(owner, pytest.FixtureDef) and finalizer.func.__name__ == "finish":
        return owner
    return None


def _rerun(rerun: Rerun) -> TestResult | None:
    """Run the test once more; a verdict if the run did not pass."""
    with held_reports(rerun.item.config) as held:
        report = rerun()
    _drop_stale_finalizers(rerun.item)
    if report is None:
        # A subtest's report is held back (see held.py), but its failure counts.
        report = next((r for r in held if r.failed), None)
    if report is None:
        return None
    if report.skipped:
        return TestResult(SKIPPED, reason="the test skipped itself when run again")
    return TestResult(
        ERROR,
        reason=f"{report.when} failed when the test was run again",
        error=report.longreprtext,
    )


class _Series:
    """Preallocated sample arrays: storing a sample allocates nothing that stays alive.

    They hold the screen's and the window's runs; the few tests that enter the
    confirmation stage get room for its runs then (:meth:`grow`), and what the larger
    arrays take is subtracted from the later samples (``offsets``).
    """

    def __init__(self, names: Sequence[str], capacity: int) -> None:
        self.names = tuple(names)
        self.values = {name: array("q", bytes(8 * capacity)) for name in names}
        self.offsets = array("q", bytes(8 * len(self.names)))
        self.readings = array("q", bytes(8 * len(self.names)))
        self.count = 0
        self.capacity = capacity

    def grow(self, capacity: int) -> None:
        for values in self.values.values():
            values.extend(bytes(8 * (capacity - self.capacity)))
        self.capacity = capacity

    def windows(self, start: int) -> dict[str, array[int]]:
        return {name: values[start : self.count] for name, values in self.values.items()}

    def as_lists(self) -> dict[str, list[int]]:
        return {name: values[: self.count].tolist() for name, values in self.values.items()}


class ProbeFailed(Exception):
    """A probe raised: the check of the test ends with an ``error`` verdict naming it."""

    def __init__(self, probe: str, method: str, exc: Exception) -> None:
        super().__init__(f"probe {probe!r} failed in {method}(): {type(exc).__name__}: {exc}")


def _probe_call(probe: Probe, method: str) -> Any:
    try:
        return getattr(probe, method)()
    except Exception as exc:
        raise ProbeFailed(probe.name, method, exc) from exc


def measure(
    item: pytest.Item, settings: Settings, factories: Mapping[str, ProbeFactory]
) -> TestResult:
    """Run the test ``warmup`` times, then between ``runs`` and ``max_runs`` times, sampling.

    Whatever goes wrong in the check itself (a probe raises, the counter refuses)
    is the test's ``error`` verdict: the session goes on.
    """
    try:
        with measuring(item.session), _freezer(item.session).frozen():
            return Measurement(item, settings, factories).run()
    except Exception as exc:
        reason = str(exc) if isinstance(exc, ProbeFailed) else f"the check failed: {exc!r}"
        return TestResult(ERROR, reason=reason, error=_traceback(exc))


_FREEZER = pytest.StashKey[Freezer]()


def _freezer(session: pytest.Session) -> Freezer:
    return session.stash.setdefault(_FREEZER, Freezer())


def _traceback(exc: Exception) -> str:
    cause = exc.__cause__ if isinstance(exc, ProbeFailed) and exc.__cause__ else exc
    return "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))


class Measurement:
    """One test's measured re-runs: its probes, their series, the runs made and the decision.

    :meth:`run` starts the probes, samples once, then runs and samples the test
    until the decision is in (or a run fails), and explains a leak.
    """

    _judged: ClassVar[bool] = False
    """Whether this process has judged a series yet (see :meth:`_first_judging`)."""

    def __init__(
        self, item: pytest.Item, settings: Settings, factories: Mapping[str, ProbeFactory]
    ) -> None:
        self.item = item
        self.settings = settings
        self.probes: list[Probe] = [factories[name]() for name in settings.probes]
        for probe in self.probes:
            if hasattr(probe, "ignore"):
                cast(Any, probe).ignore = [
                    pattern
                    for kind, pattern in settings.ignore
                    if IGNORE_KINDS.get(kind) == probe.name
                ]
        self.units = {p.name: p.unit for p in self.probes}
        self.thresholds = settings.thresholds(self.units)
        self.rerun = Rerun(item)
        self.series = _Series(settings.probes, 1 + settings.warmup + settings.max_runs)
        self.last_run = max(settings.max_runs, settings.confirm_runs)
        """The most measured runs: the confirmation's budget (none when not above max_runs)."""
        self.confirming_since = array("d", [0.0])
        """When the confirmation stage began (``time.perf_counter()``; 0: not yet): an array,
        so that setting it keeps no new object alive between two samples."""
        self.sections = compat.report_sections(item)
        self.kept_sections = len(self.sections) if self.sections is not None else 0
        self.kept_properties = len(item.user_properties)
        # Every attribute is set here: none added between two samples.
        self.started: list[Probe] = []
        self.recorded: list[warnings.WarningMessage] = []
        self.failure: TestResult | None = None
        self.decision: Decision | None = None
        self.findings: Findings | None = None
        self.holder_check_runs = 0

    def run(self) -> TestResult:
        """Start the probes, run and sample the test until decided, explain a leak."""
        try:
            for probe in self.probes:
                _probe_call(probe, "start")
                self.started.append(probe)
            with warnings.catch_warnings(record=True) as recorded:
                # Recorded (and dropped) per run: pytest's own recorder would keep every
                # re-run's warnings, and "default" filters would grow module registries.
                warnings.simplefilter("always")
                self.recorded = recorded
                self._first_judging()
                self._sample()
                self._run_until_decided()
                self._check_holders()
                self._explain_leak()
        finally:
            _stop(self.started)
        return self._verdict()

    def _first_judging(self) -> None:
        """The first judging of the process makes one-off allocations: not between two
        samples of a test."""
        if not Measurement._judged:
            self.series.count = 2
            self._judge()
            self.series.count = 0
            Measurement._judged = True

    def _judge(self) -> Decision:
        settings, series = self.settings, self.series
        start = min(settings.warmup, series.count - 2) if series.count >= 2 else 0
        since = self.confirming_since[0]
        out_of_time = since > 0 and time.perf_counter() - since >= settings.confirm_seconds
        return decide(
            series.windows(start),
            self.thresholds,
            self.units,
            min_runs=settings.runs if start == settings.warmup else 1 << 30,
            max_runs=settings.max_runs,
            floors=FLOORS,
            confirmation=Confirmation(
                self.last_run, out_of_time or not settings.confirm_seconds, settings.confirm_seconds
            ),
        )

    def _sample(self) -> None:
        compact_rerun_tables(self.item)
        settle()
        series = self.series
        index = series.count
        for number, probe in enumerate(self.probes):
            value = _probe_call(probe, "sample")
            try:
                series.values[probe.name][index] = value + series.offsets[number]
            except (TypeError, OverflowError) as exc:
                raise ProbeFailed(probe.name, "sample", exc) from exc
        series.count += 1

    def _confirm(self) -> None:
        """Enter the confirmation stage: start its clock, make room for its runs.

        The last sample is taken again, the same way, once the arrays have grown (no
        run in between): the difference is what the arrays took, subtracted from every
        later sample; the first reading stays.
        """
        self.confirming_since[0] = time.perf_counter()
        series, readings = self.series, self.series.readings
        last = series.count - 1
        for number, name in enumerate(series.names):
            readings[number] = series.values[name][last]
        series.grow(1 + self.settings.warmup + self.last_run)
        series.count = last
        self._sample()
        for number, name in enumerate(series.names):
            series.offsets[number] += readings[number] - series.values[name][last]
            series.values[name][last] = readings[number]

    def _run_once(self) -> TestResult | None:
        """Run the test once more, dropping what the run left in its report."""
        failure = _rerun(self.rerun)
        if self.sections is not None:
            del self.sections[self.kept_sections :]
        del self.item.user_properties[self.kept_properties :]
        del self.recorded[:]
        return failure

    def _run_until_decided(self) -> None:
        """Warm-up and measured runs, a sample after each, until a decision or a failure.

        A test still growing after ``max_runs`` runs enters the confirmation stage,
        bounded by ``confirm_runs`` and ``confirm_seconds`` (see :func:`decide`).
        """
        while self.series.count < self.series.capacity:
            self.failure = self._run_once()
            if self.failure is not None:
                break
            self._sample()
            if not self._judgeable():
                continue
            decision = self._judge()
            if decision.status != CONTINUE:
                self.decision = decision
                break
            entering = self.series.count == self.series.capacity and not self.confirming_since[0]
            if entering and self._known_root_cause(decision):
                break
            del decision  # not kept alive into the next sample
            if entering:
                self._confirm()

    def _known_root_cause(self, decision: Decision) -> bool:
        """Whether a suspect is the leak of a root cause confirmed earlier in the session:
        then it is that leak, and pays for no confirmation of its own (see deep.py)."""
        findings = known_root_cause(self.item, self._run_once, self.settings, decision)
        if findings is None:
            return False
        self.decision = Decision(LEAK, decision.trends)
        self.findings = findings
        return True

    def _judgeable(self) -> bool:
        """Whether the series is long enough (and quiet enough, if short) to judge."""
        settings = self.settings
        measured = self.series.count - 1 - settings.warmup
        if measured < settings.runs:
            return False  # too few runs to judge
        # Short and not quiet: decide() would say "continue" too, at a higher price.
        return measured >= min(MIN_MOVING_RUNS, settings.max_runs) or is_quiet(
            self.series.windows(settings.warmup), self.thresholds, FLOORS
        )

    def _check_holders(self) -> None:
        """For a clean test whose window rose (and never fell): does a container gain
        entries every run?  (See deep.py: quiet tests do not pay for it.)"""
        decision = self.decision
        if decision is None or decision.status != CLEAN:
            return
        if rose_only(self.series.windows(self.settings.warmup), self.thresholds, FLOORS):
            self.findings = held_growth(self._counted_run)

    def _counted_run(self) -> TestResult | None:
        """One more run of the holder check, counted for the result."""
        self.holder_check_runs += 1
        return self._run_once()

    def _explain_leak(self) -> None:
        """For a leak: the tracing control, then the deep probes (see deep.py)."""
        decision = self.decision
        if decision is not None and decision.status == LEAK and self.findings is None:
            self.findings = explain_leak(
                self.item, self._run_once, self.settings, decision, self.probes, self.thresholds
            )

    def _verdict(self) -> TestResult:
        samples = self.series.as_lists()
        settings = self.settings
        if self.failure is not None:
            verdict = self.failure
            made = self.series.count  # a sample after each passed run (and s0), and the failed run
            verdict.warmup = min(made, settings.warmup)
            verdict.runs_made = max(0, made - settings.warmup)
            verdict.samples = samples
            return verdict
        assert self.decision is not None
        verdict = TestResult(
            self.decision.status,
            reason=self.decision.reason,
            warmup=settings.warmup,
            trends=self.decision.trends,
            samples=samples,
            explanation=self.findings.explanation if self.findings else None,
            holder_check_runs=self.holder_check_runs,
        )
        doubt = other_threads_doubt(self.probes, samples, settings.warmup)
        if doubt and (verdict.status == CLEAN or _coarse_leak(verdict)):
            verdict.status, verdict.reason = INCONCLUSIVE, doubt
        if self.findings is not None:
            self.findings.apply(verdict)
        return verdict


def _coarse_leak(verdict: TestResult) -> bool:
    """A leak that only the process-wide byte probes with a resolution floor (``malloc``,
    ``rss``) saw: while other threads ran beside the test, their allocations move those
    probes as much as the test's, so such a series says nothing about the test."""
    growing = growing_probes(verdict.trends)
    return verdict.status == LEAK and bool(growing) and growing <= FLOORS.keys()


def _stop(started: Sequence[Probe]) -> None:
    """Stop every started probe (each restores what it patched), even if one raises."""
    failed: ProbeFailed | None = None
    for probe in reversed(started):
        try:
            _probe_call(probe, "stop")
        except ProbeFailed as exc:
            failed = failed or exc
    if failed is not None:
        raise failed


def attach(
    report: pytest.TestReport, verdict: TestResult, nodeid: str, compact: bool = False
) -> dict[str, Any]:
    """Put the verdict on the report in its JSON form (it crosses xdist as is); with
    ``compact``, a quiet clean test in the compact form (see :class:`result.TestResult`)."""
    verdict.nodeid = nodeid
    data = verdict.to_json(compact=compact)
    report.leakguard = data  # type: ignore[attr-defined]
    return data
