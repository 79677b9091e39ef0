"""End-to-end detection: known leaks are found, known non-leaks are not.

Each generated test file is run once, in a subprocess (real measurement
touches process-global state: tracemalloc, ``gc.freeze``), by whichever test
needs it first (under xdist, by the first worker); every case then reads its
own verdict from that shared run.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import LeakRun, SharedRuns, describe

from pytest_leakguard.config import RSS_FLOOR

# ---------------------------------------------------------------- generated test files

FIND_SOURCE = """
import atexit
import functools
import linecache
import logging
import unittest

import pytest

LIST = []
DICT = {}
CALLBACKS = []
PARAM_LIST = []
FIXTURE_LIST = []
UNITTEST_LIST = []
LARGE = []
EVERY_OTHER = []
S = ""
COUNTER = {"lru": 0, "logger": 0, "every_other": 0, "generated": 0, "third": 0}


def test_module_list():
    LIST.append(object())


def test_module_dict():
    DICT[len(DICT)] = str(len(DICT))


class Widget:
    instances = []

    def __init__(self):
        Widget.instances.append(self)


def test_class_registry():
    Widget()


@functools.lru_cache(maxsize=None)
def square(n):
    return [n * n]


def test_unbounded_lru_cache():
    COUNTER["lru"] += 1
    square(COUNTER["lru"])


def test_logging_handler_per_call():
    logging.getLogger("app.handlers").addHandler(logging.NullHandler())


def test_logger_per_call():
    COUNTER["logger"] += 1
    logging.getLogger(f"x{COUNTER['logger']}")


class Connection:
    def close(self):
        pass


def test_atexit_per_call():
    atexit.register(Connection().close)


class Listener:
    def on_event(self):
        pass


def test_callbacks():
    CALLBACKS.append(Listener().on_event)


@pytest.fixture
def leaky_fixture():
    FIXTURE_LIST.append(bytearray(64))
    yield


def test_function_fixture(leaky_fixture):
    pass


@pytest.mark.parametrize("leak", [True, False], ids=["leaky", "clean"])
def test_param(leak):
    if leak:
        PARAM_LIST.append(object())


class TestCaseLeak(unittest.TestCase):
    def test_leaks(self):
        UNITTEST_LIST.append(object())


def test_large():
    LARGE.append(bytearray(1024 * 1024))


def test_every_other_run():
    COUNTER["every_other"] += 1
    if COUNTER["every_other"] % 2 == 0:
        EVERY_OTHER.append(object())


@pytest.mark.leakguard(confirm_runs=20)  # the window: past 1 KiB the string gains a block once
def test_slow():
    global S
    S = S + "abcd"


THIRD = []


def test_every_third_run():
    COUNTER["third"] += 1
    if COUNTER["third"] % 3 == 0:  # from the first measured run on: the screen sees it
        THIRD.append(object())


def test_generated_source_in_linecache():
    # As attrs < 21.3 or a template engine: the source of generated code is registered
    # for tracebacks under a new name per call, and never removed.
    COUNTER["generated"] += 1
    name = "<generated init %d>" % COUNTER["generated"]
    source = "def __init__(self, x):\\n    self.x = x\\n"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    exec(compile(source, name, "exec"), {})
"""

FIND = {
    "module-list": "test_module_list",
    "module-dict": "test_module_dict",
    "class-registry": "test_class_registry",
    "unbounded-lru-cache": "test_unbounded_lru_cache",
    "logging-handler-per-call": "test_logging_handler_per_call",
    "logger-per-call": "test_logger_per_call",
    "atexit-per-call": "test_atexit_per_call",
    "callbacks": "test_callbacks",
    "function-fixture": "test_function_fixture",
    "parametrized-leaky-case": "test_param[leaky]",
    "unittest-method": "TestCaseLeak::test_leaks",
    "large-1MiB": "test_large",
    "every-other-run": "test_every_other_run",
    "every-third-run": "test_every_third_run",
    "slow-4-bytes": "test_slow",
    "generated-source-in-linecache": "test_generated_source_in_linecache",
}

NATIVE_SOURCE = """
import ctypes

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.memset.restype = ctypes.c_void_p
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]


def test_native():
    size = 256 * 1024
    libc.memset(libc.malloc(size), 1, size)
"""
"""A leak only RSS sees, in a file of its own: ctypes in the process changes what the
explanation of any leak walks through, and one crash must not hide the other verdicts."""

CLEAN_SOURCE = """
import abc
import asyncio
import dataclasses
import functools
import logging
import random
import re
import subprocess
import sys
import threading
import traceback
import typing
import warnings

LAZY_MODULE_WAS_IMPORTED = "plistlib" in sys.modules
CACHE = {}
COUNTER = {"lru": 0, "re": 0, "typing": 0, "print": 0, "log": 0, "warn": 0}
RANDOM = random.Random(1234)


def bump(name):
    COUNTER[name] += 1
    return COUNTER[name]


def test_large_temporary():
    data = bytearray(50 * 1024 * 1024)
    data[-1] = 1
    del data


def test_lazy_import():
    assert not LAZY_MODULE_WAS_IMPORTED, "the case needs a module nothing imported yet"
    import plistlib

    assert plistlib.loads(plistlib.dumps({"a": [1, 2]})) == {"a": [1, 2]}


def test_warm_cache_once():
    if "table" not in CACHE:
        CACHE["table"] = [str(i) for i in range(1000)]
    assert len(CACHE["table"]) == 1000


@functools.lru_cache(maxsize=8)
def bounded(n):
    return [n]


def test_bounded_lru_cache():
    bounded(bump("lru"))


def test_re_cache():
    n = bump("re")
    assert re.compile(f"x{n}y").fullmatch(f"x{n}y")


TYPES = [int, str, bytes, float, complex, bool, bytearray, list, dict, set, tuple, frozenset]


def test_typing_cache():
    arg = TYPES[bump("typing") % len(TYPES)]
    assert typing.List[arg] == typing.List[arg]
    assert typing.Dict[str, arg] is not None
    assert typing.Optional[arg] is not None


class Base(abc.ABC):
    @abc.abstractmethod
    def run(self): ...


def test_abc_subclass_per_call():
    class Impl(Base):
        def run(self):
            return 1

    assert isinstance(Impl(), Base)
    assert issubclass(Impl, Base)


def test_dataclass_per_call():
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    assert Point(1, 2) == Point(1, 2)


def test_print():
    print("output " * 200, bump("print"))
    print("to stderr", bump("print"), file=sys.stderr)


def test_log_records():
    logging.getLogger(__name__).warning("event %d happened", bump("log"))
    logging.getLogger(__name__).error("and another %s", "x" * 500)


def test_warnings():
    warnings.warn(f"careful {bump('warn')}", UserWarning)


def test_threads():
    results = []
    threads = [threading.Thread(target=results.append, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1, 2, 3]


async def answer():
    await asyncio.sleep(0)
    return 42


def test_asyncio_run():
    assert asyncio.run(answer()) == 42


def test_subprocess_run():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


class Node:
    def __init__(self):
        self.other = None
        self.payload = bytearray(1000)


def test_reference_cycles():
    a, b = Node(), Node()
    a.other, b.other = b, a


def test_formats_tracebacks():
    # Formatting a traceback or a warning reads real files into linecache: one entry per
    # file (here pytest's and the plugin's frames too), added once and kept.
    try:
        int("not a number")
    except ValueError:
        assert "int(" in traceback.format_exc()
    assert "format_stack" in "".join(traceback.format_stack())
    assert "careful" in warnings.formatwarning("careful", UserWarning, __file__, 1)


def test_random_temporaries():
    junk = [bytearray(RANDOM.randint(1, 200_000)) for _ in range(RANDOM.randint(1, 20))]
    assert junk


def test_noop():
    pass
"""

CLEAN = {
    "large-temporary-50MB": "test_large_temporary",
    "lazy-import": "test_lazy_import",
    "warm-cache-once": "test_warm_cache_once",
    "bounded-lru-cache": "test_bounded_lru_cache",
    "re-pattern-cache": "test_re_cache",
    "typing-cache": "test_typing_cache",
    "abc-subclass-per-call": "test_abc_subclass_per_call",
    "dataclass-per-call": "test_dataclass_per_call",
    "print": "test_print",
    "log-records": "test_log_records",
    "warnings": "test_warnings",
    "threads": "test_threads",
    "asyncio-run": "test_asyncio_run",
    "subprocess-run": "test_subprocess_run",
    "reference-cycles": "test_reference_cycles",
    "random-temporaries": "test_random_temporaries",
    "formats-tracebacks": "test_formats_tracebacks",
    "noop": "test_noop",
}

RECORD = """
import pathlib

import pytest


def record(name):
    with open(pathlib.Path(__file__).with_name("calls.txt"), "a") as stream:
        stream.write(name + "\\n")
"""

NOOP_RUNS = 100
"""Measured runs of the no-op: enough for the harness's own periodic work to show, if it
were measured (pytest sets and pops PYTEST_CURRENT_TEST in every run, and os.environ's
hash table is rebuilt every few dozen of those)."""

HARNESS_SOURCE = (
    RECORD
    + f"""
NOOP_RUNS = {NOOP_RUNS}


@pytest.fixture
def per_test():
    record("fixture-setup")
    yield
    record("fixture-teardown")


@pytest.fixture(scope="module")
def per_module():
    record("module-setup")
    yield
    record("module-teardown")


def test_counted(per_test, per_module):
    record("body")


@pytest.mark.leakguard(runs=NOOP_RUNS)
def test_noop():
    pass
"""
)

RERUN_SOURCE = (
    RECORD
    + """
import unittest

CALLS = [0]


def test_fails_on_third_call():
    CALLS[0] += 1
    if CALLS[0] == 3:
        raise RuntimeError("third call fails: flaky-sentinel")


class TestCaseCalls(unittest.TestCase):
    # unittest reports a failure to pytest's TestCaseFunction instead of raising it.
    calls = 0

    def test_fails_on_third_call(self):
        TestCaseCalls.calls += 1
        if TestCaseCalls.calls == 3:
            raise RuntimeError("third call fails: flaky-sentinel")


def test_skips_itself():
    record("test_skips_itself")
    pytest.skip("not today")


@pytest.mark.skip(reason="never")
def test_marked_skip():
    record("test_marked_skip")


@pytest.mark.xfail(reason="known bug", strict=False)
def test_xfail():
    record("test_xfail")
    assert False


@pytest.mark.xfail(reason="maybe fixed", strict=False)
def test_xpass():
    record("test_xpass")
"""
)


# ---------------------------------------------------------------- shared runs


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    """The runs of the generated files, each made once."""
    return SharedRuns.for_session(tmp_path_factory)


@pytest.fixture
def find_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> LeakRun:
    """The run of the file of leaks that must be found."""
    return shared_runs.get(pytester, "test_find", FIND_SOURCE)


@pytest.fixture
def native_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> LeakRun:
    """The run of the native leak."""
    return shared_runs.get(pytester, "test_native", NATIVE_SOURCE)


@pytest.fixture
def clean_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> LeakRun:
    """The run of the file of tests that must not be flagged."""
    return shared_runs.get(pytester, "test_clean", CLEAN_SOURCE)


@pytest.fixture
def harness_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> LeakRun:
    """The run that counts calls and measures a no-op for many runs."""
    # with the samples of clean tests: the no-op's are checked run by run
    return shared_runs.get(pytester, "test_harness", HARNESS_SOURCE, "--leakguard-clean-details")


@pytest.fixture
def rerun_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> LeakRun:
    """The run of a test failing when re-run, and of skipped and xfail tests."""
    return shared_runs.get(pytester, "test_rerun", RERUN_SOURCE)


@pytest.fixture
def strict_rerun_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> LeakRun:
    """The same run with ``--leakguard-strict``."""
    return shared_runs.get(pytester, "test_rerun_strict", RERUN_SOURCE, "--leakguard-strict")


def steps(entry: dict[str, Any], probe: str) -> list[int]:
    """A probe's change per measured run (the warm-up runs left out)."""
    values = entry["samples"][probe][int(entry["warmup"]) :]
    return [b - a for a, b in zip(values, values[1:])]


# ---------------------------------------------------------------- leaks that must be found


@pytest.mark.parametrize("test", list(FIND.values()), ids=list(FIND))
def test_leak_is_found(find_run: LeakRun, test: str) -> None:
    entry = find_run.entry(f"test_find.py::{test}")
    assert entry["verdict"] == "leak", describe(entry)
    assert find_run.status(entry["nodeid"]) == "LEAKED", find_run.output()


def test_runs_with_leaks_exit_1(find_run: LeakRun) -> None:
    assert find_run.result.ret == pytest.ExitCode.TESTS_FAILED, find_run.output()
    find_run.result.assert_outcomes(failed=len(FIND), passed=1)


def test_clean_parametrized_case_beside_a_leaky_one_is_clean(find_run: LeakRun) -> None:
    entry = find_run.entry("test_find.py::test_param[clean]")
    assert entry["verdict"] == "clean", describe(entry)
    assert find_run.status(entry["nodeid"]) == "PASSED"


def test_slow_leak_is_found_without_a_new_block(find_run: LeakRun) -> None:
    entry = find_run.entry("test_find.py::test_slow")
    assert entry["trend"]["blocks"] == "flat", describe(entry)
    assert entry["trend"]["heap"] == "growing", describe(entry)


def test_native_leak_is_found_by_rss(native_run: LeakRun) -> None:
    """libc malloc of 256 KiB, written to and never freed: only RSS can see it."""
    entry = native_run.entry("test_native.py::test_native")
    assert entry["verdict"] == "leak", describe(entry)
    assert native_run.status(entry["nodeid"]) == "LEAKED", native_run.output()
    assert native_run.result.ret == pytest.ExitCode.TESTS_FAILED, native_run.output()
    assert entry["trend"]["rss"] == "growing", describe(entry)
    # Measured in full once malloc has used up the free heap the session started with: the
    # first runs can reuse it (RSS flat), which pulls the slope over all the runs below
    # 256 KiB (seen: 231 to 250 KiB); the slope over the last runs is the leak's.
    assert entry["tail_growth_per_run"]["rss"] >= 256 * 1024, describe(entry)


def test_large_leak_is_measured_in_full(find_run: LeakRun) -> None:
    entry = find_run.entry("test_find.py::test_large")
    assert entry["growth_per_run"]["heap"] >= 1024 * 1024, describe(entry)


# ---------------------------------------------------------------- what must not be flagged


@pytest.mark.parametrize("test", list(CLEAN.values()), ids=list(CLEAN))
def test_no_leak_is_not_flagged(clean_run: LeakRun, test: str) -> None:
    entry = clean_run.entry(f"test_clean.py::{test}")
    assert entry["verdict"] == "clean", describe(entry)
    assert clean_run.status(entry["nodeid"]) == "PASSED", clean_run.output()


def test_runs_without_leaks_exit_0(clean_run: LeakRun) -> None:
    assert clean_run.result.ret == pytest.ExitCode.OK, clean_run.output()
    clean_run.result.assert_outcomes(passed=len(CLEAN))


# ---------------------------------------------------------------- the harness itself


def test_noop_shows_no_growth(harness_run: LeakRun) -> None:
    """The harness does not measure itself: a no-op is flat on every probe, run after run.

    RSS moves in pages with everything else in the process: it stays below its floor.
    """
    entry = harness_run.entry("test_harness.py::test_noop")
    assert entry["verdict"] == "clean", describe(entry)
    assert entry["runs"] == NOOP_RUNS, describe(entry)
    assert {"blocks", "objects", "heap", "rss"} <= set(entry["samples"]), describe(entry)
    for probe, growth in entry["growth_per_run"].items():
        if probe == "rss":
            assert growth < RSS_FLOOR, describe(entry)
            assert entry["trend"][probe] == "flat", describe(entry)
        else:
            moved = {run: step for run, step in enumerate(steps(entry, probe), 1) if step}
            assert moved == {}, f"{probe} moved in runs {moved}\n{describe(entry)}"
            assert growth == 0, describe(entry)


def test_body_and_fixture_run_once_per_run(harness_run: LeakRun) -> None:
    """The normal run, each warm-up run and each measured run (and, for a clean test whose
    window rose, the holder check's few runs, see deep.py): the fixture once per run."""
    entry = harness_run.entry("test_harness.py::test_counted")
    assert entry["verdict"] == "clean", describe(entry)
    expected = 1 + entry["warmup"] + entry["runs"] + entry["holder_check_runs"]
    assert entry["warmup"] == harness_run.report["settings"]["warmup"]
    assert entry["runs"] >= harness_run.report["settings"]["runs"]
    counted = harness_run.calls()
    assert counted["body"] == expected, (counted, describe(entry))
    assert counted["fixture-setup"] == counted["body"], (counted, describe(entry))
    assert counted["fixture-teardown"] == counted["body"], (counted, describe(entry))


def test_module_fixture_stays_up_across_runs(harness_run: LeakRun) -> None:
    counted = harness_run.calls()
    assert counted["module-setup"] == 1, counted
    assert counted["module-teardown"] == 1, counted


# ---------------------------------------------------------------- re-runs that fail, skips


@pytest.mark.parametrize(
    "test", ["test_fails_on_third_call", "TestCaseCalls::test_fails_on_third_call"]
)
def test_failing_rerun_is_an_error_not_a_failure(rerun_run: LeakRun, test: str) -> None:
    entry = rerun_run.entry(f"test_rerun.py::{test}")
    assert entry["verdict"] == "error", describe(entry)
    assert "RuntimeError" in entry["error"], describe(entry)
    assert "third call fails: flaky-sentinel" in entry["error"], describe(entry)
    assert rerun_run.status(entry["nodeid"]) == "PASSED", rerun_run.output()
    assert rerun_run.result.ret == pytest.ExitCode.OK, rerun_run.output()


def test_failing_rerun_fails_the_test_when_strict(strict_rerun_run: LeakRun) -> None:
    run = strict_rerun_run
    entry = run.entry("test_rerun_strict.py::test_fails_on_third_call")
    assert entry["verdict"] == "error", describe(entry)
    assert "third call fails: flaky-sentinel" in entry["error"], describe(entry)
    assert run.status(entry["nodeid"]) == "LEAKERROR", run.output()
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED, run.output()
    assert "third call fails: flaky-sentinel" in run.output()


NOT_RERUN = {
    "skip-in-body": ("test_skips_itself", "SKIPPED", 1),
    "skip-marker": ("test_marked_skip", "SKIPPED", 0),
    "xfail": ("test_xfail", "XFAIL", 1),
    "xpass": ("test_xpass", "XPASS", 1),
}


@pytest.mark.parametrize(("test", "status", "bodies"), NOT_RERUN.values(), ids=list(NOT_RERUN))
def test_skipped_and_xfail_tests_are_not_rerun(
    rerun_run: LeakRun, test: str, status: str, bodies: int
) -> None:
    entry = rerun_run.entry(f"test_rerun.py::{test}")
    assert entry["verdict"] == "skipped", describe(entry)
    assert rerun_run.status(entry["nodeid"]) == status, rerun_run.output()
    assert rerun_run.calls()[test] == bodies
