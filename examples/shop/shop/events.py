"""An in-process event bus: services publish events, subscribers react.

Subscribers are usually bound methods (``bus.subscribe("order.created",
self.on_created)``).  A bus that held them in a plain list would keep every
subscriber object alive, and everything it references, for as long as the bus
lives: a module-level bus lives as long as the process.  This one holds bound
methods through :class:`weakref.WeakMethod`, so a subscriber goes away with its
owner and its entry is removed.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any

Callback = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, list[Callable[[], Callback | None]]] = defaultdict(
            list
        )

    def subscribe(self, event: str, callback: Callback) -> None:
        """Call ``callback(payload)`` for every ``event`` published from now on."""
        entries = self._subscribers[event]
        if hasattr(callback, "__self__"):
            # A bound method: held weakly, removed when its object goes away.
            entries.append(weakref.WeakMethod(callback, entries.remove))
        else:
            entries.append(lambda: callback)

    def publish(self, event: str, payload: Any) -> int:
        """Deliver ``payload`` to the live subscribers of ``event``; how many got it."""
        delivered = 0
        for entry in list(self._subscribers.get(event, ())):
            callback = entry()
            if callback is not None:
                callback(payload)
                delivered += 1
        return delivered


bus = EventBus()
"""The process-wide bus the handlers publish to."""
