"""The ``malloc`` probe: bytes the C library's allocator has handed out and not got back.

Python's allocators (what the ``heap`` probe counts) do not see memory that C
extensions take from ``malloc`` themselves, nor, with the allocation counter,
numpy's array data (numpy reports it to ``tracemalloc`` only); ``rss`` sees it
but moves by pages and has a floor of 64 KiB per run.  The C library keeps an
exact figure of its own, read here through ``ctypes`` (loaded when the probe
first starts; no compiler needed):

* glibc 2.33+: ``mallinfo2()``, ``uordblks + hblkhd`` (bytes in use in the arenas,
  and in chunks mapped on their own), exact to the chunk, over all arenas;
* older glibc: ``mallinfo()``, the same fields as ``int``: they wrap at 2 GiB, so
  each sample adds its difference to the previous one taken modulo 2**32;
* macOS: ``malloc_zone_statistics(NULL, ...)``, ``size_in_use`` over all zones;
* elsewhere (musl, Windows...): no source; the probe is left out of the default
  probes and the report header says that native leaks are seen by ``rss`` only.

On glibc each reading first fills the thread's cache of freed chunks (see
:func:`_tcache_filler`): about 25 µs a sample with the compiled allocation counter,
1 ms through ``ctypes`` without it.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .memory import _counter
from .resources import Grace

if TYPE_CHECKING:
    import ctypes

_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


@dataclass(frozen=True)
class Source:
    """Where the ``malloc`` probe reads the C heap: ``read`` is ``None`` where it cannot."""

    label: str
    """``glibc mallinfo2``...; or why there is none, for the report header."""
    read: Callable[[], int] | None


def _mallinfo(kind: type[ctypes._SimpleCData[int]]) -> type[ctypes.Structure]:
    """glibc's ``struct mallinfo2`` (``size_t`` fields) or ``struct mallinfo`` (``int``)."""
    import ctypes

    class MallInfo(ctypes.Structure):
        _fields_ = [(name, kind) for name in _FIELDS.split()]

    return MallInfo


def _glibc(libc: ctypes.CDLL) -> Source | None:
    import ctypes

    if hasattr(libc, "mallinfo2"):
        return Source("glibc mallinfo2", _in_use(libc, "mallinfo2", ctypes.c_size_t))
    if hasattr(libc, "mallinfo"):
        label = "glibc mallinfo: int fields, steps taken modulo 4 GiB"
        return Source(label, _Unwrapped(_in_use(libc, "mallinfo", ctypes.c_int)))
    return None


def _in_use(
    libc: ctypes.CDLL, name: str, kind: type[ctypes._SimpleCData[int]]
) -> Callable[[], int]:
    """``uordblks + hblkhd`` from ``mallinfo2`` or ``mallinfo``, the thread's cache filled first."""
    mallinfo = getattr(libc, name)
    mallinfo.restype, mallinfo.argtypes = _mallinfo(kind), []
    fill = _tcache_filler(libc)

    def in_use() -> int:
        fill()
        info = mallinfo()
        return int(info.uordblks + info.hblkhd)

    return in_use


class _Unwrapped:
    """A reading whose ``int`` fields wrap at 2**31: differences taken modulo 2**32.

    The C heap never changes by 2 GiB between two samples of a test, so each step is
    the one in [-2**31, 2**31) that matches the low 32 bits.
    """

    def __init__(self, raw: Callable[[], int]) -> None:
        self._raw = raw
        self._last = raw()
        self._total = self._last

    def __call__(self) -> int:
        value = self._raw()
        step = (value - self._last + (1 << 31)) % (1 << 32) - (1 << 31)
        self._last = value
        self._total += step
        return self._total


TCACHE_BINS = 64
TCACHE_COUNT = 7
"""glibc's per-thread cache: 64 bins (chunks of 32 to 1,040 bytes), 7 chunks each by default."""


def _tcache_filler(libc: ctypes.CDLL) -> Callable[[], None]:
    """Fill the calling thread's cache of freed chunks (glibc's tcache) to the brim.

    ``mallinfo2`` counts the chunks that ``free`` parked in the thread's cache as in
    use: they come and go by the hundreds of bytes from run to run of a test that
    keeps nothing (a cache of 7 chunks per size filling up over the runs).  Taking
    7 chunks of every size and freeing them leaves each bin full, whatever it held:
    the reading is then what is in use plus a constant.
    """
    counter = _counter()
    if counter is not None and hasattr(counter, "fill_malloc_cache"):
        return functools.partial(counter.fill_malloc_cache, TCACHE_BINS, TCACHE_COUNT)
    import ctypes  # without the compiled counter: 50 times slower (1 ms a sample)

    malloc, free = libc.malloc, libc.free
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    sizes = [16 * index + 24 for index in range(TCACHE_BINS)]  # a chunk 8 bytes larger
    taken = [0] * TCACHE_COUNT

    def fill() -> None:
        for size in sizes:
            for index in range(TCACHE_COUNT):
                taken[index] = malloc(size)
            for pointer in taken:
                free(pointer)

    return fill


def _macos() -> Source | None:
    import ctypes

    class ZoneStatistics(ctypes.Structure):  # malloc_statistics_t, <malloc/malloc.h>
        _fields_ = [
            ("blocks_in_use", ctypes.c_uint),
            ("size_in_use", ctypes.c_size_t),
            ("max_size_in_use", ctypes.c_size_t),
            ("size_allocated", ctypes.c_size_t),
        ]

    try:
        libc = ctypes.CDLL("/usr/lib/libSystem.B.dylib")
        statistics = libc.malloc_zone_statistics
    except (OSError, AttributeError):
        return None
    statistics.restype = None
    statistics.argtypes = [ctypes.c_void_p, ctypes.POINTER(ZoneStatistics)]
    stats = ZoneStatistics()
    pointer = ctypes.byref(stats)

    def in_use() -> int:
        statistics(None, pointer)
        return int(stats.size_in_use)

    return Source("malloc zone statistics", in_use)


def _find() -> Source:
    if sys.platform == "darwin":
        return _macos() or Source("no malloc_zone_statistics in libSystem", None)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            found = _glibc(ctypes.CDLL(None))
        except OSError:
            found = None
        if found is not None:
            return found
        libc = " ".join(platform.libc_ver()).strip() or "this C library (musl?)"
        return Source(f"{libc} has neither mallinfo2 nor mallinfo", None)
    return Source(f"no C heap statistics read on {sys.platform}", None)


_FOUND: list[Source] = []
"""The :class:`Source` once looked up."""


def source() -> Source:
    """The C heap's reader, looked up once per process (on the first call)."""
    if not _FOUND:
        _FOUND.append(_find())
    return _FOUND[0]


class MallocProbe:
    """Bytes in use in the C library's heap (``malloc``): native leaks to the byte.

    It sees what C code takes from ``malloc`` (extensions, ``ctypes``, numpy's array
    data) and Python's own allocations above 512 bytes, not the small objects of
    Python's arenas (the ``heap`` and ``blocks`` probes see those).
    """

    name = "malloc"
    unit = "bytes"

    def __init__(self) -> None:
        self._read: Callable[[], int] = _not_started
        self._exiting: Grace | None = None

    def start(self) -> None:
        """Find the reader (once per process); fail with the reason where there is none."""
        read = source().read
        if read is None:
            raise RuntimeError(f"the malloc probe cannot read the C heap here: {source().label}")
        self._read = read
        unjoined = _threads_not_in_python()
        self._exiting = Grace(unjoined) if unjoined is not None else None

    def sample(self) -> int:
        """The bytes in use, once the threads that Python saw end have left the kernel too.

        A joined thread is gone from ``threading`` before its C thread has run its exit,
        which frees its cache of chunks (about 1 KiB): read in between, the C heap moves by
        that much and back in the next run.
        """
        if self._exiting is not None:
            self._exiting.count(_threads_not_in_python_now)
        return self._read()

    def stop(self) -> None:
        """Nothing to release."""


def _threads_not_in_python() -> int | None:
    """The process's kernel threads that are not Python threads (``None``: unknown here)."""
    try:
        return _threads_not_in_python_now()
    except OSError:
        return None


def _threads_not_in_python_now() -> int:
    return len(os.listdir("/proc/self/task")) - threading.active_count()


def _not_started() -> int:
    raise RuntimeError("the malloc probe was sampled before it started")
