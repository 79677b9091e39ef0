"""Compatibility with the plugins pytest users run: xdist, pytest-asyncio, anyio,
pytest-timeout, pytest-rerunfailures, flaky, pytest-randomly, pytest-cov; doctests;
``-p no:leakguard``.  What each test pins is described in ``docs/compatibility.md``.

Every run is a subprocess (measurement touches process-global state) that loads
leakguard and the plugin under test only (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), so
that a verdict depends on the pair under test, not on whatever else is installed;
``test_all_plugins_installed_together`` loads them all, as a user's environment does.
A test of an optional plugin is skipped when the plugin is not installed.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from helpers import LeakRun, describe, run_leakguard

# Minutes of subprocess runs, and meant for a venv with the compat extra: .ci/run's compat step.
pytestmark = pytest.mark.own_step("compat")

SECTION = re.compile(r"^=+ leakguard =+$")
WARMUP = 2
"""The default number of warm-up runs (the runs below use the default windows)."""

RECORD = """
import pathlib


def record(name):
    \"\"\"Note one run of ``name``; return how many runs of it were noted so far.\"\"\"
    path = pathlib.Path(__file__).parent / "runs.txt"
    with open(path, "a") as stream:
        stream.write(name + "\\n")
    return path.read_text().split().count(name)
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)


def run(pytester: pytest.Pytester, plugins: tuple[str, ...], *args: str) -> LeakRun:
    """``pytest --leakguard`` with leakguard and ``plugins`` loaded, without the deep probes."""
    loaded = [arg for name in ("pytest_leakguard.plugin", *plugins) for arg in ("-p", name)]
    # The counts these tests assert on are thorough's: 2 warm-up and 3 measured runs at least.
    return run_leakguard(pytester, *loaded, "--leakguard-explain=no", "--leakguard-thorough", *args)


def verdicts(run: LeakRun) -> dict[str, str]:
    return {nodeid: entry["verdict"] for nodeid, entry in run.tests().items()}


def assert_verdicts(run: LeakRun, expected: dict[str, str]) -> None:
    found = verdicts(run)
    assert found == expected, "\n".join(
        [run.output(), *(describe(e) for e in run.report.get("tests", []))]
    )


def assert_sound(run: LeakRun) -> None:
    """No crash, one report entry per test, one leakguard section."""
    text = run.output()
    assert "INTERNALERROR" not in text, text
    nodeids = [entry["nodeid"] for entry in run.report.get("tests", [])]
    assert len(nodeids) == len(set(nodeids)), text
    assert sum(1 for line in run.result.outlines if SECTION.match(line)) == 1, text


def measured_runs(run: LeakRun, nodeid: str) -> int:
    """The runs after the warm-up: the measured ones, and the holder check's of a clean test
    whose window rose (see deep.py)."""
    entry = run.entry(nodeid)
    assert entry["warmup"] == WARMUP
    runs: int = entry["runs"] + entry.get("holder_check_runs", 0)
    return runs


def status_lines(run: LeakRun, nodeid: str) -> list[str]:
    """The status words ``-v`` printed for one test, in order (``RERUN``, ``PASSED``...)."""
    prefix = nodeid + " "
    return [
        line[len(prefix) :].split()[0] for line in run.result.outlines if line.startswith(prefix)
    ]


# ---------------------------------------------------------------- xdist

XDIST_SUITE = {
    "test_first": """
import pytest

KEPT = []


@pytest.fixture(scope="module")
def settings():
    return {"size": 3}


def test_leaks():
    KEPT.append([bytearray(100)])


def test_clean(settings):
    data = [bytearray(100) for _ in range(settings["size"])]
    assert len(data) == 3


@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert sum(range(n)) >= 0


def test_fails():
    assert False


def test_skips():
    pytest.skip("not here")
""",
    "test_second": """
CACHE = {}


def test_leaks_too():
    CACHE[len(CACHE)] = [len(CACHE)]


def test_clean_too():
    assert sorted([3, 1, 2]) == [1, 2, 3]
""",
}

XDIST_VERDICTS = {
    "test_first.py::test_leaks": "leak",
    "test_first.py::test_clean": "clean",
    "test_first.py::test_param[1]": "clean",
    "test_first.py::test_param[2]": "clean",
    "test_first.py::test_param[3]": "clean",
    "test_first.py::test_fails": "skipped",
    "test_first.py::test_skips": "skipped",
    "test_second.py::test_leaks_too": "leak",
    "test_second.py::test_clean_too": "clean",
}


@pytest.mark.parametrize(
    "dist",
    [
        pytest.param((), id="no-xdist"),
        pytest.param(("-n", "2"), id="load"),
        pytest.param(("-n", "2", "--dist", "loadfile"), id="loadfile"),
        pytest.param(("-n", "2", "--dist", "loadscope"), id="loadscope"),
        pytest.param(("-n", "2", "--dist", "loadgroup"), id="loadgroup"),
        pytest.param(("-n", "2", "--dist", "worksteal"), id="worksteal"),
    ],
)
def test_xdist_gives_the_verdicts_of_a_run_without_it(
    pytester: pytest.Pytester, dist: tuple[str, ...]
) -> None:
    plugins = ("xdist.plugin",) if dist else ()
    if dist:
        pytest.importorskip("xdist")
    pytester.makepyfile(**XDIST_SUITE)
    result = run(pytester, plugins, *dist)
    assert_sound(result)
    assert_verdicts(result, XDIST_VERDICTS)
    result.result.assert_outcomes(passed=5, failed=3, skipped=1)
    # one report: the controller's file, no per-worker files or leftovers
    assert sorted(p.name for p in pytester.path.iterdir() if p.suffix == ".json") == ["report.json"]
    assert not list(pytester.path.glob(".leakguard-*"))
    summary = [line for line in result.result.outlines if " checked: " in line]
    assert summary == ["9 checked: 2 leaked, 5 clean, 2 skipped"], result.output()
    if dist:
        result.result.stdout.fnmatch_lines(["*2 workers*"])


# ---------------------------------------------------------------- fixtures of several scopes

SCOPES_SOURCE = """
import pytest


@pytest.fixture(scope="session")
def engine():
    return {"name": "engine"}


@pytest.fixture(scope="module")
def connection(engine):
    return {"engine": engine}


@pytest.fixture
def transaction(connection, engine):
    yield {"connection": connection}


def test_function_fixture_on_higher_scopes(transaction):
    assert transaction["connection"]["engine"]["name"] == "engine"


def test_requested_dynamically(request):
    assert request.getfixturevalue("transaction")["connection"]


@pytest.mark.parametrize("n", [1, 2])
def test_parametrized(transaction, n):
    assert n
"""


def test_function_fixture_requesting_higher_scoped_ones_is_clean(
    pytester: pytest.Pytester,
) -> None:
    # The pattern of pytest-asyncio's event loop runner (function-scoped, requesting
    # the session-scoped loop policy), of database fixtures, of most conftests.
    pytester.makepyfile(test_scopes=SCOPES_SOURCE)
    result = run(pytester, ())
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_scopes.py::test_function_fixture_on_higher_scopes": "clean",
            "test_scopes.py::test_requested_dynamically": "clean",
            "test_scopes.py::test_parametrized[1]": "clean",
            "test_scopes.py::test_parametrized[2]": "clean",
        },
    )


# ---------------------------------------------------------------- pytest-asyncio

ASYNCIO_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"

ASYNCIO_STRICT_SOURCE = (
    RECORD
    + """
import asyncio

import pytest
import pytest_asyncio

RESULTS = []
TASKS = []
PENDING = []
PREVIOUS_LOOP = []
MODULE_LOOP = []


@pytest.mark.asyncio
async def test_async_leak():
    await asyncio.sleep(0)
    RESULTS.append([bytearray(100)])


@pytest.mark.asyncio
async def test_task_list_grows():
    TASKS.append(asyncio.ensure_future(asyncio.sleep(0)))
    await asyncio.sleep(0)


@pytest.mark.asyncio(loop_scope="module")
async def test_pending_task_per_run():
    # the module's loop outlives the run: the task stays pending
    PENDING.append(asyncio.ensure_future(asyncio.sleep(3600)))
    await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_async_clean():
    await asyncio.gather(*(asyncio.sleep(0) for _ in range(10)))
    data = [bytearray(100) for _ in range(10)]
    assert len(data) == 10


@pytest.mark.asyncio
async def test_fresh_loop_each_run():
    loop = asyncio.get_running_loop()
    if PREVIOUS_LOOP:
        assert PREVIOUS_LOOP[0] is not loop
        assert PREVIOUS_LOOP[0].is_closed()
    PREVIOUS_LOOP[:] = [loop]  # the previous run's loop only: nothing grows
    record("fresh")


@pytest.mark.asyncio(loop_scope="module")
async def test_module_loop_kept_across_runs():
    loop = asyncio.get_running_loop()
    if MODULE_LOOP:
        assert MODULE_LOOP[0] is loop
    MODULE_LOOP[:] = [loop]
    record("module")


@pytest_asyncio.fixture
async def connection():
    await asyncio.sleep(0)
    yield {"open": True}
    await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_async_fixture(connection):
    assert connection["open"]


def test_sync_beside_async():
    assert True
"""
)


def test_pytest_asyncio_strict_mode(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio", minversion="0.24")  # loop_scope=
    pytester.makeini(ASYNCIO_INI)
    pytester.makepyfile(test_aio=ASYNCIO_STRICT_SOURCE)
    result = run(pytester, ("pytest_asyncio.plugin",), "-o", "asyncio_mode=strict")
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_aio.py::test_async_leak": "leak",
            "test_aio.py::test_task_list_grows": "leak",
            "test_aio.py::test_pending_task_per_run": "leak",
            "test_aio.py::test_async_clean": "clean",
            "test_aio.py::test_fresh_loop_each_run": "clean",
            "test_aio.py::test_module_loop_kept_across_runs": "clean",
            "test_aio.py::test_async_fixture": "clean",
            "test_aio.py::test_sync_beside_async": "clean",
        },
    )
    # the pending tasks are found by the tasks probe, one per run
    assert result.entry("test_aio.py::test_pending_task_per_run")["growth_per_run"]["tasks"] == 1
    # every run, the normal one included, ran its assertions on the loop it got
    for name, nodeid in (
        ("fresh", "test_aio.py::test_fresh_loop_each_run"),
        ("module", "test_aio.py::test_module_loop_kept_across_runs"),
    ):
        count = result.calls("runs.txt")[name]
        assert count == 1 + WARMUP + measured_runs(result, nodeid), count


ASYNCIO_AUTO_SOURCE = """
import asyncio

RESULTS = []


async def test_auto_leak():
    await asyncio.sleep(0)
    RESULTS.append([bytearray(100)])


async def test_auto_clean():
    await asyncio.sleep(0)


async def helper():
    return 1


async def test_auto_awaits():
    assert await helper() == 1
"""


def test_pytest_asyncio_auto_mode(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio", minversion="0.24")
    pytester.makeini(ASYNCIO_INI)
    pytester.makepyfile(test_auto=ASYNCIO_AUTO_SOURCE)
    result = run(pytester, ("pytest_asyncio.plugin",), "-o", "asyncio_mode=auto")
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_auto.py::test_auto_leak": "leak",
            "test_auto.py::test_auto_clean": "clean",
            "test_auto.py::test_auto_awaits": "clean",
        },
    )


ANYIO_SOURCE = """
import anyio
import pytest

RESULTS = []


@pytest.fixture(scope="module")
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_anyio_leak():
    await anyio.sleep(0)
    RESULTS.append([bytearray(100)])


@pytest.mark.anyio
async def test_anyio_clean():
    await anyio.sleep(0)


@pytest.fixture
async def resource():
    await anyio.sleep(0)
    yield [1]
    await anyio.sleep(0)


@pytest.mark.anyio
async def test_anyio_task_group(resource):
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(anyio.sleep, 0)
    assert resource == [1]
"""


def test_anyio_on_asyncio(pytester: pytest.Pytester) -> None:
    pytest.importorskip("anyio")
    pytester.makepyfile(test_anyio=ANYIO_SOURCE)
    result = run(pytester, ("anyio.pytest_plugin",))
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_anyio.py::test_anyio_leak": "leak",
            "test_anyio.py::test_anyio_clean": "clean",
            "test_anyio.py::test_anyio_task_group": "clean",
        },
    )


# ---------------------------------------------------------------- pytest-timeout

HANG_SOURCE = (
    RECORD
    + """
import time


def test_hangs_on_third_run():
    if record("hang") == 3:
        time.sleep(60)


def test_after():
    record("after")
"""
)


@pytest.mark.parametrize("func_only", ["false", "true"])
def test_timeout_in_a_rerun_is_an_error_verdict(pytester: pytest.Pytester, func_only: str) -> None:
    pytest.importorskip("pytest_timeout")
    pytester.makepyfile(test_hang=HANG_SOURCE)
    started = time.monotonic()
    result = run(
        pytester,
        ("pytest_timeout",),
        "--timeout=2",
        "--timeout-method=signal",
        "-o",
        f"timeout_func_only={func_only}",
    )
    assert time.monotonic() - started < 40, result.output()
    assert_sound(result)
    assert_verdicts(
        result,
        {"test_hang.py::test_hangs_on_third_run": "error", "test_hang.py::test_after": "clean"},
    )
    entry = result.entry("test_hang.py::test_hangs_on_third_run")
    assert entry["reason"] == "call failed when the test was run again"
    assert "Timeout" in entry["error"]
    assert (entry["warmup"], entry["runs"]) == (WARMUP, 0)  # the 2nd warm-up run timed out
    # the normal run passed: the test passes (only --leakguard-strict fails an error)
    result.result.assert_outcomes(passed=2)
    assert result.calls("runs.txt")["hang"] == 3


def test_thread_timeout_method_ends_the_whole_run(pytester: pytest.Pytester) -> None:
    # pytest-timeout's thread method dumps the stacks and exits the process: a hang in a
    # re-run ends the run as a hang in a normal run does (use the signal method).
    pytest.importorskip("pytest_timeout")
    pytester.makepyfile(test_hang=HANG_SOURCE)
    started = time.monotonic()
    result = run(pytester, ("pytest_timeout",), "--timeout=2", "--timeout-method=thread")
    assert time.monotonic() - started < 40, result.output()
    assert result.result.ret != pytest.ExitCode.OK
    assert "Timeout" in result.output()
    assert result.report == {}  # the process ended before writing it
    assert result.calls("runs.txt")["after"] == 0


SLOW_SOURCE = """
import time

KEPT = []


def test_slow_clean():
    time.sleep(0.15)


def test_slow_leak():
    time.sleep(0.15)
    KEPT.append([bytearray(100)])


def test_after():
    pass
"""


@pytest.mark.parametrize("method", ["signal", "thread"])
def test_timeout_applies_to_each_run_not_to_all_of_them(
    pytester: pytest.Pytester, method: str
) -> None:
    # Each run takes 0.15 s, far below the timeout of 1 s; all the runs of a test
    # (1 + 2 warm-up + 5 to 10 measured) take more than 1 s together.
    pytest.importorskip("pytest_timeout")
    pytester.makepyfile(test_slow=SLOW_SOURCE)
    result = run(
        pytester,
        ("pytest_timeout",),
        "--timeout=1",
        f"--timeout-method={method}",
        "--leakguard-max-runs=10",
        "--leakguard-confirm-runs=10",
    )
    assert result.report, result.output()
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_slow.py::test_slow_clean": "clean",
            "test_slow.py::test_slow_leak": "leak",
            "test_slow.py::test_after": "clean",
        },
    )
    result.result.assert_outcomes(passed=2, failed=1)


# ---------------------------------------------------------------- pytest-rerunfailures, flaky

RERUN_SOURCE = (
    RECORD
    + """
import pytest

KEPT = []


@pytest.mark.flaky(reruns=2)
def test_fails_once_then_passes():
    if record("flaky") == 1:
        assert False, "first attempt fails"


@pytest.mark.flaky(reruns=2)
def test_fails_once_then_leaks():
    if record("flaky_leak") == 1:
        assert False, "first attempt fails"
    KEPT.append([bytearray(100)])


@pytest.mark.flaky(reruns=2)
def test_always_fails():
    record("always")
    assert False


@pytest.fixture(scope="module")
def resource():
    record("module-setup")
    yield
    record("module-teardown")


@pytest.mark.flaky(reruns=2)
def test_fails_in_the_check(resource):
    # passes its normal run and the warm-up runs, fails in the first measured run
    if record("check") == 4:
        assert False, "fails in the check"


def test_plain(resource):
    record("plain")
"""
)


def test_rerunfailures_judges_the_passing_attempt(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_rerunfailures")
    pytester.makepyfile(test_rerun=RERUN_SOURCE)
    result = run(pytester, ("pytest_rerunfailures",))
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_rerun.py::test_fails_once_then_passes": "clean",
            "test_rerun.py::test_fails_once_then_leaks": "leak",
            "test_rerun.py::test_always_fails": "skipped",
            "test_rerun.py::test_fails_in_the_check": "error",
            "test_rerun.py::test_plain": "clean",
        },
    )
    assert result.entry("test_rerun.py::test_always_fails")["reason"] == "the test failed"
    nodeid = "test_rerun.py::test_fails_once_then_passes"
    # one rerun (the failed attempt), then the passing attempt; the check's own runs
    # are neither reported as reruns nor counted as attempts
    assert status_lines(result, nodeid) == ["RERUN", "PASSED"], result.output()
    assert status_lines(result, "test_rerun.py::test_plain") == ["PASSED"]
    count = result.calls("runs.txt")["flaky"]
    assert count == 1 + 1 + WARMUP + measured_runs(result, nodeid), count
    assert status_lines(result, "test_rerun.py::test_always_fails") == ["RERUN", "RERUN", "FAILED"]
    assert result.calls("runs.txt")["always"] == 3
    assert status_lines(result, "test_rerun.py::test_fails_once_then_leaks")[-1] == "LEAKED"
    # a failure in the check's own runs is an error verdict, not an attempt to retry
    assert status_lines(result, "test_rerun.py::test_fails_in_the_check") == ["PASSED"]
    counts = result.calls("runs.txt")
    assert (counts["check"], counts["module-setup"], counts["module-teardown"]) == (4, 1, 1)
    assert "5 checked: 1 leaked, 1 error, 2 clean, 1 skipped" in result.output()


FLAKY_SOURCE = (
    RECORD
    + """
from flaky import flaky

KEPT = []


@flaky(max_runs=3)
def test_fails_once_then_passes():
    if record("flaky") == 1:
        assert False, "first attempt fails"


@flaky(max_runs=3)
def test_fails_once_then_leaks():
    if record("flaky_leak") == 1:
        assert False, "first attempt fails"
    KEPT.append([bytearray(100)])


@flaky(max_runs=3, min_passes=2)
def test_needs_two_passes():
    record("two")


@flaky(max_runs=3)
def test_fails_in_the_check():
    # passes its normal run and the warm-up runs, fails in the first measured run
    if record("check") == 4:
        assert False, "fails in the check"


def test_plain():
    record("plain")
"""
)


def test_flaky_judges_the_passing_attempt(pytester: pytest.Pytester) -> None:
    pytest.importorskip("flaky")
    pytester.makepyfile(test_flaky=FLAKY_SOURCE)
    result = run(pytester, ("flaky.flaky_pytest_plugin",))
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_flaky.py::test_fails_once_then_passes": "clean",
            "test_flaky.py::test_fails_once_then_leaks": "leak",
            "test_flaky.py::test_needs_two_passes": "clean",
            "test_flaky.py::test_fails_in_the_check": "error",
            "test_flaky.py::test_plain": "clean",
        },
    )
    nodeid = "test_flaky.py::test_fails_once_then_passes"
    count = result.calls("runs.txt")["flaky"]
    assert count == 1 + 1 + WARMUP + measured_runs(result, nodeid), count
    # flaky counts the attempts it made, not the check's runs
    result.result.stdout.fnmatch_lines(
        [
            "test_fails_once_then_passes passed 1 out of the required 1 times. Success!",
            "test_needs_two_passes passed 2 out of the required 2 times. Success!",
        ],
        consecutive=False,
    )
    assert status_lines(result, "test_flaky.py::test_fails_once_then_leaks")[-1] == "LEAKED"
    assert status_lines(result, nodeid) == ["PASSED"]
    # a failure in the check's own runs is an error verdict, not an attempt to retry
    assert result.calls("runs.txt")["check"] == 4


# ---------------------------------------------------------------- pytest-randomly

RANDOM_SOURCE = (
    RECORD
    + """
import random

LAST = []


def test_random_data():
    value = random.random()
    record(repr(value))
    # replaced each run, never grows: only its size could differ from run to run
    LAST[:] = [[i] for i in range(int(value * 200))]
"""
)


def test_randomly_reseeds_every_run_alike(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_randomly")
    pytester.makepyfile(test_random=RANDOM_SOURCE)
    # with the samples of clean tests: they are checked below
    result = run(
        pytester, ("pytest_randomly",), "--randomly-seed=1234", "--leakguard-clean-details"
    )
    assert_sound(result)
    assert_verdicts(result, {"test_random.py::test_random_data": "clean"})
    values = result.calls("runs.txt")
    # one value, drawn by every run: the normal one, the warm-up and the measured runs
    assert len(values) == 1, values
    runs = measured_runs(result, "test_random.py::test_random_data")
    assert sum(values.values()) == 1 + WARMUP + runs, values
    samples = result.entry("test_random.py::test_random_data")["samples"]["objects"]
    assert len(set(samples[WARMUP:])) == 1, samples  # flat after the warm-up


# ---------------------------------------------------------------- pytest-cov

COV_MODULE = """
STATE = {"calls": 0}
KEPT = []


def sign(x):
    if x > 0:
        return "positive"
    return "not positive"  # missed


def keep(x):
    KEPT.append([x])


def count():
    STATE["calls"] += 1
    if STATE["calls"] == 1:
        return "first"
    return "again"  # reached by a second run of the test only


def unused():
    return "never"  # missed
"""

COV_TESTS = """
import mymod


def test_sign():
    assert mymod.sign(1) == "positive"


def test_keep():
    mymod.keep(1)


def test_count():
    assert mymod.count() in ("first", "again")
"""


def coverage_of(pytester: pytest.Pytester) -> tuple[list[int], list[int]]:
    data = json.loads((pytester.path / "cov.json").read_text())["files"]["mymod.py"]
    return data["executed_lines"], data["missing_lines"]


@pytest.mark.parametrize(
    "dist", [pytest.param((), id="no-xdist"), pytest.param(("-n", "2"), id="xdist")]
)
def test_cov_measures_the_reruns_too(pytester: pytest.Pytester, dist: tuple[str, ...]) -> None:
    pytest.importorskip("pytest_cov")
    plugins: tuple[str, ...] = ("pytest_cov.plugin",)
    if dist:
        pytest.importorskip("xdist")
        plugins += ("xdist.plugin",)
    (pytester.path / "mymod.py").write_text(COV_MODULE)
    pytester.makepyfile(test_cov=COV_TESTS)
    lines = COV_MODULE.splitlines()
    missed = [n for n, line in enumerate(lines, 1) if line.endswith("# missed")]
    again = [n for n, line in enumerate(lines, 1) if "second run" in line]
    cov = ("--cov=mymod", "--cov-report=json:cov.json")

    loaded = [arg for name in plugins for arg in ("-p", name)]
    alone = pytester.runpytest_subprocess(*loaded, *cov, *dist)
    alone.assert_outcomes(passed=3)
    executed_alone, missing_alone = coverage_of(pytester)
    assert missing_alone == sorted(missed + again)

    result = run(pytester, plugins, *cov, *dist)
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_cov.py::test_sign": "clean",
            "test_cov.py::test_keep": "leak",
            "test_cov.py::test_count": "clean",
        },
    )
    executed, missing = coverage_of(pytester)
    assert missing == missed  # the line only a re-run reaches is covered
    assert executed == sorted(executed_alone + again)


# ---------------------------------------------------------------- pytest versions, error verdicts

WORDS_SOURCE = (
    RECORD
    + """
KEPT = []


def test_leaks():
    KEPT.append([bytearray(100)])


def test_fails_in_a_measured_run():
    # the normal run, 2 warm-up runs, 2 measured runs pass; the 3rd measured run fails
    if record("fails") == 6:
        raise RuntimeError("sixth call fails")
"""
)


def test_status_words_and_runs_made(pytester: pytest.Pytester) -> None:
    # pytest 8.0 printed a (word, markup) tuple in the short test summary: the tox env
    # pytest-lowest runs this test on it.
    pytester.makepyfile(test_words=WORDS_SOURCE)
    result = run(pytester, (), "--leakguard-strict", "-rf")
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_words.py::test_leaks": "leak",
            "test_words.py::test_fails_in_a_measured_run": "error",
        },
    )
    summary = result.result.outlines
    summary = summary[summary.index(next(s for s in summary if "short test summary" in s)) :]
    nodeid = "test_words.py::test_fails_in_a_measured_run"
    assert [line.split(" - ")[0] for line in summary if " - " in line] == [
        "LEAKED test_words.py::test_leaks",
        f"LEAKERROR {nodeid}",
    ], result.output()
    assert result.status("test_words.py::test_leaks") == "LEAKED"
    entry = result.entry(nodeid)
    # the runs made: both warm-up runs and 3 measured ones, the last of them failed
    assert (entry["warmup"], entry["runs"]) == (WARMUP, 3), describe(entry)
    assert entry["message"].startswith("leak check error: a re-run of the test failed (3 measured")
    assert len(entry["samples"]["heap"]) == 1 + WARMUP + 2  # before the runs, each passed
    assert result.calls("runs.txt")["fails"] == 1 + WARMUP + 3


# ---------------------------------------------------------------- doctests

DOCTEST_MODULE = (
    RECORD
    + '''
CACHE = []


def add(a, b):
    """
    >>> add(1, 2)
    3
    """
    record("add")
    return a + b


def remember():
    """
    >>> remember()
    """
    record("remember")
    CACHE.append([1])


def broken():
    """
    >>> broken()
    2
    """
    return 1
'''
)


def test_doctests_are_run_once_and_not_checked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod=DOCTEST_MODULE, test_plain="def test_plain():\n    pass\n")
    pytester.makefile(".txt", doc=">>> 1 + 1\n2\n")
    result = run(pytester, (), "--doctest-modules", "--doctest-glob=*.txt")
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "doc.txt::doc.txt": "skipped",
            "mod.py::mod.add": "skipped",
            "mod.py::mod.remember": "skipped",
            "mod.py::mod.broken": "skipped",
            "test_plain.py::test_plain": "clean",
        },
    )
    for nodeid in ("doc.txt::doc.txt", "mod.py::mod.add", "mod.py::mod.broken"):
        assert result.entry(nodeid)["reason"] == "DoctestItem items are not re-run"
    assert result.calls("runs.txt") == {"add": 1, "remember": 1}
    result.result.assert_outcomes(passed=4, failed=1)


# ---------------------------------------------------------------- -p no:leakguard


def test_no_leakguard_disables_everything_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")  # the entry point is what -p no: blocks
    pytester.makeini("[pytest]\nleakguard = true\nleakguard_json = report.json\n")
    pytester.makepyfile(
        test_off=RECORD
        + """
import pytest

KEPT = []


@pytest.mark.leakguard
def test_marked():
    record("marked")
    KEPT.append([1])


def test_plain():
    record("plain")
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:leakguard", "-p", "no:randomly", "-n", "2")
    result.assert_outcomes(passed=2)
    text = "\n".join(result.outlines + result.errlines)
    assert "Unknown config option: leakguard" in text
    assert not [line for line in result.outlines if SECTION.match(line)]
    assert not [line for line in result.outlines if line.startswith("leakguard:")]
    assert not (pytester.path / "report.json").exists()
    runs = (pytester.path / "runs.txt").read_text().split()
    assert sorted(runs) == ["marked", "plain"]


# ---------------------------------------------------------------- all of them


ALL_SOURCE = """
import asyncio
import random

import pytest

KEPT = []


def test_leak():
    KEPT.append([random.random()])


def test_clean():
    assert sorted(random.sample(range(100), 10))


@pytest.mark.asyncio
async def test_async_clean():
    await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_async_leak():
    await asyncio.sleep(0)
    KEPT.append([1])
"""


def test_all_plugins_installed_together(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("xdist", "pytest_asyncio", "pytest_timeout", "pytest_randomly", "pytest_cov"):
        pytest.importorskip(module)
    pytest.importorskip("pytest_rerunfailures")
    pytest.importorskip("flaky")
    pytest.importorskip("anyio")
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    pytester.makeini(ASYNCIO_INI)
    pytester.makepyfile(test_all=ALL_SOURCE)
    result = run_leakguard(
        pytester, "-p", "randomly", "-n", "2", "--timeout=30", "--cov=.", "--leakguard-explain=no"
    )
    assert_sound(result)
    assert_verdicts(
        result,
        {
            "test_all.py::test_leak": "leak",
            "test_all.py::test_clean": "clean",
            "test_all.py::test_async_clean": "clean",
            "test_all.py::test_async_leak": "leak",
        },
    )
