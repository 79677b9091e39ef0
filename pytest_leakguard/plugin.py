"""The pytest11 entry point: options, hooks and the one object they delegate to."""

from __future__ import annotations

import contextlib
import platform
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _pytest.runner
import pytest

from . import __version__, baseline
from .config import (
    MARKER_HELP,
    OPTIONS,
    Settings,
    argparse_type,
    load_settings,
    parse_bool,
    parse_positive_runs,
    parse_runs,
    settings_for_item,
)
from .probes import BUILTIN_PROBES, ProbeFactory
from .probes.memory import heap_engine, stop_session_counting
from .report import json_report
from .report.json_report import write_text_atomic
from .report.terminal import LeakRepr, summary_lines
from .rerun import forget_request
from .runner import (
    _drop_stale_finalizers,
    _final_teardown,
    _why_not_rerun,
    attach,
    measure,
    run_test,
)
from .units import PROBE_UNITS
from .verdict import ERROR, INCONCLUSIVE, LEAK, SKIPPED, Verdict

ITEM_SETTINGS = pytest.StashKey[Settings]()
PLUGIN_NAME = "leakguard-session"

_STATUS_WORDS = {
    LEAK: ("L", "LEAKED"),
    INCONCLUSIVE: ("I", "INCONCLUSIVE"),
    ERROR: ("E", "LEAKERROR"),
}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("leakguard", "memory-leak checks (pytest-leakguard)")
    for setting, flag, ini_key, ini_help in OPTIONS:
        dest = flag.lstrip("-").replace("-", "_")
        help_text = ini_help.replace("%", "%%")  # argparse formats help with %
        if setting in ("enabled", "strict", "native"):
            group.addoption(flag, action="store_true", default=None, dest=dest, help=help_text)
        elif setting == "explain":
            group.addoption(
                flag,
                default=None,
                dest=dest,
                metavar="yes|no",
                help=help_text,
                type=argparse_type(parse_bool),
            )
        elif setting in ("runs", "max_runs", "warmup"):
            group.addoption(
                flag,
                default=None,
                dest=dest,
                metavar="N",
                help=help_text,
                type=argparse_type(parse_positive_runs if setting != "warmup" else parse_runs),
            )
        else:
            metavar = "PATH" if setting.endswith("path") else setting.upper()
            group.addoption(flag, default=None, dest=dest, metavar=metavar, help=help_text)
        ini_type: Any = "string"
        if pytest.version_tuple >= (9, 2):
            # the native [tool.pytest] table keeps TOML types: accept them too
            ini_type = str | bool if setting in ("enabled", "strict", "explain", "native") else str
            ini_type = (
                str | int if setting in ("runs", "max_runs", "warmup", "budget") else ini_type
            )
        parser.addini(ini_key, help=ini_help, type=ini_type, default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    factories: dict[str, ProbeFactory] = dict(BUILTIN_PROBES)
    for extra in config.hook.pytest_leakguard_probes(config=config):
        factories.update(extra)
    units = {name: factory().unit for name, factory in factories.items()}
    for name, unit in units.items():
        if unit not in PROBE_UNITS:
            raise pytest.UsageError(
                f"leakguard: probe {name!r} (from the pytest_leakguard_probes hook) has unit"
                f" {unit!r}; expected one of {', '.join(PROBE_UNITS)}"
            )
    settings = load_settings(config, units, factories)
    config.pluginmanager.register(LeakGuard(config, settings, factories, units), PLUGIN_NAME)
    if hasattr(config.hook, "pytest_timeout_set_timer"):  # pytest-timeout is loaded
        from .timeouts import PerRunTimeout

        config.pluginmanager.register(PerRunTimeout(ITEM_SETTINGS), "leakguard-timeout")


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    data = getattr(report, "leakguard", None)
    if data is None or not report.failed or data["verdict"] not in _STATUS_WORDS:
        return None
    letter, word = _STATUS_WORDS[data["verdict"]]
    # A plain word: pytest shows a failed report's word in red anyway, and pytest 8.0
    # prints a (word, markup) tuple as is in the short test summary.
    return "failed", letter, word


class LeakGuard:
    """The plugin's state for one session: settings, probes, and the verdicts seen."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        factories: dict[str, ProbeFactory],
        units: dict[str, str],
    ) -> None:
        self.config = config
        self.settings = settings
        self.factories = factories
        self.units = units
        self.results: list[dict[str, Any]] = []
        self.retried: dict[str, _Attempts] = {}
        """Checked tests a retry plugin runs, by node id, until their verdict."""
        self.checking = settings.enabled
        self.controller = not hasattr(config, "workerinput")
        self.baseline: baseline.Baseline | None = None
        self.comparison: baseline.Comparison | None = None
        self.saved: list[str] = []
        if settings.baseline_path is not None and self.controller:
            try:
                self.baseline = baseline.load(str(self._path(settings.baseline_path)))
            except baseline.BaselineError as exc:
                raise pytest.UsageError(f"leakguard: {exc}") from None
        for path in (settings.save_baseline_path, settings.json_path, settings.html_path):
            if path is not None and self._path(path).is_dir():
                raise pytest.UsageError(f"leakguard: {path} is a directory, not a file path")

    def _path(self, path: str) -> Path:
        return Path(self.config.invocation_params.dir) / path

    def pytest_report_header(self, config: pytest.Config) -> list[str] | None:
        if not self.settings.enabled:
            return None
        s = self.settings
        probes = [f"heap ({heap_engine()})" if p == "heap" else p for p in s.probes]
        return [
            f"leakguard: checking every test: {s.warmup} warm-up + {s.runs} to {s.max_runs}"
            f" measured runs, budget {s.budget.describe(self.units)}, probes {', '.join(probes)}"
            + (", strict" if s.strict else "")
        ]

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        report = yield
        if report.passed and hasattr(self.config, "workerinput"):
            # On an xdist worker a UsageError crashes the worker (INTERNALERROR on the
            # controller): report a bad marker as a collection error instead.
            for node in report.result or []:
                if not isinstance(node, pytest.Item):
                    continue
                markers = list(node.iter_markers("leakguard"))
                try:
                    settings_for_item(self.settings, reversed(markers), node.nodeid, self.units)
                except pytest.UsageError as exc:
                    report.outcome = "failed"
                    report.longrepr = str(exc)
                    report.result = []
                    break
        return report

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            markers = list(item.iter_markers("leakguard"))
            if not markers and not self.settings.enabled:
                continue
            settings = settings_for_item(self.settings, reversed(markers), item.nodeid, self.units)
            if settings.enabled:
                item.stash[ITEM_SETTINGS] = settings
                self.checking = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        if not self.checking:
            return None
        settings = item.stash.get(ITEM_SETTINGS, None)
        if settings is None or _showing_setup(item.config):
            return None
        if _retried(item):
            # Its plugin runs it; its last attempt is judged when logged (see logreport).
            self.retried[item.nodeid] = _Attempts(item, nextitem, settings)
            return None
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        outcome = run_test(item, nextitem, settings, self.factories)
        if outcome.verdict is not None:
            report = outcome.reports[1] if len(outcome.reports) > 2 else outcome.reports[0]
            self._judge(item, report, outcome.verdict, settings)
            self._properties(outcome.reports[-1], report.leakguard)
        for report in outcome.reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def _judge(
        self, item: pytest.Item, report: pytest.TestReport, verdict: Verdict, settings: Settings
    ) -> None:
        attach(report, verdict, item.nodeid)
        failing = verdict.status == LEAK or (
            settings.strict and verdict.status in (ERROR, INCONCLUSIVE)
        )
        if failing and report.passed:
            path, lineno, _ = item.location
            report.outcome = "failed"
            report.longrepr = LeakRepr(verdict.message(), path, (lineno or 0) + 1)  # type: ignore[assignment]

    @staticmethod
    def _properties(report: pytest.TestReport, data: dict[str, Any]) -> None:
        # JUnit XML takes a test's properties from its teardown report.
        report.user_properties.append(("leakguard_verdict", data["verdict"]))
        report.user_properties.append(("leakguard_runs", data["runs"]))
        for probe, growth in sorted(data["growth_per_run"].items()):
            report.user_properties.append((f"leakguard_growth_{probe}", round(growth, 3)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        attempts = self.retried.get(report.nodeid)
        if attempts is not None and report.when != "teardown":
            attempts.logged[report.when] = report
        elif attempts is not None:
            self._judge_attempt(attempts, report)
        data = getattr(report, "leakguard", None)
        if data is not None:
            self.results.append(data)

    def _judge_attempt(self, attempts: _Attempts, teardown: pytest.TestReport) -> None:
        """Check a retried test after the attempt its plugin keeps, before its teardown is logged.

        An attempt to be retried is not logged (flaky) or logged as ``rerun``
        (pytest-rerunfailures).  The attempt was torn down for the next test: the
        check sets the test up again, runs it as :func:`run_test` does, and tears down
        again for the next test.  The verdict goes on the teardown report.
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
            verdict = Verdict(SKIPPED, reason=reason)
        else:
            forget_request(item)
            _drop_stale_finalizers(item)
            with _own_runs(item):
                verdict = measure(item, attempts.settings, self.factories)
            failed = _final_teardown(item, attempts.nextitem)
            if failed is not None:
                teardown.outcome, teardown.longrepr = "failed", failed.longrepr
        self._judge(item, teardown, verdict, attempts.settings)
        self._properties(teardown, teardown.leakguard)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        result = yield
        if self.baseline is not None and self.controller:
            current = baseline.from_results(self.results, environment())
            self.comparison = baseline.compare(self.baseline, current, self.settings.compare_fail)
            if self.comparison.failed:
                # The regression gate: the run fails even if every test passed.
                session.testsfailed += 1
        return result

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results and self.comparison is None:
            return
        terminalreporter.write_sep("=", "leakguard")
        verbose = self.config.get_verbosity() > 0
        if self.results:
            for text, markup in summary_lines(self.results, verbose):
                terminalreporter.write_line(text, **markup)
        if self.comparison is not None:
            terminalreporter.write_sep("-", "leakguard baseline comparison")
            red = self.comparison.failed
            for line in baseline.table(self.comparison):
                terminalreporter.write_line(line, red=red, green=not red)
        for line in self.saved:
            terminalreporter.write_line(line)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        stop_session_counting(session)
        if not self.controller:
            return
        if self.settings.save_baseline_path is not None:
            target = str(self._path(self.settings.save_baseline_path))
            complete = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
            if not complete or session.shouldstop or session.shouldfail:
                # A partial run's figures would replace the baseline's with fewer tests.
                self.saved.append(
                    f"leakguard: baseline not saved to {target}: the session was interrupted"
                )
            else:
                results = baseline.from_results(self.results, environment())
                backup = baseline.save(target, results)
                kept = f" (the previous one kept as {backup})" if backup else ""
                self.saved.append(f"leakguard: baseline saved to {target}{kept}")
        json_path, html_path = self.settings.json_path, self.settings.html_path
        if json_path is None and html_path is None:
            return
        settings = {
            "warmup": self.settings.warmup,
            "runs": self.settings.runs,
            "max_runs": self.settings.max_runs,
            "budget": self.settings.budget.describe(self.units),
            "strict": self.settings.strict,
            "probes": list(self.settings.probes),
        }
        payload = json_report.build(self.results, settings, environment())
        if self.comparison is not None:
            payload["baseline"] = baseline.comparison_to_json(self.comparison)
        if json_path is not None:
            json_report.write_atomic(str(self._path(json_path)), payload)
        if html_path is not None:
            from .report import html

            write_text_atomic(str(self._path(html_path)), html.render(payload))


@dataclass
class _Attempts:
    """A checked test that a retry plugin runs: what its check needs, and the reports
    of its current attempt logged so far."""

    item: pytest.Item
    nextitem: pytest.Item | None
    settings: Settings
    logged: dict[str, pytest.TestReport] = field(default_factory=dict)


def _retried(item: pytest.Item) -> bool:
    """Whether pytest-rerunfailures or flaky runs this test's protocol, to retry it."""
    plugins = item.config.pluginmanager
    rerun: Any = sys.modules.get("pytest_rerunfailures")
    if rerun is not None and plugins.is_registered(rerun) and rerun.get_reruns_count(item):
        return True
    flaky = sys.modules.get("flaky.flaky_pytest_plugin")
    if flaky is None or not plugins.is_registered(flaky):
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

    flaky replaces ``_pytest.runner.call_and_report`` while it runs a test, and counts
    every run that passes through it; pytest-rerunfailures, at the teardown of a failed
    run of a test whose attempts it counts (``execution_count``), holds back the
    higher-scoped fixtures' finalizers for a retry.
    """
    replaced = _pytest.runner.call_and_report
    attempts = item.__dict__.pop("execution_count", None)
    _pytest.runner.call_and_report = _CALL_AND_REPORT
    try:
        yield
    finally:
        _pytest.runner.call_and_report = replaced
        if attempts is not None:
            setattr(item, "execution_count", attempts)  # noqa: B010


_CALL_AND_REPORT = _pytest.runner.call_and_report
"""pytest's own, as imported before any plugin ran a test (flaky replaces it meanwhile)."""


def _showing_setup(config: pytest.Config) -> bool:
    # --setup-show/--setup-only/--setup-plan print each setup: re-runs would repeat them.
    return any(config.getoption(name, False) for name in ("setupshow", "setuponly", "setupplan"))


def environment() -> dict[str, str]:
    """Where the figures were measured: they are comparable only within one environment."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": sys.platform,
        "machine": platform.machine(),
        "pytest": pytest.__version__,
        "pytest_leakguard": __version__,
    }
