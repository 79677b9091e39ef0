"""The pytest11 entry point: options, hooks and the one object they delegate to."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import sysconfig
from typing import Any

import pytest

from . import __version__, baseline, compat, files, retry
from .config import MARKER_HELP, OPTIONS, Settings, load_settings, settings_for_item
from .probes import BUILTIN_PROBES, ProbeFactory, c_heap
from .probes.memory import counter_installed, heap_engine, stop_session_counting
from .report import github
from .report.terminal import LeakRepr, cwd_relative, summary_lines
from .report.text import message
from .report.writer import Outputs, incomplete_reason
from .result import ERROR, INCONCLUSIVE, LEAK, Kept, Status, TestResult
from .runner import attach, run_test
from .units import PROBE_UNITS

ITEM_SETTINGS = pytest.StashKey[Settings]()
PLUGIN_NAME = "leakguard-session"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("leakguard", "memory-leak checks (pytest-leakguard)")
    # pytest 9.2's native [tool.pytest] table keeps TOML types: the ini keys accept them too
    toml = pytest.version_tuple >= (9, 2)
    for option in OPTIONS:
        group.addoption(option.flag, **option.addoption_kwargs())
        parser.addini(option.ini_key, help=option.full_help, type=option.ini_type(toml), default="")


_PATH_FLAGS = tuple(o.flag for o in OPTIONS if o.metavar == "PATH" or o.kind == "dir")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """``--leakguard-json PATH`` with PATH existing: pytest took PATH for a test path when
    it chose the rootdir and ini file (before plugins load); it cannot be undone here."""
    misread = files.misread_paths(args, _PATH_FLAGS, early_config.invocation_params.dir)
    if not misread:
        return
    moved = files.setup_moved(early_config, [value for _, value in misread])
    if moved is not None:
        flag, value = misread[0]
        raise pytest.UsageError(
            f"leakguard: pytest took {value}, an existing path after {flag}, for a test path"
            " (it chooses the rootdir and the ini file before it loads plugins, so before it"
            f" knows that {flag} takes a value): {moved}. Join the option and its value"
            f" with '=': {flag}={value}"
        )


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
    compat.check(config, settings.enabled)
    guard = LeakGuard(config, settings, factories, units)
    config.pluginmanager.register(guard, PLUGIN_NAME)
    if retry.loaded(config):
        # Registered after the session's object, its tryfirst logreport runs before
        # that one, which collects the verdict it puts on a teardown report.
        guard.retry = retry.RetriedChecks(factories, guard.judge_retried)
        config.pluginmanager.register(guard.retry, "leakguard-retry")
    if hasattr(config.hook, "pytest_timeout_set_timer"):  # pytest-timeout is loaded
        from .timeouts import PerRunTimeout

        config.pluginmanager.register(PerRunTimeout(ITEM_SETTINGS), "leakguard-timeout")


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    data = getattr(report, "leakguard", None)
    status = Status.of(data["verdict"]) if data is not None and report.failed else None
    if status is None or not status.word:
        return None
    # A plain word: pytest shows a failed report's word in red anyway, and pytest 8.0
    # prints a (word, markup) tuple as is in the short test summary.
    return "failed", status.letter, status.word


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
        """The JSON form of every result, on the controller (compact for still clean tests)."""
        self.kept = Kept()
        self.retry: retry.RetriedChecks | None = None
        """The checks of tests a retry plugin runs (only when one is loaded)."""
        self.checking = settings.enabled
        self.controller = not hasattr(config, "workerinput")
        self.baseline: baseline.Baseline | None = None
        self.comparison: baseline.Comparison | None = None
        self.outputs = Outputs(config, settings, units)
        """The files written at the end (on the controller), and the lines saying so."""
        self.crashed: list[str] = []
        """The xdist workers that went down with an error (their tests are missing)."""
        if settings.baseline_path is not None and self.controller:
            try:
                self.baseline = baseline.load(
                    str(self.outputs.path(settings.baseline_path)), settings.allow_incomplete
                )
            except baseline.BaselineError as exc:
                raise pytest.UsageError(f"leakguard: {exc}") from None
        if self.controller:
            self.outputs.check_paths()

    def _shown(self, nodeid: str) -> str:
        return cwd_relative(nodeid, self.config.rootpath, self.config.invocation_params.dir)

    def pytest_report_header(self, config: pytest.Config) -> list[str] | None:
        if not self.settings.enabled:
            return None
        s = self._readable()
        probes = [_probe_label(p) for p in s.probes]
        lines = [
            f"leakguard: checking every test: {s.warmup} warm-up + {s.runs} to {s.max_runs}"
            f" measured runs, budget {s.budget.describe(self.units)}, probes {', '.join(probes)}"
            + (", strict" if s.strict else "")
        ]
        if "heap" in s.probes and not counter_installed():
            lines.append(missing_counter())
        if c_heap.source().read is None:
            lines.append(
                f"leakguard: no malloc probe ({c_heap.source().label}): native leaks are seen"
                " by rss only, above its floor per run"
            )
        return lines

    def _readable(self) -> Settings:
        """Drop the ``malloc`` probe where the C heap cannot be read (see :func:`readable`);
        the reports' settings say what was checked."""
        self.settings = self.outputs.settings = readable(self.settings)
        return self.settings

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
            self._readable()
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
        if self.retry is not None and self.retry.takes(item, nextitem, settings):
            return None  # its plugin runs it; its last attempt is judged when logged
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        outcome = run_test(item, nextitem, settings, self.factories)
        if outcome.verdict is not None:
            report = outcome.reports[1] if len(outcome.reports) > 2 else outcome.reports[0]
            self._judge(item, report, outcome.verdict, settings)
            self._properties(outcome.reports[-1], outcome.verdict)
        for report in outcome.reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def _judge(
        self,
        item: pytest.Item,
        report: pytest.TestReport,
        verdict: TestResult,
        settings: Settings,
    ) -> None:
        attach(report, verdict, item.nodeid, compact=not settings.clean_details)
        failing = verdict.status == LEAK or (
            settings.strict and verdict.status in (ERROR, INCONCLUSIVE)
        )
        if failing and report.passed:
            path, lineno, _ = item.location
            report.outcome = "failed"
            report.longrepr = LeakRepr(message(verdict), path, (lineno or 0) + 1)  # type: ignore[assignment]

    def judge_retried(
        self,
        item: pytest.Item,
        teardown: pytest.TestReport,
        verdict: TestResult,
        settings: Settings,
    ) -> None:
        """Judge a retried test's verdict on its teardown report (see retry.py)."""
        self._judge(item, teardown, verdict, settings)
        self._properties(teardown, verdict)

    def _properties(self, report: pytest.TestReport, result: TestResult) -> None:
        # JUnit XML takes a test's properties from its teardown report.
        found = [("leakguard_verdict", Status.parse(result.status).value)]
        found.append(("leakguard_runs", result.runs))
        for trend in sorted(result.trends, key=lambda t: t.probe):
            found.append((f"leakguard_growth_{trend.probe}", round(trend.growth_per_run, 3)))
        report.user_properties.extend(self.kept.property(*item) for item in found)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.controller:
            return  # a worker's results and properties go to the controller
        data = getattr(report, "leakguard", None)
        if data is not None:
            data = self.kept(data, report.nodeid)
            report.leakguard = data  # type: ignore[attr-defined]
            self.results.append(data)
        if report.user_properties and getattr(report, "node", None) is not None:
            # received from an xdist worker: fresh copies of the properties every test shares
            report.user_properties[:] = [_shared(self.kept, p) for p in report.user_properties]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        result = yield
        if self.baseline is not None and self.controller:
            current = baseline.from_results(self.results, environment(), units=self.units)
            self.comparison = baseline.compare(self.baseline, current, self.settings.compare_fail)
            if self.comparison.failed:
                # The regression gate: the run fails even if every test passed.
                session.testsfailed += 1
        return result

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results and self.comparison is None and not self.outputs.saved:
            return
        terminalreporter.write_sep("=", "leakguard")
        verbose = self.config.get_verbosity() > 0
        if self.results:
            for text, markup in summary_lines(self.results, verbose, self._shown, self.units):
                terminalreporter.write_line(text, **markup)
        if self.comparison is not None:
            terminalreporter.write_sep("-", "leakguard baseline comparison")
            red = self.comparison.failed
            for line in baseline.table(self.comparison):
                terminalreporter.write_line(line, red=red, green=not red)
        for line, markup in self.outputs.saved:
            terminalreporter.write_line(line, **markup)
        if self.controller:  # GitHub reads workflow commands from the step's output
            rootdir, start = self.config.rootpath, self.config.invocation_params.dir
            for line in github.workflow_commands(self.results, rootdir, os.environ, start):
                terminalreporter.write_line(line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """xdist, on the controller: a worker that went down with an error lost its tests."""
        if error is not None:
            worker = getattr(getattr(node, "gateway", None), "id", node)
            self.crashed.append(f"{worker}: {error}".strip())

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        stop_session_counting(session)
        if self.controller:
            incomplete = incomplete_reason(session, exitstatus, self.crashed)
            self.outputs.write(session, self.results, self.comparison, environment(), incomplete)


def _shared(kept: Kept, item: Any) -> Any:
    """One copy of a property of ours a report received from an xdist worker."""
    if isinstance(item, tuple) and len(item) == 2 and str(item[0]).startswith("leakguard_"):
        return kept.property(*item)
    return item


def _showing_setup(config: pytest.Config) -> bool:
    # --setup-show/--setup-only/--setup-plan print each setup: re-runs would repeat them.
    return any(config.getoption(name, False) for name in ("setupshow", "setuponly", "setupplan"))


def _probe_label(name: str) -> str:
    """A probe in the report header, with what it reads for the heap probes."""
    if name == "heap":
        return f"heap ({heap_engine()})"
    return f"malloc ({c_heap.source().label})" if name == "malloc" else name


def readable(settings: Settings) -> Settings:
    """The settings without the ``malloc`` probe where the C heap cannot be read (the
    report header says so): a probe that fails at every start would fail every test."""
    if "malloc" not in settings.probes or c_heap.source().read is not None:
        return settings
    probes = tuple(name for name in settings.probes if name != "malloc")
    return dataclasses.replace(settings, probes=probes)


def missing_counter() -> str:
    """The report header's line when the compiled allocation counter is not installed."""
    implementation = platform.python_implementation()
    if implementation != "CPython":
        why, remedy = f"does not exist for {implementation}", ""
    elif sysconfig.get_config_var("Py_GIL_DISABLED"):
        why, remedy = "does not exist for free-threaded Python (it needs the GIL)", ""
    else:
        why = "is not installed (pytest-leakguard was built from source without a C compiler)"
        remedy = "; install a pytest-leakguard wheel, or a C compiler and reinstall it"
    return (
        f"leakguard: the compiled allocation counter {why}: the heap probe counts with"
        " tracemalloc, which makes each allocation in a checked test 4 to 8 times dearer"
        f" instead of 2 to 3 times{remedy}"
    )


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
