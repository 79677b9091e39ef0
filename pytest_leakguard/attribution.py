"""Observe a few more runs of a leaking test and measure the growth suppressions match.

Between :meth:`Observer.before` and :meth:`Observer.after` the driver
(:mod:`pytest_leakguard.deep`) runs the test again.  The observer compares two
``tracemalloc`` snapshots (deep tracebacks) by traceback, and looks at the
allocation traceback of each new object the garbage collector tracks, and sums
the growth that ``site:`` and ``type:`` suppressions match
(:mod:`pytest_leakguard.suppress` compares it with the growth the probes
measured).  Only the matched part is measured here: the total of a snapshot
diff is not the test's growth, since tracing restarted shortly before and the
frees of older, untraced blocks are not seen.  Its own allocations, which have
a frame in this module, are left out.
"""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from .suppress import MEMORY_PROBES, Attribution, Suppressions, frame_names
from .tracing import Tracing

FRAMES = 25
_DEPTH = 3
"""Levels of references followed from an object of a suppressed type."""
_OWN_FILE = os.path.abspath(__file__)
"""Allocations with a frame here are the observation's own (not this package's: the
runner drives the test's runs, so its frames are in the test's tracebacks too)."""


class Observer:
    """Growth matched by suppressions over the runs between :meth:`before` and :meth:`after`.

    A :class:`~pytest_leakguard.deep.DeepProbe` that starts after the first run:
    when tracing restarted, in that run what each run replaces (freed untraced,
    allocated traced) would look like growth.
    """

    delay = 1

    def __init__(self, suppressions: Suppressions, rootdir: str) -> None:
        self.suppressions = suppressions
        self.rootdir = rootdir
        self._tracing: Tracing | None = None
        self._snapshot: tracemalloc.Snapshot | None = None
        self._ids: set[int] = set()
        self._names: dict[str, str | None] = {}
        self.result: Attribution | None = None
        """What :meth:`after` found."""

    def before(self, absorb: Callable[[], object] | None = None) -> bool:
        """Trace deep (unless the caller already does) and record the state."""
        self._tracing = Tracing(FRAMES)
        self._snapshot = tracemalloc.take_snapshot()
        # After the snapshot, and after a collection has untracked the tuples of
        # atoms it made: its objects are then neither new nor gone later.
        gc.collect()
        self._ids = {id(obj) for obj in gc.get_objects()}
        return True

    def after(self, runs: int, complete: bool = True) -> None:
        """Compare with :meth:`before` after ``runs`` more runs (the caller settled).

        The result goes to :attr:`result`; when a run failed (not ``complete``) there
        is none, but tracing is restored all the same.
        """
        assert self._snapshot is not None, "before() was not called"
        try:
            if runs > 0 and complete:
                self.result = self._attribute(runs)
        finally:
            self.abort()

    def abort(self) -> None:
        """Forget the state and restore tracing (after an interruption, or when done)."""
        self._snapshot = None
        self._ids = set()
        if self._tracing is not None:
            self._tracing.restore()

    def _site(self, traceback: Any) -> str | None:
        for frame in traceback:
            if frame.filename not in self._names:
                names = frame_names(frame.filename, self.rootdir, sys.path)
                self._names[frame.filename] = self.suppressions.site_for(names)
            pattern = self._names[frame.filename]
            if pattern is not None:
                return pattern
        return None

    def _objects(self, result: Attribution) -> None:
        """Count the new objects suppressions match; size up those of suppressed types.

        A ``site:`` object's bytes are in the snapshot diff already.  A ``type:``
        object's are not: they are its size and that of the new objects it alone
        leads to (its attributes' values, its ``__dict__``...), a few levels down.
        An object taken from a free list has no allocation traceback (nor does any
        object with a pre-header on Python 3.11): it is new if the collector did
        not track it before.
        """
        typed: list[tuple[Any, str]] = []
        fresh: set[int] = set()
        for obj in gc.get_objects():
            if id(obj) in self._ids or obj is self._ids or obj is typed or obj is fresh:
                continue
            traceback = tracemalloc.get_object_traceback(obj)
            if traceback is not None and _own(traceback):
                continue
            fresh.add(id(obj))
            cls = type(obj)
            pattern = self.suppressions.type_for(f"{cls.__module__}.{cls.__qualname__}")
            if pattern is None and traceback is not None:
                pattern = self._site(traceback)
                if pattern is not None:
                    result.suppressed["objects"] += 1
                    _add(result, pattern, "objects_per_run", 1)
            elif pattern is not None:
                typed.append((obj, pattern))
        seen: set[int] = set()
        for obj, pattern in typed:
            size, blocks, objects = self._footprint(obj, seen, fresh)
            result.suppressed["heap"] += size
            result.suppressed["blocks"] += blocks
            result.suppressed["objects"] += objects
            _add(result, pattern, "bytes_per_run", size)
            _add(result, pattern, "objects_per_run", objects)

    def _footprint(self, root: Any, seen: set[int], fresh: set[int]) -> tuple[int, int, int]:
        """Bytes, blocks and gc-tracked objects of ``root`` and the new objects under it."""
        size = blocks = objects = 0
        stack = [(root, 0)]
        while stack:
            obj, depth = stack.pop()
            if id(obj) in seen:
                continue
            tracked = gc.is_tracked(obj)
            if tracked and id(obj) not in fresh:
                continue  # older than the runs
            traceback = tracemalloc.get_object_traceback(obj)
            if not tracked and traceback is None:
                continue  # older than tracing, or a shared constant
            if obj is not root and traceback is not None and self._site(traceback) is not None:
                continue  # counted with its site already
            seen.add(id(obj))
            size += sys.getsizeof(obj)
            blocks += 1
            objects += tracked
            if depth < _DEPTH:
                stack.extend((child, depth + 1) for child in gc.get_referents(obj))
        return size, blocks, objects

    def _attribute(self, runs: int) -> Attribution:
        result = Attribution(runs, dict.fromkeys(MEMORY_PROBES, 0.0))
        self._objects(result)
        assert self._snapshot is not None
        own = tracemalloc.Filter(False, _OWN_FILE, all_frames=True)
        before = self._snapshot.filter_traces([own])
        after = tracemalloc.take_snapshot().filter_traces([own])
        for stat in after.compare_to(before, "traceback"):
            pattern = self._site(stat.traceback)
            if pattern is not None:
                result.suppressed["heap"] += stat.size_diff
                result.suppressed["blocks"] += stat.count_diff
                _add(result, pattern, "bytes_per_run", stat.size_diff)
        for table in (result.suppressed, *result.by_pattern.values()):
            for key in table:
                table[key] /= runs
        return result


def _own(traceback: Any) -> bool:
    return any(frame.filename == _OWN_FILE for frame in traceback)


def _add(result: Attribution, pattern: str, key: str, amount: float) -> None:
    entry = result.by_pattern.setdefault(pattern, {"bytes_per_run": 0.0, "objects_per_run": 0.0})
    entry[key] += amount
