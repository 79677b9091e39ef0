"""Native leaks: which C (or C++, Rust...) frames allocate the memory RSS shows growing.

``tracemalloc`` sees only Python's allocators.  When RSS grows and the Python
heap does not, or when the user asks (``--leakguard-native``), memray tracks
``malloc``, ``mmap`` and friends with native stacks over a few more runs of the
leaking test.  Allocations made during those runs and never freed are grouped
by the innermost native frame that is not the interpreter's, the C library's or
libffi's, and by the innermost Python frame in the user's code (the caller).

memray is imported only here, and only for a leak.  It works on Linux and
macOS; elsewhere the explanation says so.  It does not see memory obtained
through a pointer to ``malloc`` looked up with ``dlsym`` (``ctypes.CDLL(None).malloc``),
nor custom allocators that do not go through the C library.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .frames import is_user_frame, short, source
from .stopwatch import Stopwatch

INSTALL = "pip install pytest-leakguard[memray]"
NOT_INSTALLED = "memray is not installed"
MAX_SITES = 10
_FRAMES = 12
"""Python and native frames kept per site in the JSON report."""

Frame = tuple[str, str, int]
"""(function, file, line), as memray gives them."""

_SYSTEM_PREFIXES = ("Py", "_Py", "ffi_", "_ctypes", "__libc", "_dl_", "__GI_", "operator new")
_SYSTEM_FUNCTIONS = {
    "_call_function_pointer",
    "cfunction_call",
    "cfunction_vectorcall_O",
    "method_vectorcall",
    "malloc",
    "calloc",
    "realloc",
    "free",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "mmap",
    "mmap64",
    "_start",
    "main",
    # the interpreter's allocators, by name for builds without debug information
    "new_arena",
    "allocate_from_new_pool",
    "pymalloc_alloc",
    "list_resize",
    "dictresize",
    "new_keys_object",
}
_SYSTEM_DIRS = (
    "/Objects/",
    "/Python/",
    "/Modules/",
    "/Include/",
    "/Parser/",
    "/sysdeps/",
    "/libffi",
    "/glibc",
    "/memray/",
    "/src/memray",
)


def unavailable() -> str | None:
    """Why memray cannot be used here, or ``None`` when it can (nothing is imported)."""
    if not sys.platform.startswith(("linux", "darwin")):
        return f"memray works on Linux and macOS only, not on {sys.platform}"
    if importlib.util.find_spec("memray") is None:
        return NOT_INSTALLED
    return None


def rss_only(trends: Iterable[Any]) -> bool:
    """Whether RSS or the C heap (``malloc``) grows while the Python heap does not: a
    native leak.

    ``trends`` are :class:`~pytest_leakguard.result.ProbeTrend`; a heap probe
    that was not sampled counts as flat.
    """
    by_probe = {t.probe: t.trend for t in trends}
    heap = [by_probe.get(name) for name in ("heap", "blocks")]
    native = [by_probe.get(name) for name in ("rss", "malloc")]
    return "growing" in native and "growing" not in heap


class NativeExplainer:
    """memray tracking around a few more runs of a leaking test.

    A :class:`~pytest_leakguard.deep.DeepProbe`: the runs happen in the driver,
    between :meth:`before` and :meth:`after`.
    """

    delay = 0

    def __init__(self, rootdir: str, heap_grows: bool = False) -> None:
        self.rootdir = rootdir
        self.heap_grows = heap_grows
        """Whether the Python heap grows too: then an empty result is no mystery."""
        self.notes: list[str] = []
        self.stopwatch = Stopwatch()
        self._directory: str | None = None
        self._tracker: Any = None

    def before(self, absorb: Callable[[], object] | None = None) -> bool:
        """Start tracking; ``False`` (with a note, and no runs) when memray cannot."""
        reason = unavailable()
        if reason is not None:
            hint = (
                f"; install it ({INSTALL}) and the explanation names the C frames that"
                " allocate the memory and the Python lines that call them"
            )
            self.notes.append(
                f"native frames not named: {reason}{hint if reason == NOT_INSTALLED else ''}"
            )
            return False
        import memray

        self._directory = tempfile.mkdtemp(prefix="leakguard-memray-")
        tracker = memray.Tracker(
            os.path.join(self._directory, "runs.bin"),
            native_traces=True,
            follow_fork=False,
        )
        try:
            tracker.__enter__()
        except RuntimeError as exc:  # another tracker is active (memray run, pytest-memray)
            self.notes.append(f"native frames not tracked: memray could not start: {exc}")
            self._cleanup()
            return False
        except BaseException:
            self._cleanup()
            raise
        self._tracker = tracker
        return True

    def after(self, runs: int, complete: bool = True) -> dict[str, Any]:
        """Stop tracking and read what the runs left allocated; JSON-able result
        (under ``native`` in the explanation)."""
        result: dict[str, Any] = {"runs": runs, "sites": [], "notes": self.notes}
        if self._tracker is None:
            return result
        try:
            self._tracker.__exit__(None, None, None)
            self._tracker = None
            import memray

            assert self._directory is not None
            reader = memray.FileReader(os.path.join(self._directory, "runs.bin"))
            try:
                records = [
                    (r.size, r.n_allocations, r.stack_trace(), r.native_stack_trace())
                    for r in reader.get_leaked_allocation_records(merge_threads=True)
                ]
            finally:
                reader.close()
            result["sites"] = native_sites(records, self.rootdir, max(runs, 1))
            if not result["sites"] and self.heap_grows:
                self.notes.append(
                    "memray saw no native allocation outside the interpreter left over by the"
                    " runs: what grows is Python objects (see the tracemalloc sites)"
                )
            elif not result["sites"]:
                self.notes.append(
                    "memray saw no allocation of your code left over by the runs: the memory"
                    " comes from outside malloc's hooks (malloc called through a pointer"
                    " looked up with dlsym, such as ctypes.CDLL(None).malloc, or an allocator"
                    " of its own), or from the interpreter itself"
                )
        finally:
            self._cleanup()
        self.stopwatch.record(result)
        return result

    def abort(self) -> None:
        """Stop tracking after runs that did not finish (an interruption)."""
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tracker is not None:
            self._tracker.__exit__(None, None, None)
            self._tracker = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


def native_sites(
    records: Iterable[tuple[int, int, Sequence[Frame], Sequence[Frame]]],
    rootdir: str,
    runs: int,
) -> list[dict[str, Any]]:
    """Group leaked allocations ``(size, count, python frames, native frames)``, innermost first.

    A record with no native frame outside the interpreter and the C library is
    the interpreter's own allocation (``tracemalloc`` explains those); one with a
    Python stack but no frame of the user's code is pytest's; one allocated fewer
    times than there were runs is a one-time cache, not a leak.  A native thread's
    allocation has no Python stack at all and is kept.
    """
    grouped: dict[tuple[Frame, Frame | None], dict[str, Any]] = {}
    for size, count, python, native in records:
        own = [f for f in native if not _is_system_frame(f)]
        if not own:
            continue
        user = [f for f in python if is_user_frame(f[1], rootdir)]
        if python and not user:
            continue  # allocated under pytest's machinery, not the test's code
        caller = user[0] if user else None
        entry = grouped.setdefault(
            (own[0], caller),
            {
                "function": own[0][0],
                "file": short(own[0][1], rootdir) if own[0][1] != "<unknown>" else None,
                "line": own[0][2] or None,
                "python": _describe(caller, rootdir) if caller else None,
                "size_per_run": 0.0,
                "count_per_run": 0.0,
                "native_stack": [_describe(f, rootdir) for f in native[:_FRAMES]],
                "python_stack": [_describe(f, rootdir) for f in python[:_FRAMES]],
            },
        )
        entry["size_per_run"] += size / runs
        entry["count_per_run"] += count / runs
    # Per site, not per record: memray splits a site by the frames above it.
    kept = [e for e in grouped.values() if e["count_per_run"] >= 1]
    kept.sort(key=lambda e: -float(e["size_per_run"]))
    return kept[:MAX_SITES]


def _is_system_frame(frame: Frame) -> bool:
    function, filename, _ = frame
    if function in _SYSTEM_FUNCTIONS or function.startswith(_SYSTEM_PREFIXES):
        return True
    if function == "<unknown>":
        return True
    if filename in ("<unknown>", ""):
        return False  # a symbol without debug information: the name is all there is
    # A relative path is the interpreter's own source, as its build recorded it.
    return not os.path.isabs(filename) or any(part in filename for part in _SYSTEM_DIRS)


def _describe(frame: Frame, rootdir: str) -> str:
    function, filename, line = frame
    if filename in ("<unknown>", ""):
        return function
    text = f"{short(filename, rootdir)}:{line} in {function}"
    code = source(filename, line) if filename.endswith(".py") else ""
    return f"{text}: {code}" if code else text


def native_lines(native: Mapping[str, Any], top: int = 3) -> list[str]:
    """The short form for the failure message (the JSON report has every site and stack)."""
    runs = native.get("runs", 0)
    sites = list(native.get("sites", []))[:top]
    lines = []
    if sites or "seconds" in native:
        lines.append(f"native allocations left by {runs} more runs (memray, per run):")
    from .units import format_amount

    for site in sites:
        where = site["function"]
        if site.get("file"):
            where += f" at {site['file']}:{site['line']}"
        size = format_amount(site["size_per_run"], "bytes")
        count = format_amount(site["count_per_run"], "count")
        lines.append(f"  {where}: +{size}/run, +{count} allocations/run")
        if site.get("python"):
            lines.append(f"      called from {site['python']}")
    lines.extend(f"note: {note}" for note in native.get("notes", []))
    from .report.text import cost_lines

    return lines + cost_lines(native)
