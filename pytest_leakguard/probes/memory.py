"""The cheap memory probes: allocator blocks, gc objects, allocated bytes, RSS."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import tracemalloc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Callable


class BlocksProbe:
    """Memory blocks allocated by Python's allocators and still alive.

    Counted by the allocation counter when the ``heap`` probe counts with it
    (the blocks allocated since checking began), else ``sys.getallocatedblocks()``,
    which visits every pool of every arena: its cost grows with the heap (0.2 ms
    per sample with 1.2 million objects alive).
    """

    name = "blocks"
    unit = "count"

    def __init__(self) -> None:
        self.sample: Callable[[], int] = sys.getallocatedblocks

    def start(self) -> None:
        """Count with the allocation counter if it is available."""
        counter = _start_counter()
        if counter is not None:
            self.sample = counter.blocks

    def stop(self) -> None:
        """Nothing to release."""


class ObjectsProbe:
    """Objects tracked by the garbage collector.

    The runner freezes the objects that existed before the test
    (``gc.freeze``), so ``gc.get_objects()`` walks only the objects the test's
    runs created and kept: its cost does not grow with the size of the heap.
    """

    name = "objects"
    unit = "count"

    def start(self) -> None:
        """Nothing to prepare."""

    def sample(self) -> int:
        """Return the number of gc-tracked objects outside the frozen generation."""
        return len(gc.get_objects())

    def stop(self) -> None:
        """Nothing to release."""


class HeapProbe:
    """Bytes allocated through Python's allocators since checking began and still alive.

    The figure ``tracemalloc.get_traced_memory()`` gives, and it sees what no
    other probe does: memory that grows without a new block (a string or a
    list growing in place).  Two engines count it (:func:`heap_engine`):

    * the compiled allocation counter (``pytest_leakguard._alloccount``): it
      hooks the allocators tracemalloc hooks but keeps only each block's size,
      not a traceback: a loop that does nothing but allocate runs 2.2 to 2.8
      times slower under it, 4 to 8 times under ``tracemalloc`` (docs/benchmarks.md);
    * ``tracemalloc`` itself, where the counter was not built (no C compiler
      at install, PyPy, a free-threaded build) or when tracing was on before
      the first checked test (``-X tracemalloc``): then it is the user's.

    Either starts with the first checked test and goes on until the session
    ends (:func:`stop_session_counting`).  Started and stopped around each
    test, it would miss the memory that existed before the start: when pytest
    replaces such memory during the re-runs (``os.environ``'s table, the setup
    stack), the new copy would look like growth.
    """

    name = "heap"
    unit = "bytes"

    def __init__(self) -> None:
        self._others: dict[threading.Thread, int | None] = {}
        self.busy_threads: list[str] = []
        """With ``tracemalloc``: the threads started before the test that ran during it."""

    def start(self) -> None:
        """Start counting for the rest of the session if not yet done (or broken)."""
        global _ENGINE, _ENGINE_OWNER
        if _ENGINE is not None and not _ENGINE.healthy():
            # Stopped or refused behind our back: count afresh, for the same owner.
            _ENGINE.stop()
            _ENGINE = _start_engine()
        if _ENGINE is None:
            _ENGINE = _start_engine()
            _ENGINE_OWNER = _session()
        if _COUNTER is not None:
            _focus(_COUNTER)
        elif _ENGINE.label == "tracemalloc":  # it cannot tell threads apart: watch them
            self._others = _earlier_threads()

    def sample(self) -> int:
        """Return the counted bytes that are still allocated."""
        if _ENGINE is None:
            raise RuntimeError("the heap probe's counting was stopped (by another session?)")
        return _ENGINE.current()

    def stop(self) -> None:
        """Note which other threads ran (counting goes on: see the class docstring)."""
        others, self._others = self._others, {}
        self.busy_threads = [
            thread.name
            for thread, cpu in others.items()
            if cpu is None or not thread.is_alive() or _cpu_time(thread) != cpu
        ]


def _earlier_threads() -> dict[threading.Thread, int | None]:
    """The threads that run beside the test's, with their CPU time so far."""
    current = threading.current_thread()
    return {t: _cpu_time(t) for t in threading.enumerate() if t is not current}


def _cpu_time(thread: threading.Thread) -> int | None:
    """A thread's time on a CPU so far, in nanoseconds (Linux); ``None`` where unknown."""
    try:
        with open(f"/proc/self/task/{thread.native_id}/schedstat", "rb") as stat:
            return int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def other_threads_doubt(
    probes: Iterable[object], samples: Mapping[str, Sequence[int]], warmup: int
) -> str:
    """Why a ``clean`` verdict cannot stand: ``tracemalloc`` counted the allocations of
    threads that ran beside the test, and the heap series moved ("" if it can stand)."""
    for probe in probes:
        if isinstance(probe, HeapProbe) and probe.busy_threads:
            window = samples.get(probe.name, [])[warmup:]
            if window and max(window) != min(window):
                names = ", ".join(probe.busy_threads)
                return (
                    f"other threads ran during the check ({names}): tracemalloc counts "
                    "every thread's allocations, so the heap moved by theirs too; the "
                    "compiled allocation counter counts only the test's threads"
                )
    return ""


class _Engine:
    """How :class:`HeapProbe` counts: ``label`` names it in the report header."""

    def __init__(self, label: str, current: Callable[[], int], stop: Callable[[], None]):
        self.label = label
        self.current = current
        self.stop = stop

    def healthy(self) -> bool:
        """Whether it can still count (the counter may refuse; tracemalloc may be stopped)."""
        return _counts(self.current)


_ENGINE: _Engine | None = None
_COUNTER: Any = None
"""The allocation counter once started for the session."""
_ENGINE_OWNER: object = None
_COUNTER_OWNER: object = None
"""The sessions that started them: only those stop them (see :func:`stop_session_counting`)."""
_SESSIONS: list[object] = []
"""The sessions measuring a test, innermost last (see :func:`measuring`)."""


@contextlib.contextmanager
def measuring(session: object) -> Iterator[None]:
    """Within the block, counting started here belongs to ``session``.

    A session run in-process inside a test (``pytester.runpytest()``) measures
    inside the outer session's measurement: when it ends it must not stop what
    the outer session started.
    """
    _SESSIONS.append(session)
    try:
        yield
    finally:
        _SESSIONS.pop()


def _session() -> object:
    return _SESSIONS[-1] if _SESSIONS else None


class _Traced:
    """``tracemalloc``'s traced bytes, refused once its count started again from 0.

    A test that stops ``tracemalloc`` and starts it again, or clears its traces,
    leaves a count of what was allocated since: a leak there would read flat.  A
    block allocated at the start is traced until then: when it is not, the count
    is refused (that test's ``error``), and the next test starts counting afresh.
    """

    def __init__(self) -> None:
        self._sentinel = bytearray(1)

    def __call__(self) -> int:
        if not tracemalloc.is_tracing():
            raise RuntimeError("tracemalloc was stopped while the heap probe counted with it")
        if tracemalloc.get_object_traceback(self._sentinel) is None:
            raise RuntimeError(
                "tracemalloc was restarted or its traces cleared while the heap probe counted"
                " with it (tracemalloc.stop() and start(), or clear_traces()): its count"
                " started again from 0"
            )
        return tracemalloc.get_traced_memory()[0]


def _start_engine() -> _Engine:
    counter = _start_counter()
    if counter is not None:
        return _Engine("allocation counter", counter.current, lambda: None)
    if tracemalloc.is_tracing():  # someone else's: leave it to them
        return _Engine("tracemalloc", _Traced(), lambda: None)
    tracemalloc.start(1)
    return _Engine("tracemalloc", _Traced(), tracemalloc.stop)


def _start_counter() -> Any:
    """The allocation counter, started once for the session (again if it stopped counting
    or refused to); ``None`` where it is not built or ``tracemalloc`` already traces (then
    it is the ``heap`` probe's engine)."""
    global _COUNTER, _COUNTER_OWNER
    if _COUNTER is not None and not _counts(_COUNTER.current):
        _COUNTER.start()
    if _COUNTER is None and not tracemalloc.is_tracing():
        _COUNTER = _counter()
        if _COUNTER is not None:
            _COUNTER.start()
            _COUNTER_OWNER = _session()
    if _COUNTER is not None:
        _focus(_COUNTER)
    return _COUNTER


def _focus(counter: Any) -> None:
    """Count this test's threads only; keep the table sized by what one test keeps."""
    counter.compact()  # forgets the earlier tests' blocks once they are many
    counter.focus(*_NEWEST_THREAD)


_NEWEST_THREAD: list[int] = []
"""The newest thread when the current test's body first ran (see :func:`note_test_call`)."""


def note_test_call() -> None:
    """Note which threads run before the test's body first runs (its fixtures' included).

    The allocation counter then counts only what the test's thread and the threads
    started after this point allocate: a background thread started earlier (by a
    session fixture, a library's worker pool) churns memory without moving the test's
    samples.  A block's free subtracts it whichever thread frees it.
    """
    counter = _counter()
    if counter is not None:
        _NEWEST_THREAD[:] = [counter.newest_thread()]


def _counts(current: Callable[[], int]) -> bool:
    """Whether ``current()`` gives a count (the counter raises when its count is lost)."""
    try:
        current()
    except (RuntimeError, MemoryError):
        return False
    return True


def _counter() -> Any:
    # Imported once: a failed import would go through every import hook each time.
    if not _IMPORTED:
        try:
            from .. import _alloccount
        except ImportError:
            _IMPORTED.append(None)
        else:
            _IMPORTED.append(_alloccount)
    return _IMPORTED[0]


_IMPORTED: list[Any] = []


def counter_installed() -> bool:
    """Whether the compiled allocation counter can be imported here."""
    return _counter() is not None


def heap_engine() -> str:
    """What the ``heap`` probe counts with: ``allocation counter`` or ``tracemalloc``.

    Before the first checked test, what it will count with.
    """
    if _ENGINE is not None:
        return _ENGINE.label
    if tracemalloc.is_tracing() or _counter() is None:
        return "tracemalloc"
    return "allocation counter"


def outer_session_traces() -> bool:
    """Whether a session that this one runs inside counts the heap with ``tracemalloc``
    (a test that runs pytest in process): restarting tracing would lose that count."""
    return (
        _ENGINE is not None
        and _ENGINE.label == "tracemalloc"
        and _ENGINE_OWNER not in (None, _session())
    )


def stop_session_counting(session: object = None) -> None:
    """Stop what :class:`HeapProbe` and :class:`BlocksProbe` started (at the end of the session).

    Only what ``session`` started: a session run inside another one's test leaves
    the outer session's counting alone.
    """
    global _ENGINE, _COUNTER, _ENGINE_OWNER, _COUNTER_OWNER
    if _ENGINE is not None and _ENGINE_OWNER in (session, None):
        engine, _ENGINE, _ENGINE_OWNER = _ENGINE, None, None
        engine.stop()
    if _COUNTER is not None and _COUNTER_OWNER in (session, None):
        counter, _COUNTER, _COUNTER_OWNER = _COUNTER, None, None
        counter.stop()


class RssProbe:
    """Resident set size of the process (catches native leaks in C extensions).

    Page-granular and shared with everything in the process, so its budget
    has a floor (see the documentation of ``leakguard_budget``).  On Linux it
    is read from ``/proc/self/statm`` through a descriptor kept open for the
    session (microseconds); elsewhere from psutil.
    """

    name = "rss"
    unit = "bytes"

    def __init__(self) -> None:
        self._process: Any = None

    def start(self) -> None:
        """Open the source once, so sampling does no lookup."""
        if _statm() is None:
            import psutil

            self._process = psutil.Process()

    def sample(self) -> int:
        """Return the resident set size in bytes."""
        fd = _statm()
        if fd is not None:
            resident = os.pread(fd, 128, 0).split()[1]
            return int(resident) * _PAGE
        rss: int = self._process.memory_info().rss
        return rss

    def stop(self) -> None:
        """Drop the process handle (the statm descriptor stays for the session)."""
        self._process = None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM: list[int] = []


def _statm() -> int | None:
    if not _STATM:
        try:
            _STATM.append(os.open("/proc/self/statm", os.O_RDONLY))
        except OSError:
            _STATM.append(-1)
    return _STATM[0] if _STATM[0] >= 0 else None
