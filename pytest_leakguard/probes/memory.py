"""The cheap memory probes: allocator blocks, gc objects, traced bytes, RSS."""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc
from typing import Any


class BlocksProbe:
    """Memory blocks allocated by the Python allocator (``sys.getallocatedblocks``)."""

    name = "blocks"
    unit = "count"

    def start(self) -> None:
        """Nothing to prepare."""

    def sample(self) -> int:
        """Return the number of live blocks."""
        return sys.getallocatedblocks()

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


class TracemallocProbe:
    """Bytes traced by ``tracemalloc`` (Python's allocators, not native ``malloc``).

    Tracing starts with the first checked test (unless it was already on, for
    example with ``-X tracemalloc``) and stays on until the session ends
    (:func:`stop_session_tracing`).  Started and stopped around each test, it
    would miss the memory that existed before the start: when pytest replaces
    such memory during the re-runs (``os.environ``'s table, the setup stack),
    the new copy would look like growth.
    """

    name = "tracemalloc"
    unit = "bytes"

    def start(self) -> None:
        """Start tracing for the rest of the session if nobody else did."""
        global _SESSION_TRACING
        if not tracemalloc.is_tracing():
            tracemalloc.start(1)
            _SESSION_TRACING = True

    def sample(self) -> int:
        """Return the traced bytes that are still allocated."""
        return tracemalloc.get_traced_memory()[0]

    def stop(self) -> None:
        """Nothing: tracing goes on (see the class docstring)."""


_SESSION_TRACING = False


def stop_session_tracing() -> None:
    """Stop the tracing :class:`TracemallocProbe` started (at the end of the session)."""
    global _SESSION_TRACING
    if _SESSION_TRACING:
        tracemalloc.stop()
        _SESSION_TRACING = False


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
