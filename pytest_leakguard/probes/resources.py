"""Resource probes: file descriptors, threads, asyncio tasks, child processes.

Their unit is ``"resources"``: any sustained growth is a leak, whatever the
byte budget.  Threads and processes that are finishing get a grace period: a
sample that is above the value at :meth:`start` is retried with backoff
(goleak does the same), so a thread that ends a moment after the test is not
counted.  Each probe can :meth:`explain` what it found (one line per resource;
the runner groups equal lines): what a descriptor
refers to, a thread's name, target and where it was started, a task's
coroutine and where it waits, a process's command line.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, Callable, cast

from ..settle import refill
from .patching import Patch

GRACE_DELAYS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16)
"""Backoff (seconds) while a thread or process count is above its starting value."""


IGNORE_KINDS = {"fd": "fds", "thread": "threads", "task": "tasks", "process": "processes"}
"""Suppression kinds (``--leakguard-ignore=thread:poller-*``) and the probe each applies to."""


def _ignored(text: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(text, pattern) for pattern in patterns)


FUTILE_WAITS = 2
"""Grace periods in a row in which the count did not fall, after which a test waits no more."""


class Grace:
    """The wait for threads or processes that are finishing while the count is above
    ``baseline`` (the count at the probe's start; also used by the ``malloc`` probe).

    After :data:`FUTILE_WAITS` waits in a row in which the count did not fall (a leak of
    one thread or process per run: the new one never ends), the test waits no more: each
    of its runs would pay the whole grace period (0.3 s) for nothing.
    """

    def __init__(self, baseline: int) -> None:
        self.baseline = baseline
        self.futile = 0

    def count(self, count: Callable[[], int]) -> int:
        """``count()``, after the grace period if it is above the baseline."""
        value = first = count()
        if value <= self.baseline or self.futile >= FUTILE_WAITS:
            return value
        for delay in GRACE_DELAYS:
            time.sleep(delay)
            value = count()
            if value <= self.baseline:
                break
        self.futile = self.futile + 1 if value >= first else 0
        return value


class _SinceStart:
    """A resource probe that remembers what was there at :meth:`start`, to describe what
    is new; ``ignore`` holds the patterns of what it does not count."""

    unit = "resources"

    def __init__(self) -> None:
        self._before: set[int] = set()
        self.ignore: Sequence[str] = ()

    def stop(self) -> None:
        """Forget the starting set."""
        self._before = set()


class FdsProbe(_SinceStart):
    """Open file descriptors of the process (files, sockets, pipes); ``ignore``: patterns
    of descriptor targets not counted (``/dev/shm/*``, ``socket:*``)."""

    name = "fds"

    def start(self) -> None:
        """Remember which descriptors were open, to describe the new ones."""
        self._before = set(_open_fds())

    def sample(self) -> int:
        """Return the number of open descriptors (minus the ignored ones)."""
        fds = _open_fds()
        if not self.ignore:
            return len(fds)
        return sum(1 for fd in fds if not _ignored(_target(fd), self.ignore))

    def explain(self) -> list[str]:
        """Describe the descriptors opened since :meth:`start` and still open."""
        new = sorted(set(_open_fds()) - self._before)
        sockets = _socket_addresses()
        lines = []
        for fd in new:
            target = _target(fd)
            if not target or _ignored(target, self.ignore):
                continue  # closed meanwhile (the directory listing's own descriptor)
            if target.startswith("socket:"):
                target = sockets.get(fd, target)
            lines.append(f"fd -> {target}")
        return lines


def _target(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _open_fds() -> list[int]:
    if sys.platform.startswith("linux"):
        return [int(name) for name in os.listdir("/proc/self/fd")]
    import psutil

    return [f.fd for f in psutil.Process().open_files()]


def _socket_addresses() -> dict[int, str]:
    import psutil

    try:
        connections = psutil.Process().net_connections(kind="all")
    except (psutil.Error, AttributeError, OSError):
        return {}
    found = {}
    for conn in connections:
        local = ":".join(map(str, conn.laddr)) if conn.laddr else ""
        remote = ":".join(map(str, conn.raddr)) if conn.raddr else ""
        text = f"socket {conn.type.name} {local}" + (f" -> {remote}" if remote else "")
        found[conn.fd] = text + (f" ({conn.status})" if conn.status != "NONE" else "")
    return found


class ThreadsProbe:
    """Live Python threads.

    While the probe runs, ``threading.Thread.start`` records where each thread
    was started, so a leaked thread can be traced to the line that started it.
    """

    name = "threads"
    unit = "resources"

    def __init__(self) -> None:
        self._grace = Grace(0)
        self._before: set[int] = set()
        self._sites: weakref.WeakKeyDictionary[threading.Thread, str] = weakref.WeakKeyDictionary()
        self._patch: Patch | None = None
        self.ignore: Sequence[str] = ()
        """Patterns of thread names not counted (``ThreadPoolExecutor-*``)."""

    def _count(self) -> int:
        if not self.ignore:
            return threading.active_count()
        return sum(1 for t in threading.enumerate() if not _ignored(t.name, self.ignore))

    def start(self) -> None:
        """Record the live threads and start recording where new ones start."""
        self._grace = Grace(self._count())
        self._before = {id(t) for t in threading.enumerate()}
        sites = self._sites

        def start(original: Callable[..., None], thread: threading.Thread) -> None:
            frame = sys._getframe(2)  # the caller of the patched start
            sites[thread] = f"{frame.f_code.co_filename}:{frame.f_lineno}"
            original(thread)

        self._patch = Patch(threading.Thread, "start", start)

    def sample(self) -> int:
        """Return the number of live threads, after a grace period for finishing ones."""
        count = self._grace.count(self._count)
        # The dict behind the sites, which each run's threads enter and leave: its table
        # would otherwise grow on some run, once.
        refill(cast(Any, self._sites).data)  # ``data``: not in typeshed
        return count

    def stop(self) -> None:
        """Restore ``Thread.start`` (unless replaced again since, see :class:`Patch`)."""
        if self._patch is not None:
            self._patch.undo()
            self._patch = None

    def explain(self) -> list[str]:
        """Name, target and start site of the threads started since :meth:`start`."""
        new = [
            t
            for t in threading.enumerate()
            if id(t) not in self._before and not _ignored(t.name, self.ignore)
        ]
        lines = []
        for thread in new:
            target = getattr(thread, "_target", None)
            what = getattr(target, "__qualname__", None) or type(thread).__qualname__
            site = self._sites.get(thread, "unknown site")
            daemon = ", daemon" if thread.daemon else ""
            lines.append(f"thread {thread.name!r}{daemon}: runs {what}, started at {site}")
        return lines


def _pending_tasks() -> Iterable[Any]:
    tasks = sys.modules.get("asyncio.tasks")
    if tasks is None:
        return ()
    found: list[Any] = []
    for name in ("_all_tasks", "_scheduled_tasks", "_eager_tasks"):
        registry = getattr(tasks, name, None)
        if registry is not None:
            found.extend(task for task in list(registry) if not task.done())
    return found


class TasksProbe(_SinceStart):
    """asyncio tasks that are not done, in any event loop (running or not); ``ignore``:
    patterns of coroutine names not counted (``*.heartbeat``)."""

    name = "tasks"

    def _tasks(self) -> list[Any]:
        return [
            task
            for task in _pending_tasks()
            if not self.ignore or not _ignored(_coroutine_name(task), self.ignore)
        ]

    def start(self) -> None:
        """Remember the pending tasks."""
        self._before = {id(t) for t in self._tasks()}

    def sample(self) -> int:
        """Return the number of pending tasks."""
        return len(self._tasks())

    def explain(self) -> list[str]:
        """Coroutine and suspension point of each task created since :meth:`start`."""
        lines = []
        new = [t for t in self._tasks() if id(t) not in self._before]
        for task in new:
            coro = task.get_coro()
            name = _coroutine_name(task)
            frame = getattr(coro, "cr_frame", None)
            where = f" waiting at {frame.f_code.co_filename}:{frame.f_lineno}" if frame else ""
            lines.append(f"task: coroutine {name}{where}")
        return lines


def _coroutine_name(task: Any) -> str:
    coro = task.get_coro()
    return str(getattr(coro, "__qualname__", repr(coro)))


class ProcessesProbe:
    """Running child processes started with ``subprocess`` or ``multiprocessing``.

    While the probe runs, ``subprocess.Popen`` records the processes it
    starts; a sample counts those still running (``poll()``), plus
    ``subprocess``'s own list of dropped-but-running children and
    ``multiprocessing``'s live children.  No scan of the system's process
    table: that costs milliseconds per sample on a busy machine.
    """

    name = "processes"
    unit = "resources"

    def __init__(self) -> None:
        self._grace = Grace(0)
        self._started: weakref.WeakSet[Any] = weakref.WeakSet()
        self._patch: Patch | None = None
        self.ignore: Sequence[str] = ()
        """Patterns of command lines not counted (``*celery worker*``)."""

    def _running(self) -> list[Any]:
        subprocess = sys.modules.get("subprocess")
        dropped = getattr(subprocess, "_active", None)
        running = []
        if self._started or dropped:  # most tests start no process: skip the bookkeeping
            found = {id(p): p for p in list(self._started) if p.returncode is None}
            found.update((id(p), p) for p in list(dropped or []))
            running = [p for p in found.values() if p.poll() is None]
        process = sys.modules.get("multiprocessing.process")
        if getattr(process, "_children", None):  # only then can active_children() find any
            running.extend(sys.modules["multiprocessing"].active_children())
        if self.ignore:
            running = [p for p in running if not _ignored(_command(p), self.ignore)]
        return running

    def start(self) -> None:
        """Count the running children and start recording new ones."""
        import subprocess

        started = self._started

        def init(original: Callable[..., None], popen: Any, *args: Any, **kwargs: Any) -> None:
            original(popen, *args, **kwargs)
            started.add(popen)

        self._patch = Patch(subprocess.Popen, "__init__", init)
        self._grace = Grace(len(self._running()))

    def sample(self) -> int:
        """Return the number of running children, after a grace period for finishing ones."""
        return self._grace.count(lambda: len(self._running()))

    def stop(self) -> None:
        """Restore ``Popen.__init__`` (unless replaced again since, see :class:`Patch`)."""
        if self._patch is not None:
            self._patch.undo()
            self._patch = None

    def explain(self) -> list[str]:
        """The command line of each child still running."""
        return [f"process: {_command(child)}" for child in self._running()]


def _command(child: Any) -> str:
    """A child's command line (a multiprocessing child: its class and name)."""
    args = getattr(child, "args", None)
    if isinstance(args, (list, tuple)):
        return " ".join(map(str, args))
    if args is not None:
        return str(args)
    return f"{type(child).__name__} {getattr(child, 'name', '')}".strip()
