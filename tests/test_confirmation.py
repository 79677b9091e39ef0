"""End-to-end: the screen of a quiet test, and the confirmation stage (issues #14, #15).

A test still growing after ``max_runs`` runs is run on, within a budget of runs and
seconds, until its growth stops (bounded: ``clean``, with the reason) or the budget
is spent (``leak``).  The ground truth of every case was checked first with a
standalone loop of 1,000 calls and ``sys.getallocatedblocks()`` after each
(``gc.collect()`` between calls): the bounded cases stop or fall back (the
``lru_cache`` at 128 entries, and again once its keys are no longer cached small
ints; the loop's cancelled timer handles fall back every ~100 calls; the registry
every 151 calls; the FIFO cache at 30 entries), the leaks grow to the end (+1,003
blocks for the slow leak, +337 every 3rd call, +1 block per call beside the timers'
sawtooth).
"""

from __future__ import annotations

import pytest
from helpers import LeakRun, SharedRuns, describe

BOUNDED_SOURCE = """
import asyncio
import functools

COUNTER = {"lru": 0, "fifo": 0, "slow": 0, "third": 0}


def bump(name):
    COUNTER[name] += 1
    return COUNTER[name]


@functools.lru_cache(maxsize=128)
def lookup(key):
    return [key]


def test_lru_cache_default_size():
    # functools' default maxsize, fed a new key per call: it fills for 128 calls.
    lookup(bump("lru"))


async def schedule_and_cancel():
    asyncio.get_running_loop().call_later(3600, print).cancel()


LOOP = asyncio.new_event_loop()
KEEPALIVE = LOOP.call_later(1800, print)  # a live timer ahead of the cancelled ones


def test_cancelled_timers():
    # asyncio keeps cancelled timer handles until more than 100 are pending, then purges.
    LOOP.run_until_complete(schedule_and_cancel())


REGISTRY = []


def test_registry_compacted():
    # A registry emptied once it passes 150 entries.
    REGISTRY.append(object())
    if len(REGISTRY) > 150:
        del REGISTRY[:]


CACHE = {}


def test_fifo_cache_with_a_late_resize():
    # 30 entries at most: still filling after 20 runs, when its table grows (22nd entry).
    key = bump("fifo")
    CACHE[key] = str(key)
    if len(CACHE) > 30:
        del CACHE[next(iter(CACHE))]


S = ""


def test_four_bytes_per_run():
    global S
    S = S + "abcd"


SLOW = []


def test_slow_leak():
    # One small object per run.
    SLOW.append(float(bump("slow")))


THIRD = []


def test_leak_every_third_run():
    if bump("third") % 3 == 0:
        THIRD.append(object())


OTHER_LOOP = asyncio.new_event_loop()
OTHER_KEEPALIVE = OTHER_LOOP.call_later(1800, print)
KEPT = []


def test_leak_beside_cancelled_timers():
    # A leak of one object per run under the loop's sawtooth of cancelled timers.
    OTHER_LOOP.run_until_complete(schedule_and_cancel())
    KEPT.append(object())
"""

BOUNDED = {
    "lru-cache-maxsize-128": "test_lru_cache_default_size",
    "asyncio-cancelled-timers": "test_cancelled_timers",
    "registry-compacted-past-150": "test_registry_compacted",
    "fifo-cache-filling-at-run-20-with-a-resize": "test_fifo_cache_with_a_late_resize",
}

LEAKS = {
    "slow-leak-one-small-object": "test_slow_leak",
    "four-bytes-per-run": "test_four_bytes_per_run",
    "every-third-run": "test_leak_every_third_run",
    "leak-beside-a-sawtooth": "test_leak_beside_cancelled_timers",
}

SCREEN_SOURCE = """
import pathlib

import pytest

CALLS = [0]


@pytest.fixture(scope="module", autouse=True)
def count():
    yield
    pathlib.Path(__file__).with_name("calls.txt").write_text("quiet\\n" * CALLS[0])


def test_first():
    # The first checked test of a process also measures the harness's one-off
    # allocations of its second re-run (3 blocks): the screen sees them move.
    pass


def test_quiet():
    CALLS[0] += 1  # a small int: the test allocates nothing, so the screen can end it
"""

FAST = ("--leakguard-explain=no",)
FULL_BUDGET = ("--leakguard-confirm-seconds=3600",)
"""The run budget alone: how many runs a case takes does not depend on the machine's speed."""


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    return SharedRuns.for_session(tmp_path_factory)


@pytest.fixture
def bounded_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> LeakRun:
    """The cases with the default budget."""
    return shared_runs.get(pytester, "test_bounded", BOUNDED_SOURCE, *FAST, *FULL_BUDGET)


@pytest.mark.parametrize("test", list(BOUNDED.values()), ids=list(BOUNDED))
def test_bounded_growth_is_clean_with_the_reason(bounded_run: LeakRun, test: str) -> None:
    entry = bounded_run.entry(f"test_bounded.py::{test}")
    assert entry["verdict"] == "clean", describe(entry)
    assert bounded_run.status(entry["nodeid"]) == "PASSED", bounded_run.output()
    # Still growing at max_runs: the confirmation stage decided, and says why.
    assert entry["runs"] > 20, describe(entry)
    assert entry["reason"].startswith("growth stopped after "), describe(entry)
    assert "bounded" in entry["reason"], describe(entry)


def test_purged_containers_are_sawtooths(bounded_run: LeakRun) -> None:
    for test in ("test_cancelled_timers", "test_registry_compacted"):
        entry = bounded_run.entry(f"test_bounded.py::{test}")
        assert entry["reason"].endswith("it fell back (a sawtooth)"), describe(entry)


@pytest.mark.parametrize("test", list(LEAKS.values()), ids=list(LEAKS))
def test_growth_that_outlasts_the_budget_is_a_leak(bounded_run: LeakRun, test: str) -> None:
    entry = bounded_run.entry(f"test_bounded.py::{test}")
    assert entry["verdict"] == "leak", describe(entry)
    assert bounded_run.status(entry["nodeid"]) == "LEAKED", bounded_run.output()
    assert entry["runs"] == 300, describe(entry)
    assert entry["reason"].startswith("still growing after 300 runs"), describe(entry)
    assert "budget ran out (300 runs)" in entry["reason"], describe(entry)


def test_the_reason_is_in_the_failure_message(bounded_run: LeakRun) -> None:
    bounded_run.result.stdout.fnmatch_lines(["still growing after 300 runs, when the conf*"])
    assert bounded_run.result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_smaller_run_budget_calls_a_long_fill_a_leak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_budget=BOUNDED_SOURCE)
    pytester.makeini("[pytest]\nleakguard_confirm_runs = 80\n")
    args = (*FAST, *FULL_BUDGET, "-k", "lru or fifo")
    run = SharedRuns().get(pytester, "test_budget", BOUNDED_SOURCE, *args)
    entry = run.entry("test_budget.py::test_lru_cache_default_size")
    assert (entry["verdict"], entry["runs"]) == ("leak", 80), describe(entry)
    assert "budget ran out (80 runs)" in entry["reason"], describe(entry)
    # A fill shorter than the budget is still told apart.
    entry = run.entry("test_budget.py::test_fifo_cache_with_a_late_resize")
    assert entry["verdict"] == "clean", describe(entry)


def test_a_time_budget_ends_the_confirmation(pytester: pytest.Pytester) -> None:
    run = SharedRuns().get(
        pytester,
        "test_time",
        BOUNDED_SOURCE,
        *FAST,
        "-k",
        "slow",
        "--leakguard-confirm-seconds=0.001",
    )
    entry = run.entry("test_time.py::test_slow_leak")
    assert entry["verdict"] == "leak", describe(entry)
    assert 20 < entry["runs"] < 300, describe(entry)
    assert "budget ran out (0.001 s)" in entry["reason"], describe(entry)


def test_no_confirmation_decides_at_max_runs_as_before(pytester: pytest.Pytester) -> None:
    run = SharedRuns().get(
        pytester, "test_none", BOUNDED_SOURCE, *FAST, "-k", "lru", "--leakguard-confirm-seconds=0"
    )
    entry = run.entry("test_none.py::test_lru_cache_default_size")
    assert (entry["verdict"], entry["runs"], entry["reason"]) == ("leak", 20, ""), describe(entry)


@pytest.mark.parametrize(("args", "executions"), [((), 4), (("--leakguard-thorough",), 6)])
def test_a_quiet_test_runs_four_times_six_when_thorough(
    pytester: pytest.Pytester, args: tuple[str, ...], executions: int
) -> None:
    run = SharedRuns().get(pytester, "test_screen", SCREEN_SOURCE, *args)
    entry = run.entry("test_screen.py::test_quiet")
    assert entry["verdict"] == "clean", describe(entry)
    assert run.calls()["quiet"] == executions, describe(entry)
    assert 1 + entry["warmup"] + entry["runs"] == executions, describe(entry)


def test_thorough_from_the_marker(pytester: pytest.Pytester) -> None:
    source = SCREEN_SOURCE.replace(
        "def test_quiet", "@pytest.mark.leakguard(thorough=True)\ndef test_quiet"
    )
    run = SharedRuns().get(pytester, "test_marked", source)
    assert run.calls()["quiet"] == 6, describe(run.entry("test_marked.py::test_quiet"))
