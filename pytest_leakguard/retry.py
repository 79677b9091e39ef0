"""Checked tests that a retry plugin (pytest-rerunfailures, flaky) runs.

Such a plugin runs the test's protocol itself, to retry it: leakguard leaves it
the protocol, notes the reports of each attempt as they are logged, and checks
the test after the attempt its plugin keeps, before that attempt's teardown is
logged.  Registered only when one of those plugins is loaded.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from . import compat
from .config import Settings
from .probes import ProbeFactory
from .result import SKIPPED, TestResult
from .runner import _drop_stale_finalizers, _final_teardown, _why_not_rerun, measure

RERUNFAILURES = "pytest_rerunfailures"
FLAKY = "flaky.flaky_pytest_plugin"

Judge = Callable[[pytest.Item, pytest.TestReport, TestResult, Settings], None]
"""Puts a verdict on a report (and fails it for a leak): the session plugin's."""


def loaded(config: pytest.Config) -> bool:
    """Whether pytest-rerunfailures or flaky is loaded as a plugin."""
    return any(_registered(config, name) for name in (RERUNFAILURES, FLAKY))


def _registered(config: pytest.Config, module: str) -> Any:
    plugin = sys.modules.get(module)
    return plugin if plugin is not None and config.pluginmanager.is_registered(plugin) else None


@dataclass
class _Attempts:
    """A checked test that a retry plugin runs: what its check needs, and the reports
    of its current attempt logged so far."""

    item: pytest.Item
    nextitem: pytest.Item | None
    settings: Settings
    logged: dict[str, pytest.TestReport] = field(default_factory=dict)


class RetriedChecks:
    """The checks of the tests a retry plugin runs, by node id, until their verdict."""

    def __init__(self, factories: Mapping[str, ProbeFactory], judge: Judge) -> None:
        self.factories = factories
        self.judge = judge
        self.retried: dict[str, _Attempts] = {}
        """Checked tests a retry plugin runs, by node id, until their verdict."""

    def takes(self, item: pytest.Item, nextitem: pytest.Item | None, settings: Settings) -> bool:
        """Whether a retry plugin runs ``item``: then its last attempt is judged when logged."""
        if not _retried(item):
            return False
        self.retried[item.nodeid] = _Attempts(item, nextitem, settings)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        attempts = self.retried.get(report.nodeid)
        if attempts is not None and report.when != "teardown":
            attempts.logged[report.when] = report
        elif attempts is not None:
            self._judge_attempt(attempts, report)

    def _judge_attempt(self, attempts: _Attempts, teardown: pytest.TestReport) -> None:
        """Check a retried test after the attempt its plugin keeps, before its teardown is logged.

        An attempt to be retried is not logged (flaky) or logged as ``rerun``
        (pytest-rerunfailures).  The attempt was torn down for the next test: the
        check sets the test up again, runs it as :func:`runner.run_test` does, and
        tears down again for the next test.  The verdict goes on the teardown report.
        """
        item, logged = attempts.item, attempts.logged
        setup, call = logged.pop("setup", None), logged.pop("call", None)
        if setup is None or (call is None and setup.passed):
            return  # flaky did not log this attempt: it retries it
        if "rerun" in (setup.outcome, getattr(call, "outcome", ""), teardown.outcome):
            return  # pytest-rerunfailures retries it
        del self.retried[item.nodeid]
        reason = _why_not_rerun(item, setup, call)
        if reason is None and teardown.failed:
            reason = "the test's teardown failed"
        if reason is not None:
            verdict = TestResult(SKIPPED, reason=reason)
        else:
            compat.forget_request(item)
            _drop_stale_finalizers(item)
            with _own_runs(item):
                verdict = measure(item, attempts.settings, self.factories)
            failed = _final_teardown(item, attempts.nextitem)
            if failed is not None:
                teardown.outcome, teardown.longrepr = "failed", failed.longrepr
        self.judge(item, teardown, verdict, attempts.settings)


def _retried(item: pytest.Item) -> bool:
    """Whether pytest-rerunfailures or flaky runs this test's protocol, to retry it."""
    rerun = _registered(item.config, RERUNFAILURES)
    if rerun is not None and rerun.get_reruns_count(item):
        return True
    if _registered(item.config, FLAKY) is None:
        return False
    decorated = (getattr(item, "function", None), getattr(item, "cls", None))  # @flaky
    return (
        item.get_closest_marker("flaky") is not None
        or bool(item.config.getoption("force_flaky", False))
        or any(hasattr(obj, "_flaky_max_runs") for obj in decorated)
    )


@contextlib.contextmanager
def _own_runs(item: pytest.Item) -> Iterator[None]:
    """The check's runs as pytest's runner makes them, not as attempts of a retry plugin.

    flaky replaces pytest's ``call_and_report`` while it runs a test, and counts
    every run that passes through it; pytest-rerunfailures, at the teardown of a failed
    run of a test whose attempts it counts (``execution_count``), holds back the
    higher-scoped fixtures' finalizers for a retry.
    """
    attempts = item.__dict__.pop("execution_count", None)
    try:
        with compat.own_call_and_report():
            yield
    finally:
        if attempts is not None:
            setattr(item, "execution_count", attempts)  # noqa: B010
