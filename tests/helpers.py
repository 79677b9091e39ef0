"""Helpers shared by the end-to-end tests: run a checked session, read its JSON report."""

from __future__ import annotations

import collections
import contextlib
import functools
import importlib.util
import json
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: each xdist worker makes its own runs
    fcntl = None  # type: ignore[assignment]

REPORT = "report.json"

COUNTER_BUILT = importlib.util.find_spec("pytest_leakguard._alloccount") is not None
"""Whether the compiled allocation counter was built (CI checks that it is)."""
HEAP_ENGINE = "allocation counter" if COUNTER_BUILT else "tracemalloc"
"""What the ``heap`` probe counts with in a session started without ``-X tracemalloc``."""

NO_COUNTER = """
import sys

sys.modules["pytest_leakguard._alloccount"] = None
"""
"""A plugin (``-p no_counter`` once written as ``no_counter.py``): the ``heap`` probe
falls back to ``tracemalloc`` as if the counter had not been built."""


@dataclass
class LeakRun:
    """A finished ``pytest --leakguard`` subprocess and the JSON report it wrote."""

    result: pytest.RunResult
    report: dict[str, Any]
    path: Path
    """The directory the run was made in."""

    def output(self) -> str:
        """Everything the run printed, for assertion messages."""
        return "\n".join(self.result.outlines + self.result.errlines)

    def tests(self) -> dict[str, dict[str, Any]]:
        """The report's per-test entries by node id."""
        return {entry["nodeid"]: entry for entry in self.report.get("tests", [])}

    def entry(self, nodeid: str) -> dict[str, Any]:
        """The report's entry for one test; fails with the run's output if there is none."""
        tests = self.tests()
        assert nodeid in tests, f"{nodeid} not in the report ({sorted(tests)}):\n{self.output()}"
        return tests[nodeid]

    def calls(self, name: str = "calls.txt") -> collections.Counter[str]:
        """The words the generated tests wrote to ``name`` (one per line), counted."""
        path = self.path / name
        return collections.Counter(path.read_text().split() if path.exists() else [])

    def status(self, nodeid: str) -> str:
        """The status word ``-v`` printed for a test (``PASSED``, ``LEAKED``...)."""
        prefix = nodeid + " "
        for line in self.result.outlines:
            if line.startswith(prefix):
                return line[len(prefix) :].split()[0]
        raise AssertionError(f"no verbose line for {nodeid}:\n{self.output()}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy (for the xdist workers that did not make the run)."""
        result = self.result
        return {
            "ret": int(result.ret),
            "outlines": result.outlines,
            "errlines": result.errlines,
            "duration": result.duration,
            "report": self.report,
            "path": str(self.path),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeakRun:
        """The run :meth:`to_dict` saved."""
        result = pytest.RunResult(data["ret"], data["outlines"], data["errlines"], data["duration"])
        return cls(result, data["report"], Path(data["path"]))


def run_leakguard(pytester: pytest.Pytester, *args: str) -> LeakRun:
    """Run ``pytest -v --leakguard --leakguard-json=report.json *args`` in a subprocess."""
    path = pytester.path / REPORT
    path.unlink(missing_ok=True)
    result = pytester.runpytest_subprocess(
        "-v",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--leakguard",
        f"--leakguard-json={REPORT}",
        *args,
    )
    report: dict[str, Any] = read_report(path) if path.exists() else {}
    return LeakRun(result, report, pytester.path)


def read_report(path: Path) -> dict[str, Any]:
    """A JSON report, checked against its schema (``report/schema.json``)."""
    report: dict[str, Any] = json.loads(path.read_text())
    check_report(report)
    return report


def check_report(report: Any) -> None:
    """Fail the test if ``report`` does not follow the JSON report's schema."""
    problems = sorted(_report_validator().iter_errors(report), key=lambda e: list(e.path))
    assert not problems, "the JSON report does not follow its schema:\n" + "\n".join(
        f"  at {'/'.join(map(str, e.path)) or '(top)'}: {e.message[:300]}" for e in problems[:5]
    )


@functools.cache
def _report_validator() -> Any:
    import jsonschema

    from pytest_leakguard.report.json_report import schema

    return jsonschema.Draft202012Validator(schema())


def describe(entry: dict[str, Any]) -> str:
    """A test's verdict, growth and per-run steps, for assertion messages."""
    warmup = int(entry.get("warmup") or 0)
    reason = entry.get("reason", "")  # a compact clean entry has none
    lines = [f"{entry['nodeid']}: {entry['verdict']} after {entry['runs']} runs {reason}"]
    for probe, values in sorted(entry.get("samples", {}).items()):
        steps = [b - a for a, b in zip(values, values[1:])]
        measured: object = steps[warmup:]
        if len(steps) - warmup > 25:  # long windows: only the runs that moved
            measured = {run: step for run, step in enumerate(steps[warmup:], 1) if step}
        growth = entry.get("growth_per_run", {}).get(probe)
        lines.append(f"  {probe}: {growth} per run; warm-up {steps[:warmup]}, runs {measured}")
    if entry.get("error"):
        lines.append(entry["error"])
    return "\n".join(lines)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as stream:
        if fcntl is not None:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX)
        yield


@dataclass
class SharedRuns:
    """Runs made once and read by many tests: once per module, or once per xdist session.

    Under xdist the first worker that needs a run makes it and saves it in
    ``directory`` (shared by the session's workers); the others wait for it and load it.
    """

    directory: Path | None = None
    runs: dict[str, LeakRun] = field(default_factory=dict)

    @classmethod
    def for_session(cls, tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
        """Shared between the xdist workers of this session (each worker's basetemp
        is a directory of the controller's), else kept in memory."""
        if not os.environ.get("PYTEST_XDIST_WORKER"):
            return cls()
        directory = tmp_path_factory.getbasetemp().parent / "leakguard-shared-runs"
        directory.mkdir(exist_ok=True)
        return cls(directory)

    def get(self, pytester: pytest.Pytester, name: str, source: str, *args: str) -> LeakRun:
        """Run ``source`` as ``name.py`` with ``args``, unless it was run already."""
        return self.get_suite(pytester, name, {name: source}, f"{name}.py", *args)

    def get_suite(
        self, pytester: pytest.Pytester, name: str, files: dict[str, str], *args: str
    ) -> LeakRun:
        """Write ``files`` (module name: source) and run ``args``, unless the run ``name``
        was made already: one session for several cases that do not interfere."""
        if name in self.runs:
            return self.runs[name]
        if self.directory is None:
            self.runs[name] = _run_files(pytester, files, *args)
            return self.runs[name]
        saved = self.directory / f"{name}.json"
        with _locked(self.directory / f"{name}.lock"):
            if saved.exists():
                run = LeakRun.from_dict(json.loads(saved.read_text()))
            else:
                run = _run_files(pytester, files, *args)
                saved.write_text(json.dumps(run.to_dict()))
        self.runs[name] = run
        return run


def _run_files(pytester: pytest.Pytester, files: dict[str, str], *args: str) -> LeakRun:
    pytester.makepyfile(**files)
    return run_leakguard(pytester, *args)


@dataclass
class Outcomes:
    """One test module's outcomes in a run's JUnit XML (``--junitxml``), as pytest counts
    them in its summary line: a test whose teardown failed passed and has an error."""

    passed: int = 0
    errors: list[str] = field(default_factory=list)
    """The text of each error (a setup or teardown that failed)."""


def junit_outcomes(path: Path, module: str) -> Outcomes:
    """The outcomes of the tests of ``module`` (``test_x`` for ``test_x.py``) in ``path``."""
    outcomes = Outcomes()
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.get("classname", "").split(".")[0] != module:
            continue
        errors = case.findall("error")
        outcomes.errors += [f"{e.get('message')}\n{e.text}" for e in errors]
        setup_failed = any("failed on setup" in str(e.get("message")) for e in errors)
        if case.find("failure") is None and case.find("skipped") is None and not setup_failed:
            outcomes.passed += 1
    return outcomes


def leak_entry(nodeid: str, sites: list[dict[str, object]]) -> dict[str, object]:
    """A JSON report entry of a leak that the heap probe found (2 KiB per run)."""
    return {
        "nodeid": nodeid,
        "verdict": "leak",
        "warmup": 2,
        "runs": 5,
        "growth_per_run": {"heap": 2048.0},
        "trend": {"heap": "growing"},
        "thresholds": {"heap": 0},
        "units": {"heap": "bytes"},
        "rising_runs": {"heap": 5},
        "tail_growth_per_run": {"heap": 2048.0},
        "samples": {"heap": [0, 2048, 4096, 6144, 8192, 10240, 12288, 14336]},
        "explanation": {"sites": sites},
    }


BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (not a package) for the tests of its pure parts."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module
