"""Background threads that churn memory while a test is checked (issue #14, item 6).

Two threads started by a session fixture allocate and free blocks of random sizes
without pause.  The allocation counter counts only what the test's thread and the
threads it starts allocate, so the test's own figures come out exact; ``tracemalloc``
(the fallback) cannot tell threads apart, so a series they moved is never ``clean``.
Ground truth: ``test_keeps`` keeps one ``bytes(2048)`` object per call (2,081 bytes),
``test_worker`` has a thread of its own keep one, ``test_clean`` keeps nothing.
"""

from __future__ import annotations

import sys

import pytest
from helpers import COUNTER_BUILT, NO_COUNTER, LeakRun, describe, run_leakguard

CHURN = """
import threading

import pytest


def churn(stop, ready):
    # Random sizes, none kept long: tens of KiB up and down between any two samples.
    keep = [None] * 64
    n = 0
    while not stop.is_set():
        keep[n % 64] = bytes(16 + (n * 7919) % 2000)
        n += 1
        if n == 64:
            ready.release()


@pytest.fixture(scope="session", autouse=True)
def background():
    stop, ready = threading.Event(), threading.Semaphore(0)
    threads = [threading.Thread(target=churn, args=(stop, ready)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        ready.acquire()
    yield
    stop.set()
    for thread in threads:
        thread.join()
"""

TESTS = """
import threading
import time

KEPT = []
WORKER_KEPT = []


def test_keeps():
    KEPT.append(bytes(2048))
    time.sleep(0.005)  # the background threads run meanwhile


def test_clean():
    data = [str(n) for n in range(1000)]
    time.sleep(0.005)
    assert len(data) == 1000


def test_worker():
    worker = threading.Thread(target=lambda: WORKER_KEPT.append(bytes(2048)))
    worker.start()
    worker.join()
    time.sleep(0.005)
"""

KEPT = sys.getsizeof(bytes(2048))


def heap_steps(entry: dict[str, object]) -> list[int]:
    """The heap probe's step at each measured run."""
    samples = entry["samples"]
    assert isinstance(samples, dict)
    heap = samples["heap"]
    warmup = int(entry["warmup"])  # type: ignore[call-overload]
    return [b - a for a, b in zip(heap, heap[1:])][warmup:]


def churned_run(pytester: pytest.Pytester, *args: str) -> LeakRun:
    pytester.makeconftest(CHURN)
    pytester.makepyfile(test_churned=TESTS, no_counter=NO_COUNTER)
    # The window is what this is about: no confirmation stage.
    return run_leakguard(pytester, "--leakguard-explain=no", "--leakguard-confirm-seconds=0", *args)


@pytest.mark.skipif(not COUNTER_BUILT, reason="the allocation counter was not built")
def test_the_counter_sees_the_tests_own_threads_through_the_churn(
    pytester: pytest.Pytester,
) -> None:
    run = churned_run(pytester)
    keeps = run.entry("test_churned.py::test_keeps")
    assert keeps["verdict"] == "leak", describe(keeps)
    # Each run keeps one bytes object and a list slot (the list grows by steps of 64 B;
    # the threading module's bookkeeping settles in the first runs), never the churn's
    # tens of KiB up and down.
    assert all(KEPT <= step <= KEPT + 1024 for step in heap_steps(keeps)), describe(keeps)
    worker = run.entry("test_churned.py::test_worker")
    assert worker["verdict"] == "leak", describe(worker)
    # A run that starts a thread may also reuse a freed 256-byte block of the thread's
    # bookkeeping now and then.
    assert all(KEPT - 256 <= step <= KEPT + 1024 for step in heap_steps(worker)), describe(worker)
    clean = run.entry("test_churned.py::test_clean")
    assert clean["verdict"] == "clean", describe(clean)
    assert heap_steps(clean) == [0] * len(heap_steps(clean)), describe(clean)


def test_tracemalloc_never_calls_a_series_other_threads_moved_clean(
    pytester: pytest.Pytester,
) -> None:
    """Without the counter, the churn moves every sample: the leak is still found, and
    the clean test is ``inconclusive`` with the reason, never ``clean``, nor a ``leak``
    that only the process-wide ``malloc`` or ``rss`` saw (the churn's own)."""
    run = churned_run(pytester, "-p", "no_counter")
    keeps = run.entry("test_churned.py::test_keeps")
    assert keeps["verdict"] == "leak", describe(keeps)
    clean = run.entry("test_churned.py::test_clean")
    if heap_steps(clean) != [0] * len(heap_steps(clean)):
        assert clean["verdict"] == "inconclusive", describe(clean)
        assert "other threads" in clean["reason"], describe(clean)
