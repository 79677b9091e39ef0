"""The pytest11 entry point: options, hooks and the one object they delegate to."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from . import __version__, baseline, compat, files, retry
from .config import (
    MARKER_HELP,
    OPTIONS,
    Settings,
    _ini_source,
    load_settings,
    report_settings,
    settings_for_item,
)
from .probes import BUILTIN_PROBES, ProbeFactory, c_heap
from .probes.memory import counter_installed, heap_engine, stop_session_counting
from .report import codequality, github, json_report
from .report.terminal import LeakRepr, cwd_relative, summary_lines
from .runner import attach, run_test
from .units import PROBE_UNITS
from .verdict import ERROR, INCONCLUSIVE, LEAK, Verdict

ITEM_SETTINGS = pytest.StashKey[Settings]()
T = TypeVar("T")
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
        self.retry: retry.RetriedChecks | None = None
        """The checks of tests a retry plugin runs (only when one is loaded)."""
        self.checking = settings.enabled
        self.controller = not hasattr(config, "workerinput")
        self.baseline: baseline.Baseline | None = None
        self.comparison: baseline.Comparison | None = None
        self.saved: list[tuple[str, dict[str, bool]]] = []
        """Lines (with markup) about the files written, for the terminal summary."""
        self.crashed: list[str] = []
        """The xdist workers that went down with an error (their tests are missing)."""
        if settings.baseline_path is not None and self.controller:
            try:
                self.baseline = baseline.load(
                    str(self._path(settings.baseline_path)), settings.allow_incomplete
                )
            except baseline.BaselineError as exc:
                raise pytest.UsageError(f"leakguard: {exc}") from None
        if self.controller:
            self._check_outputs()

    def _check_outputs(self) -> None:
        """Every output path is checked now: a bad one must not cost a whole run's reports."""
        s = self.settings
        for setting, value in (
            ("save_baseline_path", s.save_baseline_path),
            ("json_path", s.json_path),
            ("html_path", s.html_path),
            ("codequality_path", s.codequality_path),
        ):
            if value is None:
                continue
            problem = files.check_output_path(self._path(value))
            if problem is not None:
                raise pytest.UsageError(
                    f"leakguard: invalid value {value!r} for {_source(self.config, setting)}:"
                    f" {value} {problem}"
                )

    def _shown(self, nodeid: str) -> str:
        return cwd_relative(nodeid, self.config.rootpath, self.config.invocation_params.dir)

    def _path(self, path: str) -> Path:
        return Path(self.config.invocation_params.dir) / path

    def pytest_report_header(self, config: pytest.Config) -> list[str] | None:
        if not self.settings.enabled:
            return None
        s = self.settings
        self.settings = s = readable(s)
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
            self.settings = readable(self.settings)
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

    def judge_retried(
        self, item: pytest.Item, teardown: pytest.TestReport, verdict: Verdict, settings: Settings
    ) -> None:
        """Judge a retried test's verdict on its teardown report (see retry.py)."""
        self._judge(item, teardown, verdict, settings)
        self._properties(teardown, teardown.leakguard)

    @staticmethod
    def _properties(report: pytest.TestReport, data: dict[str, Any]) -> None:
        # JUnit XML takes a test's properties from its teardown report.
        report.user_properties.append(("leakguard_verdict", data["verdict"]))
        report.user_properties.append(("leakguard_runs", data["runs"]))
        for probe, growth in sorted(data["growth_per_run"].items()):
            report.user_properties.append((f"leakguard_growth_{probe}", round(growth, 3)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "leakguard", None)
        if data is not None:
            self.results.append(data)

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
        if not self.results and self.comparison is None and not self.saved:
            return
        terminalreporter.write_sep("=", "leakguard")
        verbose = self.config.get_verbosity() > 0
        if self.results:
            for text, markup in summary_lines(self.results, verbose, self._shown):
                terminalreporter.write_line(text, **markup)
        if self.comparison is not None:
            terminalreporter.write_sep("-", "leakguard baseline comparison")
            red = self.comparison.failed
            for line in baseline.table(self.comparison):
                terminalreporter.write_line(line, red=red, green=not red)
        for line, markup in self.saved:
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
        if not self.controller:
            return
        incomplete = self._incomplete(session, exitstatus)
        if self.settings.save_baseline_path is not None:
            self._save_baseline(session, incomplete)
        self._write_ci_reports(session)
        json_path, html_path = self.settings.json_path, self.settings.html_path
        if json_path is None and html_path is None:
            return
        settings = report_settings(self.settings, self.units)
        settings["allocation_counter"] = counter_installed()
        payload = json_report.build(self.results, settings, environment(), incomplete)
        if self.comparison is not None:
            payload["baseline"] = baseline.comparison_to_json(self.comparison)
        # Each write on its own: one that fails must not cost the others.
        if json_path is not None:
            target = str(self._path(json_path))
            self._write(session, "JSON report", lambda: files.write_json(target, payload))
        if html_path is not None:
            from .report import html

            text, page = html.render(payload), str(self._path(html_path))
            self._write(session, "HTML report", lambda: files.write_text(page, text))

    def _incomplete(self, session: pytest.Session, exitstatus: int) -> str | None:
        """Why this run did not check every test it should have, or ``None``."""
        if self.crashed:
            return f"an xdist worker went down ({'; '.join(self.crashed)})"
        stopped = session.shouldfail or session.shouldstop
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return "interrupted" + (f": {stopped}" if isinstance(stopped, str) else "")
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            name = getattr(exitstatus, "name", None) or f"exit status {int(exitstatus)}"
            return f"the session ended with {name}"
        if stopped:
            return f"stopped early: {stopped}" if isinstance(stopped, str) else "stopped early"
        return None

    def _save_baseline(self, session: pytest.Session, incomplete: str | None) -> None:
        target = str(self._path(self.settings.save_baseline_path or ""))
        if incomplete is not None and not self.settings.allow_incomplete:
            # A partial run's figures would replace the baseline's with fewer tests.
            self.saved.append(
                (
                    f"leakguard: baseline not saved to {target}: the run is incomplete"
                    f" ({incomplete}); --leakguard-allow-incomplete saves it marked so",
                    {"yellow": True},
                )
            )
            return
        results = baseline.from_results(self.results, environment(), incomplete)
        backup = self._write(session, "baseline", lambda: baseline.save(target, results) or "")
        if backup is not None:
            kept = f" (the previous one kept as {backup})" if backup else ""
            mark = f", marked incomplete ({incomplete})" if incomplete else ""
            self.saved.append((f"leakguard: baseline saved to {target}{kept}{mark}", {}))

    def _write(self, session: pytest.Session, what: str, write: Callable[[], T]) -> T | None:
        """Write one output and return what ``write`` returns; on failure, ``None``: the
        failure is reported (and fails the run), not raised."""
        try:
            return write()
        except OSError as exc:  # files.OutputPathError included
            self.saved.append((f"leakguard: ERROR: {what} not written: {exc}", {"red": True}))
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return None

    def _write_ci_reports(self, session: pytest.Session) -> None:
        """GitLab's Code Quality report when asked; GitHub's step summary on GitHub Actions."""
        rootdir, start = self.config.rootpath, self.config.invocation_params.dir
        if self.settings.codequality_path is not None:
            target = str(self._path(self.settings.codequality_path))
            self._write(
                session,
                "Code Quality report",
                lambda: codequality.write(target, self.results, rootdir, os.environ, start),
            )
        try:
            github.write_summary(self.results, rootdir, os.environ, start)
        except OSError as exc:  # the runner's file, not asked for: say so, do not crash
            self.saved.append((f"leakguard: GitHub step summary not written: {exc}", {}))


def _source(config: pytest.Config, setting: str) -> str:
    """Where a setting's value came from: its flag, or its ini key in the named file."""
    for option in OPTIONS:
        if option.name == setting:
            given = config.getoption(option.ini_key)
            return option.flag if given is not None else _ini_source(config, option.ini_key)
    return setting


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
