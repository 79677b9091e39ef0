"""The files a run writes at its end, on the controller: the baseline, GitLab's Code Quality
report, GitHub's step summary, the JSON and the HTML reports.

Each write is on its own: one that fails is reported in the terminal summary (and fails the
run), never raised, and costs none of the others.  The paths are checked when the session
starts (:meth:`Outputs.check_paths`): a bad one must not cost a whole run's reports.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .. import baseline, files
from ..config import OPTIONS, Settings, _ini_source, report_settings
from ..probes.memory import counter_installed
from . import codequality, github, json_report

T = TypeVar("T")

Line = tuple[str, dict[str, bool]]
"""A line for the terminal summary and its markup (``{"red": True}``...)."""


class Outputs:
    """Writes one session's files; keeps the lines that say what was written, or not."""

    def __init__(self, config: pytest.Config, settings: Settings, units: Mapping[str, str]):
        self.config = config
        self.settings = settings
        self.units = units
        self.saved: list[Line] = []
        """Lines (with markup) about the files written, for the terminal summary."""

    def path(self, path: str) -> Path:
        """A path given by the user: relative to the directory pytest was started from."""
        return Path(self.config.invocation_params.dir) / path

    def check_paths(self) -> None:
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
            problem = files.check_output_path(self.path(value))
            if problem is not None:
                raise pytest.UsageError(
                    f"leakguard: invalid value {value!r} for {_source(self.config, setting)}:"
                    f" {value} {problem}"
                )

    def write(
        self,
        session: pytest.Session,
        results: Sequence[Mapping[str, Any]],
        comparison: baseline.Comparison | None,
        environment: Mapping[str, str],
        incomplete: str | None,
    ) -> None:
        """Write every file asked for (and GitHub's summary on GitHub Actions)."""
        if self.settings.save_baseline_path is not None:
            self._save_baseline(session, results, environment, incomplete)
        self._write_ci_reports(session, results)
        json_path, html_path = self.settings.json_path, self.settings.html_path
        if json_path is None and html_path is None:
            return
        settings = report_settings(self.settings, self.units)
        settings["allocation_counter"] = counter_installed()
        payload = json_report.build(results, settings, environment, incomplete, units=self.units)
        if comparison is not None:
            payload["baseline"] = baseline.comparison_to_json(comparison)
        if json_path is not None:
            target = str(self.path(json_path))
            self._write(session, "JSON report", lambda: json_report.write(target, payload))
        if html_path is not None:
            from . import html

            text, page = html.render(payload), str(self.path(html_path))
            self._write(session, "HTML report", lambda: files.write_text(page, text))

    def _save_baseline(
        self,
        session: pytest.Session,
        results: Sequence[Mapping[str, Any]],
        environment: Mapping[str, str],
        incomplete: str | None,
    ) -> None:
        target = str(self.path(self.settings.save_baseline_path or ""))
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
        found = baseline.from_results(results, dict(environment), incomplete, self.units)
        backup = self._write(session, "baseline", lambda: baseline.save(target, found) or "")
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

    def _write_ci_reports(
        self, session: pytest.Session, results: Sequence[Mapping[str, Any]]
    ) -> None:
        """GitLab's Code Quality report when asked; GitHub's step summary on GitHub Actions."""
        rootdir, start = self.config.rootpath, self.config.invocation_params.dir
        if self.settings.codequality_path is not None:
            target = str(self.path(self.settings.codequality_path))
            self._write(
                session,
                "Code Quality report",
                lambda: codequality.write(target, results, rootdir, os.environ, start),
            )
        try:
            github.write_summary(results, rootdir, os.environ, start)
        except OSError as exc:  # the runner's file, not asked for: say so, do not crash
            self.saved.append((f"leakguard: GitHub step summary not written: {exc}", {}))


def incomplete_reason(
    session: pytest.Session, exitstatus: int, crashed: Sequence[str]
) -> str | None:
    """Why this run did not check every test it should have, or ``None``."""
    if crashed:
        return f"an xdist worker went down ({'; '.join(crashed)})"
    stopped = session.shouldfail or session.shouldstop
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted" + (f": {stopped}" if isinstance(stopped, str) else "")
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        name = getattr(exitstatus, "name", None) or f"exit status {int(exitstatus)}"
        return f"the session ended with {name}"
    if stopped:
        return f"stopped early: {stopped}" if isinstance(stopped, str) else "stopped early"
    return None


def _source(config: pytest.Config, setting: str) -> str:
    """Where a setting's value came from: its flag, or its ini key in the named file."""
    for option in OPTIONS:
        if option.name == setting:
            given = config.getoption(option.ini_key)
            return option.flag if given is not None else _ini_source(config, option.ini_key)
    return setting
