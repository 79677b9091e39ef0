"""A check never crashes the session and leaves the process as it found it.

Nested sessions (in-process ``pytester``), fixtures failing in any scope and phase
during the re-runs, probes that raise, subinterpreters with their own GIL, and
other code patching what the probes patch.  Everything here drives a real
session in a subprocess: the plugin's state is process-wide.
"""

from __future__ import annotations

import gc
import sys

import pytest
from helpers import COUNTER_BUILT, LeakRun, SharedRuns, junit_outcomes, run_leakguard

from pytest_leakguard.settle import Freezer

XDIST = pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])

QUICK = (
    "--leakguard-warmup=1",
    "--leakguard-runs=2",
    "--leakguard-max-runs=3",
    "--leakguard-confirm-runs=3",
)


def _no_crash(output: str, ret: int) -> None:
    assert "INTERNALERROR" not in output, output
    assert ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), output


# --- nested sessions --------------------------------------------------------------

NESTED = """
pytest_plugins = ["pytester"]

def test_before():
    pass

def test_nested(pytester):
    pytester.makepyfile(test_inner="def test_a():\\n    x = [1]\\n")
    inner = pytester.runpytest(
        "--leakguard", "-p", "no:cacheprovider", "-p", "no:randomly",
        "--leakguard-warmup=0", "--leakguard-runs=2", "--leakguard-max-runs=2",
        "--leakguard-confirm-runs=2", "--leakguard-explain=no",
    )
    # In process, pytester's HookRecorder keeps a record of every hook call of the
    # inner re-runs: the inner test grows by them (LEAKED), and must not crash.
    assert inner.ret in (0, 1), inner.outlines
    assert not any("INTERNALERROR" in line for line in inner.outlines), inner.outlines

def test_after():
    pass
"""


@pytest.mark.parametrize("engine", ["default", "tracemalloc"])
@XDIST
def test_in_process_pytester_leaves_the_outer_sessions_counting(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
    workers: tuple[str, ...],
) -> None:
    """An inner session ends: the outer session's counter (or tracemalloc) counts on."""
    if engine == "tracemalloc":
        monkeypatch.setenv("PYTHONTRACEMALLOC", "1")
    pytester.makepyfile(test_outer=NESTED)
    # Each run of test_nested is a whole inner session, which the outer one sees grow
    # (pytester's records): no confirmation or explanation of the outer, which take minutes.
    fast = ("--leakguard-confirm-runs=3", "--leakguard-explain=no")
    run = run_leakguard(pytester, "test_outer.py", *QUICK, *fast, *workers)
    _no_crash(run.output(), run.result.ret)
    for name in ("test_before", "test_nested", "test_after"):
        entry = run.entry(f"test_outer.py::{name}")
        assert entry["verdict"] not in ("error", "skipped"), entry


# --- failing fixtures -------------------------------------------------------------

TEARDOWNS = """
import gc
import sys

import pytest

@pytest.fixture
def function_fixture():
    yield
    raise RuntimeError("function teardown failed")

@pytest.fixture(scope="module")
def module_fixture():
    yield
    raise RuntimeError("module teardown failed")

def test_last(module_fixture, function_fixture):
    pass
"""

TEARDOWNS_NEXT = """
def test_next():
    pass
"""


@XDIST
def test_function_and_module_teardowns_failing_are_one_error(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    """As plain pytest: the test passes, its teardown is an ERROR naming both failures."""
    pytester.makepyfile(test_a=TEARDOWNS, test_b=TEARDOWNS_NEXT)
    run = run_leakguard(pytester, "test_a.py", "test_b.py", *QUICK, *workers)
    _no_crash(run.output(), run.result.ret)
    run.result.assert_outcomes(passed=2, errors=1)
    assert "function teardown failed" in run.output()
    assert "module teardown failed" in run.output()


SCOPED = """
import gc
import sys

import pytest

CALLS = []

@pytest.fixture(scope="{scope}")
def fixture():
    CALLS.append("setup")
    if "{phase}" == "setup" and CALLS.count("setup") == {nth}:
        raise RuntimeError("{scope} setup failed")
    yield
    CALLS.append("teardown")
    if "{phase}" == "teardown" and CALLS.count("teardown") == {nth}:
        raise RuntimeError("{scope} teardown failed")

class TestIt:
    def test_it(self, fixture):
        CALLS.append("call")
        if "{phase}" == "call" and CALLS.count("call") == {nth}:
            raise RuntimeError("call failed")

def test_next():
    pass
"""

# A function-scoped fixture is set up and torn down in every re-run: it fails in the
# second run (the first re-run).  A higher-scoped one only once, around all runs.
CASES = [
    ("function", "setup", 2, "error"),
    ("function", "teardown", 2, "error"),
    ("function", "call", 2, "error"),
    ("function", "teardown", 1, "skipped"),
    ("class", "teardown", 1, None),
    ("module", "teardown", 1, None),
    ("session", "teardown", 1, None),
]


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    """The sessions that several cases share, each run once."""
    return SharedRuns.for_session(tmp_path_factory)


def _scoped_run(
    pytester: pytest.Pytester, shared_runs: SharedRuns, scope: str, workers: tuple[str, ...]
) -> LeakRun:
    """One session for the cases, a module each: a session-scoped teardown runs at the
    end of the session (after the last module), so that case has a session of its own."""
    alone = scope == "session"
    cases = [case for case in CASES if (case[0] == "session") == alone]
    files = {
        _scoped_module(each, phase, nth): SCOPED.format(scope=each, phase=phase, nth=nth)
        for each, phase, nth, _ in cases
    }
    name = f"scoped-{'session' if alone else 'shared'}-{'xdist' if workers else 'serial'}"
    paths = [f"{module}.py" for module in files]
    return shared_runs.get_suite(
        pytester, name, files, *paths, "--junitxml=junit.xml", *QUICK, *workers
    )


def _scoped_module(scope: str, phase: str, nth: int) -> str:
    return f"test_{scope}_{phase}_{nth}"


@pytest.mark.parametrize(("scope", "phase", "nth", "verdict"), CASES)
@XDIST
def test_fixtures_failing_in_any_scope_and_phase(
    pytester: pytest.Pytester,
    shared_runs: SharedRuns,
    scope: str,
    phase: str,
    nth: int,
    verdict: str | None,
    workers: tuple[str, ...],
) -> None:
    """A failure in a re-run is the test's ``error`` verdict; a failing higher-scoped
    teardown is pytest's ERROR; the next test runs either way."""
    run = _scoped_run(pytester, shared_runs, scope, workers)
    module = _scoped_module(scope, phase, nth)
    _no_crash(run.output(), run.result.ret)
    assert run.entry(f"{module}.py::test_next")["verdict"] != "error", run.output()
    entry = run.entry(f"{module}.py::TestIt::test_it")
    outcomes = junit_outcomes(run.path / "junit.xml", module)
    if verdict is not None:
        assert entry["verdict"] == verdict, entry
        if verdict == "error":
            assert "failed" in entry["error"], entry
        assert outcomes.passed == 2, run.output()
        assert len(outcomes.errors) == (1 if nth == 1 else 0), run.output()
    else:
        assert entry["verdict"] in ("clean", "inconclusive"), entry
        assert outcomes.passed == 2, run.output()
        assert len(outcomes.errors) == 1, run.output()
        assert f"{scope} teardown failed" in outcomes.errors[0], outcomes.errors


@XDIST
def test_higher_scoped_teardown_failing_with_pytest_benchmark(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    """pytest-benchmark's report hook reads ``item.funcargs``: it is there when the
    teardown that waited for the re-runs fails."""
    pytest.importorskip("pytest_benchmark")
    pytester.makepyfile(
        test_bench="""
        import pytest

        @pytest.fixture(scope="module")
        def module_fixture():
            yield
            raise RuntimeError("module teardown failed")

        def test_last(module_fixture):
            pass
        """,
        test_later="def test_later():\n    pass\n",
    )
    run = run_leakguard(pytester, "-p", "benchmark", *QUICK, *workers)
    _no_crash(run.output(), run.result.ret)
    run.result.assert_outcomes(passed=2, errors=1)
    assert "module teardown failed" in run.output()


# --- probes that raise ------------------------------------------------------------

RAISING_PROBE = """
class Flaky:
    name = "flaky"
    unit = "count"
    samples = 0

    def start(self):
        if "{method}" == "start":
            raise OSError("cannot start")

    def sample(self):
        Flaky.samples += 1
        if "{method}" == "sample" and Flaky.samples == 3:
            raise OSError("cannot sample")
        return 0

    def stop(self):
        if "{method}" == "stop":
            raise OSError("cannot stop")

def pytest_leakguard_probes(config):
    return {{"flaky": Flaky}}
"""


@pytest.mark.parametrize("method", ["start", "sample", "stop"])
@XDIST
def test_a_probe_that_raises_is_the_tests_error_verdict(
    pytester: pytest.Pytester, method: str, workers: tuple[str, ...]
) -> None:
    pytester.makeconftest(RAISING_PROBE.format(method=method))
    pytester.makepyfile(test_probe="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    run = run_leakguard(pytester, *QUICK, *workers)
    _no_crash(run.output(), run.result.ret)
    run.result.assert_outcomes(passed=2)
    entry = run.entry("test_probe.py::test_one")
    assert entry["verdict"] == "error", entry
    assert "'flaky'" in entry["reason"], entry
    assert f"cannot {method}" in entry["reason"], entry
    assert "OSError" in entry["error"], entry
    assert run.entry("test_probe.py::test_two")["verdict"] != "skipped"


@pytest.mark.skipif(not COUNTER_BUILT, reason="the allocation counter was not built")
@XDIST
def test_the_counter_stopped_behind_its_back_is_an_error_then_recovers(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    """A sample the counter refuses is that test's error; the next test counts again."""
    pytester.makepyfile(
        test_counter="""
        from pytest_leakguard import _alloccount

        RUNS = [0]

        def test_stops_it():
            RUNS[0] += 1
            if RUNS[0] == 3:
                _alloccount.stop()

        def test_after():
            pass
        """
    )
    _error_then_counting_again(pytester, "test_counter.py::test_stops_it", workers, "not started")


def _error_then_counting_again(
    pytester: pytest.Pytester, nodeid: str, workers: tuple[str, ...], *reasons: str
) -> None:
    """``nodeid``'s verdict is an error for ``reasons``; ``test_after`` in its file is not."""
    run = run_leakguard(pytester, "-p", "no:randomly", *QUICK, *workers)
    _no_crash(run.output(), run.result.ret)
    entry = run.entry(nodeid)
    assert entry["verdict"] == "error", entry
    for reason in reasons:
        assert reason in entry["reason"], entry
    after = nodeid.split("::")[0] + "::test_after"
    assert run.entry(after)["verdict"] != "error", run.output()


# --- process-wide patches ---------------------------------------------------------

PATCHED = """
import gc
import subprocess
import threading

import gc
import sys

import pytest
from _pytest.tmpdir import TempPathFactory

RUNS = [0]
OURS = {{}}

def _wrap(owner, name):
    original = getattr(owner, name)

    def patched(*args, **kwargs):
        return original(*args, **kwargs)

    setattr(owner, name, patched)
    OURS[name] = patched

def test_patches_in_its_second_run(tmp_path):
    RUNS[0] += 1  # a small int: counting allocates nothing
    if RUNS[0] == 2:  # during the re-runs, while the probes' patches are in place
        _wrap({owner}, "{name}")

@pytest.mark.leakguard(enabled=False)  # its own check would patch them again
def test_they_are_still_there():
    assert getattr({owner}, "{name}") is OURS["{name}"]
"""


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        ("threading.Thread", "start"),
        ("subprocess.Popen", "__init__"),
        ("TempPathFactory", "mktemp"),
    ],
)
def test_patches_made_by_others_meanwhile_are_kept(
    pytester: pytest.Pytester, owner: str, name: str
) -> None:
    pytester.makepyfile(test_patched=PATCHED.format(owner=owner, name=name))
    run = run_leakguard(pytester, "-p", "no:randomly", *QUICK)
    _no_crash(run.output(), run.result.ret)
    run.result.assert_outcomes(passed=2)


def test_objects_the_user_froze_stay_frozen(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import gc\n\ngc.freeze()\n")
    pytester.makepyfile(
        test_frozen="""
        import gc

        def test_checked():
            pass

        def test_still_frozen():
            assert gc.get_freeze_count() > 0
        """
    )
    run = run_leakguard(pytester, "-p", "no:randomly", *QUICK)
    _no_crash(run.output(), run.result.ret)
    run.result.assert_outcomes(passed=2)
    assert run.entry("test_frozen.py::test_checked")["verdict"] != "error", run.output()


def test_the_users_frozen_objects_are_counted_once_per_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counting the frozen generation walks it (CPython 3.11): once the user's frozen
    objects are seen, later checks neither count nor freeze."""
    calls: list[int] = []
    monkeypatch.setattr(gc, "get_freeze_count", lambda: calls.append(1) or 5)
    monkeypatch.setattr(gc, "freeze", lambda: pytest.fail("froze beside the user's objects"))
    freezer = Freezer()
    for _ in range(3):
        with freezer.frozen():
            pass
    assert len(calls) == 1


def test_a_session_with_nothing_frozen_freezes_each_check() -> None:
    freezer = Freezer()
    for _ in range(2):
        with freezer.frozen():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() == 0


@pytest.mark.skipif(sys.version_info < (3, 12), reason="own-GIL subinterpreters: 3.12+")
@pytest.mark.skipif(not COUNTER_BUILT, reason="the allocation counter was not built")
@XDIST
def test_a_test_running_subinterpreters_gets_a_clear_error(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    pytester.makepyfile(
        test_sub="""
        import threading
        try:
            import _interpreters as interpreters
        except ImportError:
            import _xxsubinterpreters as interpreters

        def test_subinterpreter():
            interp = interpreters.create()  # its own GIL
            thread = threading.Thread(
                target=interpreters.run_string, args=(interp, "x = [str(n) for n in range(9999)]")
            )
            thread.start()
            thread.join()
            interpreters.destroy(interp)

        def test_after():
            pass
        """
    )
    _error_then_counting_again(
        pytester, "test_sub.py::test_subinterpreter", workers, "subinterpreters", "-X tracemalloc"
    )


def test_explaining_a_leak_freezes_nothing_more_than_the_user_froze(
    pytester: pytest.Pytester,
) -> None:
    """The back-reference chain thaws what the check froze, never the user's objects."""
    pytest.importorskip("objgraph")
    pytester.makeconftest("import gc\n\ngc.freeze()\nFROZEN = gc.get_freeze_count()\n")
    pytester.makepyfile(
        test_frozen="""
        import gc

        import pytest

        import conftest

        class Kept:
            pass

        KEPT = []

        def test_leaks():
            KEPT.append(Kept())

        @pytest.mark.leakguard(enabled=False)
        def test_no_more_frozen():
            assert 0 < gc.get_freeze_count() <= conftest.FROZEN
        """
    )
    run = run_leakguard(pytester, "-p", "no:randomly", "--leakguard-explain=yes", *QUICK)
    _no_crash(run.output(), run.result.ret)
    run.result.assert_outcomes(passed=1, failed=1)
    assert run.status("test_frozen.py::test_leaks") == "LEAKED", run.output()
    assert "Kept" in run.output()
