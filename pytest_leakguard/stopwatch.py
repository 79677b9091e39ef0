"""What a deep probe's work costs: the explanation's ``seconds`` and ``cpu_seconds``."""

from __future__ import annotations

import time
from typing import Any


class Stopwatch:
    """Wall and CPU time since it was made (a deep probe makes one in ``__init__``)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()

    def record(self, result: dict[str, Any]) -> None:
        """Put the time spent so far in ``result``, in seconds (so the report shows the cost)."""
        result["seconds"] = round(time.perf_counter() - self.started, 3)
        result["cpu_seconds"] = round(time.process_time() - self.cpu_started, 3)
