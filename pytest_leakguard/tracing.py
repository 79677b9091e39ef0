"""The one owner of ``tracemalloc``'s state while the deep probes change it.

The heap engine (``probes/memory.py``) may trace with one frame; the deep
probes need 25, and walk the heap with tracing off (traced, each of the walks'
many short-lived allocations records a traceback).  A :class:`Tracing` records
the state when it is made and puts it back exactly (tracing or not, and with how
many frames) when it is restored or its ``with`` block ends, whatever was
changed in between: an interrupted explanation never leaves the session traced
deeper than it was.
"""

from __future__ import annotations

import tracemalloc
from types import TracebackType


def frames() -> int:
    """The frames ``tracemalloc`` records now (0: it is not tracing)."""
    return tracemalloc.get_traceback_limit() if tracemalloc.is_tracing() else 0


class Tracing:
    """``tracemalloc``'s state when made, restored by :meth:`restore` (or at the ``with``'s end).

    ``Tracing(25)`` traces with at least 25 frames from the start; ``Tracing()``
    changes nothing until :meth:`deepen` or :meth:`pause`.  Restoring twice is
    harmless; restarting loses the traces of older blocks (``tracemalloc``'s rule).
    """

    def __init__(self, frames_wanted: int = 0) -> None:
        self.saved = frames()
        """The frames traced when this was made (0: tracing was off)."""
        self._changed = False
        if frames_wanted:
            self.deepen(frames_wanted)

    def __enter__(self) -> Tracing:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.restore()

    def deepen(self, wanted: int) -> bool:
        """Trace with at least ``wanted`` frames; whether tracing had to (re)start."""
        if frames() >= wanted:
            return False
        tracemalloc.stop()
        tracemalloc.start(wanted)
        self._changed = True
        return True

    def pause(self) -> None:
        """Stop tracing until :meth:`deepen` or :meth:`restore`."""
        if tracemalloc.is_tracing():
            tracemalloc.stop()
            self._changed = True

    def restore(self) -> None:
        """Trace as when this was made (nothing to do if nothing changed)."""
        if self._changed:
            tracemalloc.stop()
            if self.saved:
                tracemalloc.start(self.saved)
            self._changed = False
