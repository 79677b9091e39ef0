"""Regression tests: pytest's (or tracemalloc's) own state must not look like a leak.

Each case once grew from run to run inside pytest or the instrument (not in the
test) and was reported as a leak; the cause was fixed generically in the runner,
settle() or a control run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from helpers import COUNTER_BUILT, NO_COUNTER, describe, run_leakguard

from pytest_leakguard.control import needs_control, tracemalloc_own
from pytest_leakguard.result import ProbeTrend

pytest_plugins = ["pytester"]

SUITE = """
import logging
import unittest
import warnings

import pytest


@pytest.fixture(scope="module")
def database():
    return {"rows": []}


@pytest.fixture
def session(database):
    # A function-scoped fixture over a module-scoped one: pytest registers the
    # former's finish() on the latter at every setup.
    return dict(database)


def test_tmp_path(tmp_path):
    (tmp_path / "a.txt").write_text("x")


def test_function_fixture_over_module_fixture(session):
    assert session == {"rows": []}


def test_capsys(capsys):
    print("hello")
    assert capsys.readouterr().out == "hello\\n"


def test_caplog(caplog):
    logging.getLogger("shop").warning("low stock")
    assert "low stock" in caplog.text


def test_record_property(record_property):
    record_property("order", 1)


def test_recwarn(recwarn):
    warnings.warn("deprecated", DeprecationWarning)
    assert len(recwarn) == 1


def test_monkeypatch(monkeypatch):
    monkeypatch.setenv("SHOP_MODE", "test")
    monkeypatch.setattr(logging, "raiseExceptions", False)


def test_tmp_path_factory(tmp_path, tmp_path_factory):
    # Every run starts with empty directories; the paths of each run are recorded.
    first, second = tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("data")
    for directory in (tmp_path, first, second):
        assert not any(directory.iterdir())
        (directory / "a.txt").write_text("x")
    with open(__file__ + ".paths", "a") as paths:
        paths.write(f"{tmp_path} {first} {second}\\n")


class TestUnittestSubtests(unittest.TestCase):
    # pytest 9 logs a report per subTest from inside the call: on every re-run too.
    def test_subtests(self):
        for size in (1, 2, 3):
            with self.subTest(size=size):
                self.assertEqual(len("x" * size), size)


@pytest.mark.skipif(not hasattr(pytest, "Subtests"), reason="pytest < 9 has no subtests fixture")
def test_subtests_fixture(subtests):
    for size in (1, 2):
        with subtests.test(size=size):
            assert len("x" * size) == size
"""


@pytest.fixture(scope="module")
def machinery_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, dict[str, Any]], str]:
    """Run the suite under --leakguard in a subprocess: results by test name, and the output."""
    directory: Path = tmp_path_factory.mktemp("false_positives")
    (directory / "test_pytest_machinery.py").write_text(SUITE)
    report = directory / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-o",
            "addopts=",
            "-q",  # pytest 9 counts passed subtests only when not at verbosity 0
            "--leakguard",
            f"--leakguard-json={report}",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tests = json.loads(report.read_text())["tests"]
    found = {t["nodeid"].split("::")[-1]: t for t in tests}
    paths = (directory / "test_pytest_machinery.py.paths").read_text().splitlines()
    found["test_tmp_path_factory"]["paths"] = [line.split() for line in paths]
    return found, done.stdout


@pytest.fixture(scope="module")
def verdicts(machinery_run: tuple[dict[str, dict[str, Any]], str]) -> dict[str, dict[str, Any]]:
    """The suite's results by test name."""
    return machinery_run[0]


@pytest.mark.parametrize(
    "name",
    [
        "test_tmp_path",
        "test_function_fixture_over_module_fixture",
        "test_capsys",
        "test_caplog",
        "test_record_property",
        "test_recwarn",
        "test_monkeypatch",
        "test_tmp_path_factory",
        "test_subtests",
    ],
)
def test_pytest_machinery_is_not_a_leak(verdicts: dict[str, dict[str, Any]], name: str) -> None:
    test = verdicts[name]
    assert test["verdict"] == "clean", test["message"]


def test_re_runs_reuse_their_temporary_directories(verdicts: dict[str, dict[str, Any]]) -> None:
    """A new numbered directory per run was a leak on Python 3.12: pathlib interns path parts.

    The normal run keeps its own directories; every re-run gets the same ones, emptied.
    """
    test = verdicts["test_tmp_path_factory"]
    runs = test["paths"]
    assert len(runs) == 1 + test["warmup"] + test["runs"]
    normal, *reruns = runs
    assert len(set(map(tuple, reruns))) == 1, reruns
    assert not set(normal) & set(reruns[0])
    assert len(set(reruns[0])) == 3  # two mktemp("data") in one run stay two directories


@pytest.mark.skipif(not hasattr(pytest, "Subtests"), reason="pytest < 9 has no subtests fixture")
def test_subtest_reports_of_reruns_are_held_back(
    machinery_run: tuple[dict[str, dict[str, Any]], str],
) -> None:
    verdicts, output = machinery_run
    assert verdicts["test_subtests_fixture"]["verdict"] == "clean", verdicts[
        "test_subtests_fixture"
    ]["message"]
    # As many subtest reports as one plain run logs: 3 subTests + 2 subtests.test.
    assert " 5 subtests passed" in output.splitlines()[-1], output


GENERATED = """
import itertools

_COUNT = itertools.count()
_NAMES = []


def test_compiles_code_under_a_new_name():
    # As boltons' FunctionBuilder or a template engine: a new file name for each compile.
    name = "<generated-%d>" % next(_COUNT)
    namespace = {}
    exec(compile("def f():\\n    return [1, 2, 3] * 10\\n", name, "exec"), namespace)
    assert namespace["f"]() == [1, 2, 3] * 10


def test_keeps_a_new_string_each_run():
    # A real leak of the same shape (one string per run) stays a leak.
    _NAMES.append("<generated-%d>" % next(_COUNT))
"""


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("counter", marks=pytest.mark.skipif(not COUNTER_BUILT, reason="not built")),
        "tracemalloc",
    ],
)
def test_tracemalloc_file_name_table_is_not_a_leak(pytester: pytest.Pytester, engine: str) -> None:
    # tracemalloc keeps every distinct file name of code that allocated while traced.
    # Counting the heap with it, a control run with tracing off tells; the allocation
    # counter keeps no file names.
    pytester.makepyfile(test_generated=GENERATED, no_counter=NO_COUNTER)
    args = ("-p", "no_counter") if engine == "tracemalloc" else ()
    # with the full form of clean tests: the clean test's reason is checked
    run = run_leakguard(pytester, *args, "--leakguard-clean-details", "test_generated.py")
    generated = run.entry("test_generated.py::test_compiles_code_under_a_new_name")
    assert generated["verdict"] == "clean", describe(generated)
    if engine == "tracemalloc":
        assert generated["reason"].startswith("the growth is tracemalloc's own"), generated
    else:
        assert generated["reason"] == "", generated
    kept = run.entry("test_generated.py::test_keeps_a_new_string_each_run")
    assert kept["verdict"] == "leak", describe(kept)


def _trend(probe: str, trend: str = "growing") -> ProbeTrend:
    return ProbeTrend(probe, "count", trend, 1.0, 1.0, 20, 20, 0.0)


def test_control_only_for_memory_leaks_with_growing_blocks() -> None:
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        assert needs_control([_trend("blocks"), _trend("heap")])
        assert not needs_control([_trend("heap")])  # bytes alone: a realloc in place
        assert not needs_control([_trend("blocks"), _trend("rss")])
        assert not needs_control([_trend("blocks"), _trend("fds")])
    finally:
        if not tracing:
            tracemalloc.stop()
    assert tracing or not needs_control([_trend("blocks")])


def test_tracemalloc_own_needs_every_count_flat() -> None:
    assert tracemalloc_own([_trend("blocks", "flat"), _trend("objects", "flat")])
    assert not tracemalloc_own([_trend("blocks", "flat"), _trend("objects", "noisy")])
    assert not tracemalloc_own([])
