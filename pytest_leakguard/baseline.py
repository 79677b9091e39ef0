"""Baselines: load, save and compare per-test growth figures (pure, no pytest import).

A baseline is versioned JSON with sorted keys, readable in a diff::

    {"format": "pytest-leakguard-baseline", "version": 1,
     "environment": {...},
     "tests": {"test_x.py::test_a": {"verdict": "clean",
                                     "growth_per_run": {"blocks": 0.0, ...},
                                     "units": {"blocks": "count", ...}}}}

:func:`load` also accepts a JSON report (``--leakguard-json``), so two reports,
two baselines or one of each can be compared.  Nothing is ever evaluated or
unpickled: a file that is not one of these raises :class:`BaselineError`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .files import write_json
from .report.json_report import SCHEMA_VERSION
from .result import LEAK
from .units import PROBE_UNITS, format_amount, parse_count, parse_size, shown

FORMAT = "pytest-leakguard-baseline"
VERSION = 1
DEFAULT_RULES = "bytes:512B,count:2,resources:0"


class BaselineError(Exception):
    """A baseline (or report) file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Rule:
    """How much a probe's growth per run may exceed the baseline's."""

    absolute: float | None = None
    relative: float | None = None

    def tolerance(self, base: float) -> float:
        """The allowed increase over ``base``."""
        if self.relative is not None:
            return abs(base) * self.relative
        return self.absolute or 0.0


def parse_rules(text: str, units: Mapping[str, str]) -> dict[str, Rule]:
    """Parse ``bytes:1KiB,blocks:10%`` into rules keyed by probe name or unit group.

    Keys are probe names (``blocks``, ``rss``...) or unit groups (``bytes``,
    ``count``, ``resources``); values are absolute (a size for byte probes, a
    number otherwise) or relative (``10%``).  Raises ``ValueError``.
    """
    rules: dict[str, Rule] = {}
    for part in text.split(","):
        key, sep, value = (s.strip() for s in part.partition(":"))
        if not sep or not key or not value:
            raise ValueError(f"{part.strip()!r} is not KEY:TOLERANCE (for example bytes:1KiB)")
        if key not in units and key not in PROBE_UNITS:
            known = ", ".join([*PROBE_UNITS, *units])
            raise ValueError(f"unknown probe or unit {key!r}; use one of {known}")
        unit = units.get(key, key)
        if value.endswith("%"):
            percent = parse_count(value[:-1])
            rules[key] = Rule(relative=percent / 100)
        elif unit == "bytes":
            rules[key] = Rule(absolute=float(parse_size(value)))
        else:
            rules[key] = Rule(absolute=parse_count(value))
    return rules


def rule_for(rules: Mapping[str, Rule], probe: str, unit: str) -> Rule | None:
    """The rule of a probe: its own, else its unit group's, else none."""
    return rules.get(probe) or rules.get(unit)


@dataclass
class Baseline:
    """Per-test figures and the environment they were measured in."""

    tests: dict[str, dict[str, Any]]
    environment: dict[str, Any] = field(default_factory=dict)
    incomplete_reason: str | None = None
    """Why the run did not check every test (``"interrupted"``...), or ``None``."""

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "complete": self.incomplete_reason is None,
            "incomplete_reason": self.incomplete_reason,
            "environment": self.environment,
            "tests": self.tests,
        }


def from_results(
    results: Sequence[Mapping[str, Any]],
    environment: Mapping[str, Any],
    incomplete_reason: str | None = None,
    units: Mapping[str, str] | None = None,
) -> Baseline:
    """A baseline from the results of a run in their JSON form (tests not measured are
    left out); ``units`` are the probes' (a compact result's figures are all 0)."""
    tests: dict[str, dict[str, Any]] = {}
    for data in results:
        if "flat" in data:  # the compact form: every probe still
            probes = data["flat"]
            if not isinstance(probes, Mapping):
                raise ValueError(f"'flat' of {data['nodeid']} is not an object")
            growth = dict.fromkeys(probes, 0.0)
            found = {probe: (units or {}).get(probe, "count") for probe in probes}
        else:
            # Sustained growth only: one-off steps in a short window are noise, not figures.
            growth = data.get("sustained_growth_per_run") or {}
            found = dict(data.get("units", {}))
        if not growth:
            continue
        tests[str(data["nodeid"])] = {
            "verdict": data["verdict"],
            "growth_per_run": {k: float(v) for k, v in growth.items()},
            "units": found,
        }
    return Baseline(tests, dict(environment), incomplete_reason)


def load(path: str, allow_incomplete: bool = False) -> Baseline:
    """Read a baseline or a JSON report; :class:`BaselineError` names the file and the problem.

    The file of a run that did not check every test (interrupted, a crashed xdist
    worker) is refused unless ``allow_incomplete``: its missing tests would read as removed.
    """
    found = _read(path)
    if found.incomplete_reason is not None and not allow_incomplete:
        raise BaselineError(
            f"{path} is incomplete ({found.incomplete_reason}): it lacks the tests that did"
            " not run; use --leakguard-allow-incomplete (pytest) or --allow-incomplete"
            " (pytest-leakguard compare) to use it anyway"
        )
    return found


def _read(path: str) -> Baseline:
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise BaselineError(f"baseline file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read baseline file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError; nesting too deep
        raise BaselineError(
            f"baseline file {path} is not valid JSON (truncated or corrupt?): {exc}"
        ) from None
    if not isinstance(data, dict):
        raise BaselineError(f"{path} is not a leakguard baseline or report")
    try:
        if data.get("format") == FORMAT:
            return _from_baseline(data, path)
        if "tests" in data and isinstance(data.get("tests"), list) and "version" in data:
            return _from_report(data, path)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise BaselineError(f"baseline file {path} is malformed: {shown(exc)}") from None
    raise BaselineError(f"{path} is not a leakguard baseline or report")


def _check_version(data: Mapping[str, Any], path: str, supported: int, what: str) -> None:
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise BaselineError(f"{what} {path} has no version number")
    if version > supported:
        raise BaselineError(
            f"{what} {path} has version {shown(version)}, newer than this pytest-leakguard reads"
            f" ({supported}); upgrade pytest-leakguard"
        )


def _from_baseline(data: Mapping[str, Any], path: str) -> Baseline:
    _check_version(data, path, VERSION, "baseline file")
    tests = data["tests"]
    if not isinstance(tests, dict):
        raise BaselineError(f"baseline file {path} is malformed: 'tests' is not an object")
    checked = {str(nodeid): _entry(entry, path, str(nodeid)) for nodeid, entry in tests.items()}
    return Baseline(checked, _environment(data.get("environment", {})), _incomplete(data))


def _from_report(data: Mapping[str, Any], path: str) -> Baseline:
    _check_version(data, path, SCHEMA_VERSION, "report")
    for test in data["tests"]:
        # as strictly as a baseline's: float() would take "nan", "inf" and booleans
        for value in (test.get("sustained_growth_per_run") or {}).values():
            _number(value, path, _label(test.get("nodeid")))
    units = data.get("units")
    if units is not None and not isinstance(units, dict):
        raise BaselineError(f"report {path} is malformed: 'units' is not an object")
    found = from_results(data["tests"], {}, units=units)
    checked = {nodeid: _entry(entry, path, nodeid) for nodeid, entry in found.tests.items()}
    return Baseline(checked, _environment(data.get("environment", {})), _incomplete(data))


def _label(nodeid: Any) -> str:
    return nodeid if isinstance(nodeid, str) else shown(nodeid)


def _entry(entry: Mapping[str, Any], path: str, nodeid: str) -> dict[str, Any]:
    """One test's figures, checked: a string verdict, finite numbers, string units."""
    verdict = entry["verdict"]
    if not isinstance(verdict, str):
        raise BaselineError(f"baseline file {path}: {nodeid} has a verdict {shown(verdict)}")
    units = entry.get("units", {})
    if not all(isinstance(unit, str) for unit in units.values()):
        raise BaselineError(f"baseline file {path}: {nodeid} has units {shown(units)}")
    return {
        "verdict": verdict,
        "growth_per_run": {
            str(k): _number(v, path, nodeid) for k, v in entry["growth_per_run"].items()
        },
        "units": {str(k): v for k, v in units.items()},
    }


def _environment(environment: Mapping[str, Any]) -> dict[str, Any]:
    """The environment's values as text: a hand-edited file may hold anything there."""
    return {str(k): v if isinstance(v, str) else shown(v) for k, v in environment.items()}


FIGURE_LIMIT = 2.0**63
"""The largest growth per run a file may give (in bytes or a count): sums and differences of
two figures stay finite, so the comparison and its table never overflow."""


def _incomplete(data: Mapping[str, Any]) -> str | None:
    """The reason a file marks itself incomplete (files without the mark are complete)."""
    if data.get("complete", True) is not False:
        return None
    return str(data.get("incomplete_reason") or "incomplete")


def _number(value: Any, path: str, nodeid: str) -> float:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not numeric or (isinstance(value, float) and not math.isfinite(value)):
        raise BaselineError(
            f"baseline file {path}: {nodeid} has a non-numeric figure {shown(value)}"
        )
    if not -FIGURE_LIMIT <= value <= FIGURE_LIMIT:
        raise BaselineError(
            f"baseline file {path}: {nodeid} has a figure out of range {shown(value)}"
            f" (at most {FIGURE_LIMIT:.0f} per run)"
        )
    return float(value)


def save(path: str, baseline: Baseline) -> str | None:
    """Write as :func:`pytest_leakguard.files.write_text` does; an existing regular file
    (or a link's target) is kept as ``PATH.bak``. Returns the backup path.

    Raises :class:`OSError` (:class:`pytest_leakguard.files.OutputPathError` for the
    file itself) when it cannot be written.
    """
    backup = None
    if os.path.isfile(path):  # not a FIFO or a device: copying one would block or fail
        backup = path + ".bak"
        shutil.copy2(path, backup)
    write_json(path, baseline.to_json())
    return backup


@dataclass(frozen=True)
class Change:
    """One probe of one test whose growth differs from the baseline's."""

    nodeid: str
    probe: str
    unit: str
    before: float
    now: float
    tolerance: float

    @property
    def delta(self) -> float:
        """How much more (or less) the test grows per run than in the baseline."""
        return self.now - self.before


@dataclass
class Comparison:
    """What changed between a baseline and a run."""

    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    new_leaks: list[str] = field(default_factory=list)
    new_tests: list[str] = field(default_factory=list)
    removed_tests: list[str] = field(default_factory=list)
    environment_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether the regression gate fails."""
        return bool(self.regressions or self.new_leaks)


def compare(old: Baseline, new: Baseline, rules: Mapping[str, Rule]) -> Comparison:
    """Compare per-test growth; see :class:`Comparison` for what is reported."""
    result = Comparison()
    for key in sorted(set(old.environment) | set(new.environment)):
        if key in ("pytest_leakguard",):
            continue
        if old.environment.get(key) != new.environment.get(key):
            result.environment_changes[key] = (old.environment.get(key), new.environment.get(key))
    result.removed_tests = sorted(set(old.tests) - set(new.tests))
    for nodeid in sorted(new.tests):
        entry = new.tests[nodeid]
        base = old.tests.get(nodeid)
        if base is None:
            result.new_tests.append(nodeid)
            continue
        if entry["verdict"] == LEAK and base["verdict"] != LEAK:
            result.new_leaks.append(nodeid)
        units = {**base.get("units", {}), **entry.get("units", {})}
        for probe, now in sorted(entry["growth_per_run"].items()):
            if probe not in base["growth_per_run"]:
                continue
            before = base["growth_per_run"][probe]
            unit = units.get(probe, "count")
            rule = rule_for(rules, probe, unit)
            if rule is None:
                continue
            tolerance = rule.tolerance(before)
            change = Change(nodeid, probe, unit, before, now, tolerance)
            if now - before > tolerance:
                result.regressions.append(change)
            elif before - now > tolerance and before > 0:
                result.improvements.append(change)
    return result


def comparison_to_json(comparison: Comparison) -> dict[str, Any]:
    """The comparison for the JSON and HTML reports."""

    def rows(changes: list[Change]) -> list[dict[str, Any]]:
        return [
            {
                "nodeid": c.nodeid,
                "probe": c.probe,
                "unit": c.unit,
                "baseline": c.before,
                "now": c.now,
                "change": c.delta,
                "tolerance": c.tolerance,
            }
            for c in changes
        ]

    return {
        "failed": comparison.failed,
        "regressions": rows(comparison.regressions),
        "improvements": rows(comparison.improvements),
        "new_leaks": comparison.new_leaks,
        "new_tests": comparison.new_tests,
        "removed_tests": comparison.removed_tests,
        "environment_changes": {k: list(v) for k, v in comparison.environment_changes.items()},
    }


def table(comparison: Comparison) -> list[str]:
    """The comparison as text lines: regressions and improvements side by side."""
    lines: list[str] = []
    for key, (old, new) in comparison.environment_changes.items():
        lines.append(f"warning: environment differs from the baseline's: {key} {old} -> {new}")
    rows = [("REGRESSION", c) for c in comparison.regressions]
    rows += [("improvement", c) for c in comparison.improvements]
    if rows:
        cells = [(label, f"{c.nodeid} [{c.probe}]", *_figures(c)) for label, c in rows]
        titles = ("", "test [probe]", "baseline", "now", "change")
        widths = [max(len(t), *(len(row[i]) for row in cells)) for i, t in enumerate(titles)]
        widths[0] = 13
        for row in [titles, *cells]:
            lines.append(
                f"{row[0]:<{widths[0]}} {row[1]:<{widths[1]}}"
                + "".join(f"  {row[i]:>{widths[i]}}" for i in (2, 3, 4))
            )
    lines.extend(f"REGRESSION    {n}: was not a leak, now leaks" for n in comparison.new_leaks)
    lines.extend(
        f"new           {n}: not in the baseline (judged by the budget)"
        for n in comparison.new_tests
    )
    lines.extend(
        f"removed       {n}: in the baseline, not in this run" for n in comparison.removed_tests
    )
    verdict = "FAILED" if comparison.failed else "passed"
    lines.append(
        f"baseline comparison {verdict}: {len(comparison.regressions)} regressions,"
        f" {len(comparison.new_leaks)} new leaks, {len(comparison.improvements)} improvements,"
        f" {len(comparison.new_tests)} new tests, {len(comparison.removed_tests)} removed tests"
    )
    return lines


def _figures(change: Change) -> tuple[str, str, str]:
    def show(value: float) -> str:
        return f"{format_amount(value, change.unit)}/run"

    sign = "+" if change.delta >= 0 else ""
    return show(change.before), show(change.now), sign + show(change.delta)
