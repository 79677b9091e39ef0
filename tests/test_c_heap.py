"""The ``malloc`` probe (the C heap's bytes in use) and engines that stop counting.

The end-to-end tests leak through ``ctypes``' ``malloc`` (no compiler needed): a few
KiB per call, below RSS's 64 KiB floor, and 1 MiB per call after an earlier test freed
tens of MiB, which glibc hands out again while RSS stays flat.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from typing import Any

import pytest
from helpers import NO_COUNTER, LeakRun, SharedRuns, describe, run_leakguard
from hypothesis import given
from hypothesis import strategies as st

from pytest_leakguard.config import DEFAULT_RUNS
from pytest_leakguard.probes import c_heap, resources

GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "mallinfo2")
needs_glibc = pytest.mark.skipif(not GLIBC, reason="needs glibc 2.33+ (mallinfo2)")

NATIVE = """\
import ctypes

LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]


def leak(size):
    block = LIBC.malloc(size)
    ctypes.memset(block, 1, size)  # touched: RSS could see it


def test_few_kib_per_call():
    leak(3000)


def test_clean():
    bytearray(1 << 20)
    [str(n) for n in range(1000)]


def test_frees_tens_of_mib():
    big = bytearray(30 << 20)  # mapped on its own: freeing it raises glibc's mmap threshold
    del big
    blocks = [bytearray(1 << 20) for _ in range(40)]  # so these come from the heap
    del blocks  # and stay with the process: RSS does not drop


def test_mib_per_call_later():
    leak(1 << 20)
"""


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    """The runs of the generated files, each made once."""
    return SharedRuns.for_session(tmp_path_factory)


@pytest.fixture
def native_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> LeakRun:
    """The four tests of ``NATIVE`` in one subprocess."""
    # The malloc probe's window decides: no confirmation stage (in a longer one, RSS
    # grows once glibc's freed heap is used up), full entries for the clean test.
    return shared_runs.get(
        pytester,
        "test_native_heap",
        NATIVE,
        "--leakguard-confirm-seconds=0",
        "--leakguard-clean-details",
    )


def _malloc_leak(run: LeakRun, nodeid: str) -> dict[str, Any]:
    entry = run.entry(nodeid)
    assert entry["verdict"] == "leak", describe(entry) + "\n" + run.output()
    assert entry["trend"]["malloc"] == "growing", describe(entry)
    return entry


@needs_glibc
def test_a_few_kib_per_call_is_a_leak(native_run: LeakRun) -> None:
    entry = _malloc_leak(native_run, "test_native_heap.py::test_few_kib_per_call")
    # 3,000 bytes asked for: a 3,008-byte chunk per call, exactly.
    assert entry["growth_per_run"]["malloc"] == pytest.approx(3008, abs=64), describe(entry)
    assert entry["trend"]["rss"] != "growing"  # far below RSS's floor
    assert entry["trend"]["heap"] == "flat"  # no Python allocation
    # No object types, holders or chain from what the explanation's runs happened to leave.
    explanation = entry["explanation"]
    assert not {"types", "holders", "chain", "sizes"} & set(explanation), explanation
    assert "the Python heap did not grow" in " ".join(explanation["notes"]), explanation


@needs_glibc
def test_clean_test_is_clean_with_the_malloc_probe(native_run: LeakRun) -> None:
    entry = native_run.entry("test_native_heap.py::test_clean")
    assert entry["verdict"] == "clean", describe(entry)
    # the malloc probe did not move: the fewest runs
    assert entry["runs"] == DEFAULT_RUNS, describe(entry)


@needs_glibc
def test_a_mib_per_call_in_freed_heap_is_a_leak(native_run: LeakRun) -> None:
    assert native_run.entry("test_native_heap.py::test_frees_tens_of_mib")["verdict"] == "clean"
    entry = _malloc_leak(native_run, "test_native_heap.py::test_mib_per_call_later")
    assert entry["growth_per_run"]["malloc"] == pytest.approx(1 << 20, rel=0.01)
    # What made it invisible before: glibc reuses the heap the earlier test freed.
    assert entry["trend"]["rss"] != "growing", describe(entry)


@needs_glibc
def test_header_names_the_source(native_run: LeakRun) -> None:
    header = [line for line in native_run.result.outlines if line.startswith("leakguard: check")]
    assert len(header) == 1, native_run.output()
    assert "malloc (glibc mallinfo2)" in header[0]
    assert "budget 0 B/run (rss 64.0 KiB/run, malloc 128 B/run)" in header[0]


NUMPY = """\
import numpy as np

BUFFER = np.empty(0)


def test_buffer_grows():
    # A scratch buffer that only ever grows: 200,000 more float64 (1.6 MB) a run. numpy
    # reports its data to tracemalloc only, and RSS does not see pages never written.
    global BUFFER
    BUFFER = np.empty(BUFFER.size + 200_000)
"""


@needs_glibc
def test_numpy_array_data_growing_is_a_leak(pytester: pytest.Pytester) -> None:
    pytest.importorskip("numpy")
    pytester.makepyfile(test_numpy_buffer=NUMPY)
    run = run_leakguard(pytester, "test_numpy_buffer.py")
    entry = _malloc_leak(run, "test_numpy_buffer.py::test_buffer_grows")
    assert entry["growth_per_run"]["malloc"] == pytest.approx(1_600_000, rel=0.01)
    assert entry["trend"]["heap"] == "flat"  # the allocation counter does not see it


NO_SOURCE = """
from pytest_leakguard.probes import c_heap

c_heap._FOUND[:] = [c_heap.Source("musl libc has neither mallinfo2 nor mallinfo", None)]
"""


def test_without_a_source_the_probe_is_left_out_and_the_header_says_so(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(no_source=NO_SOURCE, test_one="def test_one():\n    pass\n")
    pytester.syspathinsert()
    run = run_leakguard(pytester, "-p", "no_source", "test_one.py")
    run.result.stdout.fnmatch_lines(
        [
            "leakguard: no malloc probe (musl libc has neither mallinfo2 nor mallinfo):"
            " native leaks are seen by rss only, above its floor per run"
        ]
    )
    assert "malloc" not in run.report["settings"]["probes"]
    assert run.entry("test_one.py::test_one")["verdict"] == "clean"


def test_marker_asking_for_it_without_a_source_is_that_tests_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        no_source=NO_SOURCE,
        test_one="""
        import pytest

        @pytest.mark.leakguard(probes="malloc")
        def test_one():
            pass
        """,
    )
    pytester.syspathinsert()
    run = run_leakguard(pytester, "-p", "no_source", "test_one.py")
    entry = run.entry("test_one.py::test_one")
    assert entry["verdict"] == "error"
    assert "the malloc probe cannot read the C heap here: musl libc" in entry["reason"]


# ---------------------------------------------------------------- the probe in-process


IN_PROCESS = """
import ctypes, json
from pytest_leakguard.probes import c_heap

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.restype, libc.free.argtypes = None, [ctypes.c_void_p]
libc.free(libc.malloc(7000))  # ctypes' first call sets itself up
probe = c_heap.MallocProbe()
probe.start()
probe.sample()  # the first reading's own one-off allocations (its result, the cache fill)
readings = {"before": probe.sample(), "again": probe.sample()}
block = libc.malloc(7000)
readings["after"] = probe.sample()
libc.free(block)
readings["freed"] = probe.sample()
cycled = []
for _ in range(10):
    # free() parks small chunks in the thread's cache, which mallinfo2 counts as in use
    blocks = [libc.malloc(size) for size in (40, 100, 300, 700) for _ in range(3)]
    for block in blocks:
        libc.free(block)
    cycled.append(probe.sample())
readings["cycled"] = cycled
print(json.dumps(readings))
"""


@needs_glibc
def test_reads_a_malloc_to_the_chunk_and_nothing_else() -> None:
    # In a process of its own: an xdist worker's threads allocate meanwhile.
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS], capture_output=True, text=True, check=True
    )
    readings = json.loads(done.stdout)
    assert readings["again"] == readings["before"]
    # The chunk: 7,000 bytes and its header, rounded to 16.
    assert readings["after"] - readings["before"] == 7008
    assert readings["freed"] == readings["before"]
    # Chunks cycled through the thread's cache leave the reading as it was.
    assert set(readings["cycled"]) == {readings["before"]}, readings


def test_sampled_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="sampled before it started"):
        c_heap.MallocProbe().sample()


@given(st.integers(-(1 << 31), (1 << 31) - 1), st.lists(st.integers(-(1 << 30), 1 << 30)))
def test_mallinfo_int_fields_are_unwrapped(start: int, steps: list[int]) -> None:
    # mallinfo's int fields wrap at 2 GiB: each step is taken modulo 4 GiB.
    true = [start]
    for step in steps:
        true.append(true[-1] + step)
    raw = iter([(value + (1 << 31)) % (1 << 32) - (1 << 31) for value in true])
    unwrapped = c_heap._Unwrapped(lambda: next(raw))
    assert [unwrapped() for _ in steps] == true[1:]


# ---------------------------------------------------------------- engines that stop

RESTARTS = """\
import tracemalloc

BUFFER = bytearray()
KEPT = bytearray()


def test_clears_the_traces_and_leaks():
    # Measures its own allocations from a clean count, and keeps 300 bytes a run.
    tracemalloc.clear_traces()
    BUFFER.extend(b"x" * 300)


def test_heap_leak_later():
    KEPT.extend(b"y" * 300)
"""


def test_tracemalloc_restarted_by_a_test_is_its_error_then_counts_afresh(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(no_counter=NO_COUNTER, test_restarts=RESTARTS)
    pytester.syspathinsert()
    # Only the heap probe sees these (the buffers grow in place, below malloc's floor).
    run = run_leakguard(
        pytester,
        "-p",
        "no_counter",
        "--leakguard-probes=heap",
        "--leakguard-confirm-seconds=0",
        "test_restarts.py",
    )
    first = run.entry("test_restarts.py::test_clears_the_traces_and_leaks")
    assert first["verdict"] == "error", describe(first)
    assert "tracemalloc was restarted or its traces cleared" in first["reason"]
    later = run.entry("test_restarts.py::test_heap_leak_later")
    assert later["verdict"] == "leak", describe(later)
    assert later["trend"]["heap"] == "growing"


EXPLAINED_THEN_NATIVE = """\
import ctypes

LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
ORDERS = []


def test_python_leak_with_large_temporaries():
    ORDERS.append({"order": len(ORDERS)})  # the leak, explained by the deep probes
    payload = bytearray(30 << 20)  # and tens of MiB that each run frees again
    del payload
    parts = [bytearray(1 << 20) for _ in range(40)]
    del parts


def test_native_leak_later():
    block = LIBC.malloc(1 << 20)
    ctypes.memset(block, 1, 1 << 20)
"""


@needs_glibc
def test_a_native_leak_after_an_explained_leak_is_a_leak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_later=EXPLAINED_THEN_NATIVE)
    run = run_leakguard(pytester, "test_later.py")
    first = run.entry("test_later.py::test_python_leak_with_large_temporaries")
    assert first["verdict"] == "leak", describe(first)
    assert first["explanation"], describe(first)
    later = _malloc_leak(run, "test_later.py::test_native_leak_later")
    assert later["growth_per_run"]["malloc"] == pytest.approx(1 << 20, rel=0.01)


@needs_glibc
def test_reads_once_joined_threads_have_left_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A joined thread still running its C exit (freeing its chunk cache) is waited for."""
    probe = c_heap.MallocProbe()
    probe.start()
    extra = c_heap._threads_not_in_python_now()
    events: list[str] = []
    exiting = iter([extra + 1, extra + 1, extra])  # one kernel thread still exiting, then gone
    monkeypatch.setattr(c_heap, "_threads_not_in_python_now", lambda: next(exiting, extra))
    monkeypatch.setattr(resources.time, "sleep", lambda seconds: events.append("wait"))
    monkeypatch.setattr(probe, "_read", lambda: events.append("read") or 0)
    probe.sample()
    assert events == ["wait", "wait", "read"]
    events.clear()
    probe.sample()  # nothing exiting: no wait
    assert events == ["read"]
