"""End-to-end: one root cause, many tests (#15).

Several tests leak through one shared holder (a runner that caches a stream per
call in a module-level dict, as a CLI library's test runner did).  The first leak
is explained in full; the later ones are confirmed by that holder's length over a
couple of runs, and all are reported as one group.  Ground truth, a standalone
loop: ``invoke`` keeps one more stream per call, forever.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from helpers import LeakRun, SharedRuns, describe

pytest_plugins = ["pytester"]


def _runner_source() -> str:
    """The runner of benchmarks/root_cause.py (a stream cached per call): one suite for both."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "root_cause.py"
    spec = importlib.util.spec_from_file_location("root_cause_benchmark", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.RUNNER)


RUNNER = _runner_source()

SUITE = """
import pytest

from cli_runner import invoke

KEPT = []


@pytest.mark.parametrize("command", ["init", "add", "commit", "push", "status"])
def test_command(command):
    assert invoke(command, "--verbose").startswith(command)


def test_other_leak():
    KEPT.append(bytearray(300))


def test_clean():
    assert "x" * 3
"""

N = 5
_RUNS = SharedRuns()


@pytest.fixture
def run(pytester: pytest.Pytester) -> LeakRun:
    pytester.makepyfile(cli_runner=RUNNER)
    return _RUNS.get(pytester, "test_cli", SUITE)


def _commands(run: LeakRun) -> list[dict[str, Any]]:
    entries = [e for nodeid, e in run.tests().items() if "test_command[" in nodeid]
    assert len(entries) == N, run.output()
    return entries


def test_every_test_of_the_root_cause_leaks_and_shares_one_group(run: LeakRun) -> None:
    entries = _commands(run)
    causes = []
    for entry in entries:
        assert entry["verdict"] == "leak", describe(entry)
        causes.append(entry["explanation"]["root_cause"])
    assert len({c["id"] for c in causes}) == 1, causes
    cause = causes[0]
    assert cause["holder"] == "module cli_runner . _STREAMS (dict)"
    assert cause["site"].startswith("cli_runner.py:")
    assert cause["first"] == "test_cli.py::test_command[init]"


def test_only_the_first_is_explained_in_full(run: LeakRun) -> None:
    explained = [e for e in _commands(run) if "sites" in e["explanation"]]
    assert [e["nodeid"] for e in explained] == ["test_cli.py::test_command[init]"]
    later = run.entry("test_cli.py::test_command[push]")
    assert later["reason"].startswith("same root cause as test_cli.py::test_command[init]")


def test_later_tests_of_a_known_root_cause_skip_the_confirmation(run: LeakRun) -> None:
    """The first leak of a root cause lasts the confirmation stage; a later test still
    growing at the end of its window (20 runs) joins the group instead."""
    first = run.entry("test_cli.py::test_command[init]")
    later = run.entry("test_cli.py::test_command[push]")
    assert first["runs"] > 20, describe(first)
    assert later["runs"] <= 20, describe(later)


def test_an_unrelated_leak_is_not_in_the_group(run: LeakRun) -> None:
    other = run.entry("test_cli.py::test_other_leak")
    assert other["verdict"] == "leak", describe(other)
    assert other["explanation"]["root_cause"]["holder"] == "module test_cli . KEPT (list)"
    assert "sites" in other["explanation"]


def test_the_summary_shows_one_group_listing_its_tests(run: LeakRun) -> None:
    run.result.stdout.fnmatch_lines(
        [
            f"{N} leaks, one root cause (*): module cli_runner . _STREAMS (dict), allocated at"
            " cli_runner.py:*",
            "  test_cli.py::test_command[[]init[]] (explained)",
            "  test_cli.py::test_command[[]add[]]",
            "  test_cli.py::test_command[[]commit[]]",
            "  test_cli.py::test_command[[]push[]]",
            "  test_cli.py::test_command[[]status[]]",
        ]
    )
    assert "one root cause (*): module test_cli . KEPT" not in run.output()


def test_under_xdist_the_workers_root_causes_are_one_group(pytester: pytest.Pytester) -> None:
    """Each worker explains the root cause once; the id is the same on every worker."""
    pytester.makepyfile(cli_runner=RUNNER)
    run = _RUNS.get(pytester, "test_cli_xdist", SUITE, "-n", "2")
    entries = [e for nodeid, e in run.tests().items() if "test_command[" in nodeid]
    assert len(entries) == N, run.output()
    assert len({e["explanation"]["root_cause"]["id"] for e in entries}) == 1, run.output()
    explained = [e for e in entries if "sites" in e["explanation"]]
    assert 1 <= len(explained) <= 2, run.output()
    run.result.stdout.fnmatch_lines(
        [f"{N} leaks, one root cause (*): module cli_runner . _STREAMS*"]
    )
