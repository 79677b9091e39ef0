"""Probes: small objects that sample one quantity after every run of a test.

A probe is cheap to sample and allocates nothing that outlives the sample, so
the harness does not measure itself.  New probes are registered through the
``pytest_leakguard_probes`` hook (see :mod:`pytest_leakguard.hooks`).
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

from .c_heap import MallocProbe
from .memory import BlocksProbe, HeapProbe, ObjectsProbe, RssProbe
from .resources import FdsProbe, ProcessesProbe, TasksProbe, ThreadsProbe


@runtime_checkable
class Probe(Protocol):
    """What the runner needs from a probe."""

    name: str
    unit: str
    """``"bytes"`` (judged against the byte budget), ``"count"`` (blocks, objects: 0 while
    the byte budget is 0) or ``"resources"`` (descriptors, threads...: always 0)."""

    def start(self) -> None:
        """Prepare to sample (called once per checked test, before the first sample)."""

    def sample(self) -> int:
        """Return the current value; called after each run, after garbage collection."""

    def stop(self) -> None:
        """Release what :meth:`start` took (called once, even after an error)."""


ProbeFactory = Callable[[], Probe]

BUILTIN_PROBES: dict[str, ProbeFactory] = {
    "blocks": BlocksProbe,
    "objects": ObjectsProbe,
    "heap": HeapProbe,
    "malloc": MallocProbe,
    "rss": RssProbe,
    "fds": FdsProbe,
    "threads": ThreadsProbe,
    "tasks": TasksProbe,
    "processes": ProcessesProbe,
}
"""The cheap probes, all on by default.  A probe may also have ``explain() -> list[str]``,
called for a leak while the probe is still started, to describe what it found."""

__all__ = [
    "BUILTIN_PROBES",
    "BlocksProbe",
    "FdsProbe",
    "HeapProbe",
    "MallocProbe",
    "ObjectsProbe",
    "Probe",
    "ProbeFactory",
    "ProcessesProbe",
    "RssProbe",
    "TasksProbe",
    "ThreadsProbe",
]
