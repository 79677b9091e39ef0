"""Bring the interpreter to a comparable state before each sample.

CPython's own refleak hunter (``regrtest -R``) clears the interpreter's
bounded caches between runs, so that a cache filling up is not mistaken for
a leak; this module does the same for the caches a test commonly fills.
Only modules that are already imported are touched: importing one here would
itself look like growth.

Only caches that are bounded by construction are emptied (a size limit in the
code that fills them): emptying an unbounded one would remove a real leak before
it is measured.  So ``linecache`` is left alone: code generators (attrs, template
engines, ORMs) register their source there under a new name per call and never
remove it.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from . import compat


def _call(module: str, *path: str) -> None:
    obj: Any = sys.modules.get(module)
    for name in path:
        if obj is None:
            return
        obj = getattr(obj, name, None)
    if callable(obj):
        obj()


def clear_interpreter_caches() -> None:
    """Empty the stdlib's bounded caches (re, typing, struct, urllib, fnmatch, filecmp, types).

    Each has a size limit: ``re`` 512 patterns, ``typing``'s ``lru_cache`` 128 entries
    each, ``struct`` 100 formats, ``urllib.parse`` 20 or 128 URLs, ``fnmatch`` 256 or
    32768 patterns, ``filecmp`` 100 comparisons, the type attribute cache a fixed array.
    """
    _call("re", "purge")
    typing = sys.modules.get("typing")
    cleanups: list[Callable[[], None]] = getattr(typing, "_cleanups", [])
    for cleanup in cleanups:
        cleanup()
    _call("struct", "_clearcache")
    _clear_urllib_parse()
    _call("fnmatch", "_compile_pattern", "cache_clear")
    _call("filecmp", "clear_cache")
    sys._clear_type_cache()


def _clear_urllib_parse() -> None:
    """``urllib.parse``'s bounded caches only.

    Before Python 3.11 ``clear_cache()`` also empties ``_safe_quoters``, one quoter per
    distinct ``safe`` argument and no limit: its parse cache (20 URLs) is emptied alone.
    """
    parse: Any = sys.modules.get("urllib.parse")
    if parse is None:
        return
    if hasattr(parse, "_safe_quoters"):
        cache = getattr(parse, "_parse_cache", None)
        if isinstance(cache, dict):
            cache.clear()
        return
    _call("urllib.parse", "clear_cache")


def refill(table: dict[Any, Any] | set[Any]) -> None:
    """Empty ``table`` and refill it with what it held, in place: its size then depends on
    its entries only.  A set's or dict's table only shrinks when an insert resizes it, so
    one that entries enter and leave keeps the size its history gave it; and ``dict(d)``
    copies a table that has no deleted slots as it is, so refilling goes through a list."""
    kept: list[Any] = list(table.items() if isinstance(table, dict) else table)
    table.clear()
    table.update(kept)


def compact_environ() -> None:
    """Rebuild ``os.environ``'s table, so its size is the same after every run.

    pytest sets and deletes ``PYTEST_CURRENT_TEST`` in every run; the deleted
    slots pile up until the table is rebuilt, sometimes into a larger one, which
    looks like a one-off growth of a few KiB in the middle of the measured runs.
    ``os.environ`` and ``os.environb`` share the table on POSIX.
    """
    data = compat.environ_table()
    if type(data) is not dict:
        return
    compat.replace_environ_table(data, dict(data))


def compact_shutdown_locks() -> None:
    """Rebuild ``threading``'s set of running threads' locks (before 3.13) to fit what it holds.

    Every non-daemon thread adds its lock when it starts and drops it once joined.  A set's
    table is only resized on an insert, from the entries it holds then, so after a test that
    ran threads its size depends on how their starts and ends interleaved: up to 1 KiB more
    or less from one run to the next, which made a clean threaded test move and run on.
    Rebuilt in place under the set's own lock: the same set, the same locks.
    """
    found = compat.shutdown_locks()
    if found is None:
        return
    locks, guard = found
    with guard:
        refill(locks)


def compact_dangling_threads() -> None:
    """Rebuild ``threading``'s registry of every thread made to fit what it holds.

    Each ``Thread`` adds a weak reference to the registry's set, which its death removes;
    the set's table only shrinks when an insert resizes it.  So a test that makes threads
    left the table 512 B to 1 KiB larger on some run after the first, by the counts of
    entries and deleted slots then: a clean threaded test seemed to grow once, and ran on.
    ``s &= s`` copies the set to fit and swaps the copy's table in, in one call of C code
    that runs no Python code: no other thread can add or remove an entry meanwhile.
    """
    data = compat.dangling_threads()
    if data is not None:
        data &= data


def compact_thread_tables() -> None:
    """Rebuild ``threading``'s tables of running and starting threads to fit, when only the
    calling thread runs.

    Each thread enters both when it starts and leaves them when it ends; a dict's table
    only shrinks when an insert resizes it, which happens after a number of inserts, not
    of entries: a test that makes threads left them larger on some run after the first.
    ``current_thread()`` reads the running threads' table without the lock, so it is only
    emptied and refilled while no other thread is in it: a thread that is not (another
    interpreter's, a C library's) finds no entry either way, and waits on the lock to add
    one.
    """
    found = compat.thread_tables()
    if found is None:
        return
    active, limbo, lock = found
    with lock:
        if limbo or list(active) != [threading.get_ident()]:
            return
        refill(active)
        refill(limbo)


def compact_rerun_tables(item: pytest.Item) -> None:
    """Rebuild, to fit, the dicts that every run of ``item`` adds keys to and deletes them
    from (see :func:`compat.rerun_tables`): some runs after the first, one was 288 B larger
    than before, once, and a clean test seemed to grow, and ran on."""
    for table in compat.rerun_tables(item):
        refill(table)


def settle() -> None:
    """Clear interpreter caches, compact tables whose size is noise, collect garbage."""
    clear_interpreter_caches()
    compact_environ()
    compact_shutdown_locks()
    compact_dangling_threads()
    compact_thread_tables()
    gc.collect()


_FROZEN: list[bool] = []
"""Whether each check in progress froze the heap (see :func:`frozen`), innermost last."""


class Freezer:
    """Freezes the heap for each check of one session, unless the user froze objects.

    ``gc.get_freeze_count()`` walks the frozen generation (CPython 3.11), so once it
    has seen the user's frozen objects (a conftest that freezes after collection, as
    packaging's does) it is not asked again: that would cost milliseconds per test.
    Not freezing is always safe; it only makes the count and the collection slower.
    """

    def __init__(self) -> None:
        self.user_froze = False

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Move the objects that exist out of the collector's reach (``gc.freeze``) for the block.

        Each collection and each object count then costs what the test allocated, not
        the size of the heap.  Not if something is frozen already (by the user, or by
        the session this one runs in): ``gc.unfreeze`` would thaw that too.
        """
        self.user_froze = self.user_froze or gc.get_freeze_count() > 0
        freezing = not self.user_froze
        if freezing:
            gc.freeze()
        _FROZEN.append(freezing)
        try:
            yield
        finally:
            _FROZEN.pop()
            if freezing:
                gc.unfreeze()


@contextlib.contextmanager
def thawed() -> Iterator[None]:
    """Within the block, what :func:`frozen` froze is not frozen (``gc.get_referrers``
    does not see frozen objects); what the user froze stays frozen."""
    ours = any(_FROZEN)
    if ours:
        gc.unfreeze()
    try:
        yield
    finally:
        if ours:
            gc.freeze()
