"""Deep probes: say where leaked memory is allocated and who keeps it alive.

They run only for a test already judged a leak, over a few extra runs:

* allocation sites: two ``tracemalloc`` snapshots (25 frames) compared by
  traceback, grouped by the innermost frame in the user's code;
* growing types: live gc-tracked objects counted by type (``objgraph``'s
  ``typestats`` when installed);
* holders: containers reachable from a module global (lists, dicts, sets,
  deques, ``lru_cache`` wrappers, the ``atexit`` registry) whose size grows
  from run to run, printed as a path such as ``module shop.cache . _CACHE (dict)``;
* a back-reference chain (``objgraph.find_backref_chain``) from one new object
  of the top growing type to a module, when objgraph is installed, and its
  back-reference graph as a Graphviz file (``--leakguard-graph-dir``);
* bytes per run by type (``pympler``'s object list), when pympler is installed.
"""

from __future__ import annotations

import collections
import gc
import importlib
import io
import os
import shutil
import subprocess
import sys
import tracemalloc
import types
from collections.abc import Callable, Iterator
from typing import Any

from .frames import is_user_frame, machinery, short, source
from .settle import thawed
from .stopwatch import Stopwatch
from .tracing import Tracing

FRAMES = 25
MAX_SITES = 10
MAX_TYPES = 10
MAX_HOLDERS = 5
_HOLDER_DEPTH = 5
_LEAVES = (
    str,
    bytes,
    int,
    float,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
)
_OWN_TYPES = {"tracemalloc.Snapshot", "tracemalloc._Traces", "collections.Counter"}
_SKIP_MODULES = ("pytest_leakguard", "_pytest", "pluggy", "objgraph", "pympler", "psutil")


class Explainer:
    """Observe the process before and after a few more runs of a leaking test.

    The runs happen in the caller, between :meth:`before` and :meth:`after`, so
    that the test's allocations never have a frame in this module, and this
    module's own allocations (the observations) can be told apart by theirs.
    A :class:`~pytest_leakguard.deep.DeepProbe`.
    """

    delay = 0
    """Runs made before :meth:`before` (see :class:`~pytest_leakguard.deep.DeepProbe`)."""

    def __init__(self, rootdir: str, graph: str | None = None) -> None:
        self.rootdir = rootdir
        self.graph = graph
        """Where to write the back-reference graph, without extension (``None``: nowhere)."""
        self.notes: list[str] = []
        self.stopwatch = Stopwatch()
        self._tracing: Tracing | None = None
        self._absorbed = 0
        self._snapshot: tracemalloc.Snapshot | None = None
        self._types: collections.Counter[str] = collections.Counter()
        self._sizes: dict[int, int] = {}
        self._paths: dict[int, str] = {}
        self._heap: dict[int, None] | None = None
        """Ids of the objects in pympler's list at :meth:`before` (``None``: no pympler)."""

    def before(self, absorb: Callable[[], object] | None = None) -> bool:
        """Start deep tracing and record the state after settling (True: runs wanted).

        ``absorb`` (one more run of the test, settled) is called twice when tracing
        restarts: before the walks, so that they see what a run of the explanation
        leaves behind, and once tracing has restarted, before the snapshot: an object
        the test replaces on every run (a "last result" global, a handler's last
        records) was allocated untraced before the restart, and its traced successor
        would otherwise look like growth.  The walks count that second run.
        """
        # Imported now, not between the observations: imports fill sys.modules and caches.
        _optional("objgraph")
        _optional("pympler.muppy")
        self._tracing = tracing = Tracing()
        restart = tracing.saved < FRAMES
        if restart:
            # Walked untraced: traced with 25 frames, each of the walks' many short-lived
            # allocations records a traceback (seconds on a heap of a million objects).
            tracing.pause()
            if absorb is not None:
                # The walks see what a run of the explanation leaves (its log records, its
                # last result), as the walks after the runs do, not what the check's runs left.
                absorb()
        # Walk first: reading an instance's __dict__ creates it (Python 3.11+), and
        # those dicts must not count as growth.
        self._sizes, self._paths = _holder_sizes()
        self._types = _type_counts()
        # What exists now exists at the second summary too, and what is made from
        # here on is left out of it.
        self._heap = _heap_ids()
        if restart:
            tracing.deepen(FRAMES)
            if absorb is not None:
                absorb()
                self._absorbed = 1  # a run the walks saw but the snapshot did not
        self._snapshot = tracemalloc.take_snapshot()
        return True

    def abort(self) -> None:
        """Stop deep tracing after runs that did not finish (an interruption)."""
        self._snapshot = None
        self._restore_tracing()

    def _restore_tracing(self) -> None:
        if self._tracing is not None:
            self._tracing.restore()

    def after(self, runs: int, complete: bool = True) -> dict[str, Any]:
        """Compare with :meth:`before` after ``runs`` more runs (settled); JSON-able result.

        ``complete``: whether every run the driver planned passed (the result holds either way).
        """
        assert self._snapshot is not None, "before() was not called"
        # Count and walk first: the steps below fill caches (linecache) that would count.
        types_after = _type_counts()
        try:
            snapshot = tracemalloc.take_snapshot()
        finally:
            self._restore_tracing()
        runs = max(runs, 1)
        walked = runs + self._absorbed  # the runs between the two walks
        growing = _growing_types(self._types, types_after, walked)
        sizes_by_type = None
        if self._heap is not None:
            # Before the walk (it creates instance dicts); our own objects left out.
            ours = _ids_within([self._heap, types_after, growing], strings=True)
            ours.update(_ids_within([self._snapshot, snapshot], strings=False))
            sizes_by_type = _new_by_type(self._heap, ours, walked, growing)
            del ours
        # Walked with deep tracing off: the walk allocates a lot, and traced it is slow.
        sizes, paths = _holder_sizes()
        holders = _growing_holders(self._sizes, self._paths, sizes, paths, walked)
        own = tracemalloc.Filter(False, __file__, all_frames=True)
        sites = _sites(
            self._snapshot.filter_traces([own]), snapshot.filter_traces([own]), self.rootdir, runs
        )
        self._snapshot = None
        del snapshot
        found: dict[str, Any] = {}
        chain = _chain(
            _chain_target(growing), self.notes, _newest_held(holders, growing), self.graph, found
        )
        result: dict[str, Any] = {
            "runs": runs,
            "sites": sites,
            "types": growing,
            "holders": holders,
            "chain": chain,
            "notes": self.notes,
        }
        if sizes_by_type is not None:
            result["sizes"] = sizes_by_type
        else:
            self.notes.append(
                "no bytes per run by type: pympler, a dependency, is missing (pip install pympler)"
            )
        if self.graph is not None:
            result["graph"] = found.get("graph")
        self.stopwatch.record(result)
        return result


def grown_sites(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, rootdir: str
) -> set[str]:
    """``"file:line"`` of the allocation sites (as :func:`_sites` finds them) that grew."""
    return {f"{site['file']}:{site['line']}" for site in _sites(before, after, rootdir, 1)}


def _sites(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, rootdir: str, runs: int
) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, int], dict[str, Any]] = {}
    for stat in after.compare_to(before, "traceback"):
        if stat.size_diff <= 0:
            continue
        frames = [f for f in stat.traceback if not machinery(f.filename)]
        if not frames:
            continue
        # tracemalloc lists the oldest frame first: the site is the innermost user frame.
        user = [f for f in frames if is_user_frame(f.filename, rootdir)]
        if not user:
            continue  # pytest's own machinery, seen through contextlib and the like
        site = user[-1]
        key = (site.filename, site.lineno)
        entry = grouped.setdefault(
            key,
            {
                "file": short(site.filename, rootdir),
                "line": site.lineno,
                "code": source(site.filename, site.lineno),
                "size_per_run": 0.0,
                "count_per_run": 0.0,
                "traceback": [
                    f"{short(f.filename, rootdir)}:{f.lineno}: {source(f.filename, f.lineno)}"
                    for f in frames
                ],
                "called_from": list(
                    dict.fromkeys(
                        f"{short(f.filename, rootdir)}:{f.lineno}: {source(f.filename, f.lineno)}"
                        for f in user[:-1]
                        if (f.filename, f.lineno) != key
                    )
                ),
            },
        )
        entry["size_per_run"] += stat.size_diff / runs
        entry["count_per_run"] += stat.count_diff / runs
    ordered = sorted(grouped.values(), key=lambda e: -float(e["size_per_run"]))
    return ordered[:MAX_SITES]


_OPTIONAL: dict[str, Any] = {}


def _optional(name: str) -> Any:
    """The module ``name``, or ``None`` if it is not installed: tried once per process.

    A failed import goes through every import hook again, and pytest's assertion
    rewriter fills ``fnmatch``'s and ``re``'s caches on the way: between the two
    observations of a leak that looked like two growing containers.
    """
    if name not in _OPTIONAL:
        try:
            _OPTIONAL[name] = importlib.import_module(name)
        except ImportError:
            _OPTIONAL[name] = None
    return _OPTIONAL[name]


def _type_counts() -> collections.Counter[str]:
    objgraph = _optional("objgraph")
    if objgraph is None:
        counts: collections.Counter[str] = collections.Counter()
        for obj in gc.get_objects():
            cls = type(obj)
            counts[f"{cls.__module__}.{cls.__qualname__}"] += 1
        return counts
    return collections.Counter(objgraph.typestats(shortnames=False))


def _growing_types(
    before: collections.Counter[str], after: collections.Counter[str], runs: int
) -> list[dict[str, Any]]:
    grown: list[dict[str, Any]] = [
        {"type": name.removeprefix("builtins."), "count_per_run": (after[name] - n0) / runs}
        for name in after
        if after[name] - (n0 := before.get(name, 0)) >= runs / 2 and name not in _OWN_TYPES
    ]
    grown.sort(key=lambda e: -float(e["count_per_run"]))
    return grown[:MAX_TYPES]


def _size(obj: Any) -> int | None:
    if isinstance(obj, (list, dict, set, frozenset, collections.deque, collections.OrderedDict)):
        return len(obj)
    # Check the type before any attribute: some objects (ctypes.cdll) run code on getattr.
    if type(obj).__name__ == "_lru_cache_wrapper":
        currsize: int = obj.cache_info().currsize
        return currsize
    return None


def _bound(obj: Any) -> int | None:
    """The most entries ``obj`` keeps, when it is bounded by construction (``None``: no bound).

    An ``lru_cache`` with a ``maxsize`` evicts its oldest entry, a ``deque`` with a
    ``maxlen`` its first: neither grows past it.
    """
    if isinstance(obj, collections.deque):
        return obj.maxlen
    if type(obj).__name__ == "_lru_cache_wrapper":
        maxsize: int | None = obj.cache_info().maxsize
        return maxsize
    return None


def holder_size(path: str) -> tuple[int, int | None] | None:
    """The entries now in the holder at ``path`` and its bound (``None``: it is gone)."""
    obj = _find(path)
    size = _size(obj) if obj is not None else None
    return None if size is None else (size, _bound(obj))


def gaining_every_run(
    run_once: Callable[[], object], settle: Callable[[], None], runs: int
) -> list[dict[str, Any]]:
    """Containers reachable from a module global that gain entries in each of ``runs`` runs.

    Cheap enough for a test that was judged clean: the heap is walked twice (before
    and after the first run); the few containers that grew are then looked up by
    their path after each further run.  A container with a bound (an ``lru_cache``'s
    ``maxsize``, a ``deque``'s ``maxlen``) is left out: it cannot grow for ever.
    ``run_once`` returns ``None`` when the run passed; a run that did not ends the
    check with nothing found.
    """
    sizes, paths = _holder_sizes()
    if run_once() is not None:
        return []
    settle()
    after, paths_after = _holder_sizes()
    grown = {
        path: (sizes[key], size)
        for key, size in after.items()
        if paths.get(key) == (path := paths_after[key]) and size > sizes[key]
    }
    del sizes, paths, after, paths_after
    for _ in range(runs - 1):
        if not grown:
            return []
        if run_once() is not None:
            return []
        settle()
        for path, (first, last) in list(grown.items()):
            now = holder_size(path)
            if now is None or now[0] <= last:
                del grown[path]
            else:
                grown[path] = (first, now[0])
    found: list[dict[str, Any]] = [
        {"path": path, "growth_per_run": (last - first) / runs, "example": _example(_find(path))}
        for path, (first, last) in grown.items()
        if (now := holder_size(path)) is not None and now[1] is None
    ]
    found.sort(key=lambda h: -float(h["growth_per_run"]))
    return found[:MAX_HOLDERS]


def _children(obj: Any) -> Iterator[tuple[str, Any]]:
    """Named references a holder path can follow: attributes and dict entries."""
    namespace: Any
    if isinstance(obj, (types.ModuleType, type)):
        namespace = vars(obj)
    elif isinstance(obj, dict):
        namespace = obj
    else:
        try:
            namespace = getattr(obj, "__dict__", None)
        except Exception:  # a user's __getattr__ may raise anything
            return
    if not isinstance(namespace, (dict, types.MappingProxyType)):
        return
    for key, value in list(namespace.items()):
        if isinstance(key, str) and not (key.startswith("__") and key.endswith("__")):
            yield key, value


def _holder_sizes() -> tuple[dict[int, int], dict[int, str]]:
    """Size and path of every container reachable in a few steps from a module global.

    Kept as two flat dicts of ints and strings: the observation itself creates
    no gc-tracked objects that would show up as growing types.
    """
    sizes: dict[int, int] = {}
    paths: dict[int, str] = {}
    seen: set[int] = set()
    modules = [
        (name, module)
        for name, module in list(sys.modules.items())
        if isinstance(module, types.ModuleType) and not name.startswith(_SKIP_MODULES)
    ]
    for name, module in modules:
        queue: list[tuple[str, Any, int]] = [(f"module {name}", module, 0)]
        while queue:
            path, obj, depth = queue.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            size = _size(obj)
            if size is not None:
                sizes[id(obj)] = size
                paths[id(obj)] = f"{path} ({type(obj).__name__})"
            if depth >= _HOLDER_DEPTH:
                continue
            for key, child in _children(obj):
                # Modules are walked from sys.modules, each under its own name.
                if not isinstance(child, (*_LEAVES, types.ModuleType)):
                    queue.append((f"{path} . {key}", child, depth + 1))
    atexit = sys.modules.get("atexit")
    if atexit is not None:
        sizes[id(atexit)] = atexit._ncallbacks()
        paths[id(atexit)] = "the atexit registry (atexit.register)"
    return sizes, paths


def _find(path: str) -> Any:
    """The object at a holder path, to show an example of what it holds."""
    words = path.rsplit(" (", 1)[0].split(" . ")
    if not words[0].startswith("module "):
        return None
    obj: Any = sys.modules.get(words[0][len("module ") :])
    for key in words[1:]:
        namespace = obj if isinstance(obj, dict) else getattr(obj, "__dict__", {})
        try:
            obj = namespace[key]
        except (KeyError, TypeError):
            return None
    return obj


def _example(obj: Any) -> str:
    try:
        if isinstance(obj, dict) and obj:
            key = next(reversed(obj))
            return f"[key {_brief(key)}] -> {_brief(obj[key])}"
        if isinstance(obj, (list, collections.deque)) and obj:
            return f"[{len(obj) - 1}] -> {_brief(obj[-1])}"
    except Exception:  # a user's container may do anything; the example is optional
        return ""
    return ""


def _brief(value: Any) -> str:
    text = repr(value) if isinstance(value, (str, int, float, bytes)) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _growing_holders(
    sizes_before: dict[int, int],
    paths_before: dict[int, str],
    sizes: dict[int, int],
    paths: dict[int, str],
    runs: int,
) -> list[dict[str, Any]]:
    holders: list[dict[str, Any]] = []
    for key, size in sizes.items():
        # At least two more entries: one entry is a cache our own observation filled.
        if paths_before.get(key) != paths[key] or size - sizes_before[key] < 2:
            continue
        growth = (size - sizes_before[key]) / runs
        holders.append({"path": paths[key], "growth_per_run": growth})
    holders.sort(key=lambda h: -float(h["growth_per_run"]))
    del holders[MAX_HOLDERS:]
    for holder in holders:
        container = _find(holder["path"])
        holder["example"] = _example(container)
        bound = _bound(container) if container is not None else None
        if bound is not None:
            holder["size"] = _size(container)
            holder["bound"] = bound
    return holders


_GENERIC = {"dict", "list", "tuple", "set", "weakref.ReferenceType", "cell", "function"}


def _chain_target(growing: list[dict[str, Any]]) -> str | None:
    """The type to chase: the first growing type that says more than ``dict``."""
    steady = [e for e in growing if e["count_per_run"] >= 1]
    for entry in steady:
        if entry["type"] not in _GENERIC and not str(entry["type"]).startswith(_SKIP_MODULES):
            return str(entry["type"])
    return str(steady[0]["type"]) if steady else None


def _newest_held(holders: list[dict[str, Any]], growing: list[dict[str, Any]]) -> Any:
    """The newest entry of the top holder, if it is of a growing type: the best target.

    The newest object of a growing type anywhere may be pytest's (a request's bound
    method); the newest entry of a growing module-level container is the leak's.
    """
    names = {str(entry["type"]) for entry in growing}
    for holder in holders:
        container = _find(holder["path"])
        try:
            if isinstance(container, dict) and container:
                item = container[next(reversed(container))]
            elif isinstance(container, (list, collections.deque)) and container:
                item = container[-1]
            else:
                continue
        except Exception:  # a user's container may do anything
            continue
        cls = type(item)
        if f"{cls.__module__}.{cls.__qualname__}".removeprefix("builtins.") in names:
            return item
    return None


def _chain(
    type_name: str | None,
    notes: list[str],
    preferred: Any = None,
    graph: str | None = None,
    found: dict[str, Any] | None = None,
) -> str | None:
    """The chain as text; with ``graph``, the graph's paths go into ``found["graph"]``."""
    if type_name is None and preferred is None:
        if graph is not None:
            notes.append("no back-reference graph: no new object of a growing type to start from")
        return None
    objgraph = _optional("objgraph")
    if objgraph is None:
        notes.append(
            "no back-reference chain: objgraph, a dependency, is missing (pip install objgraph)"
        )
        return None
    if preferred is not None:
        target = preferred
    else:
        objects = objgraph.by_type(type_name)
        if not objects:
            return None
        target = objects[-1]
        del objects
    # Referrers in the frozen generation are invisible to gc.get_referrers.
    with thawed():
        chain = objgraph.find_backref_chain(target, objgraph.is_proper_module, max_depth=12)
        if graph is not None and found is not None:
            found["graph"] = _write_graph(objgraph, target, chain, graph, notes)
    if len(chain) < 2:
        return None
    links = [_describe_link(parent, child) for parent, child in zip(chain, chain[1:])]
    return " -> ".join([*links, type(target).__name__])


def _describe_link(parent: Any, child: Any) -> str:
    name = type(parent).__name__
    if isinstance(parent, types.ModuleType):
        return f"module {parent.__name__}"
    if isinstance(parent, dict):
        for key, value in parent.items():
            if value is child:
                return f"{name}[{_brief(key)}]"
    if isinstance(parent, (list, tuple)):
        for index, value in enumerate(parent):
            if value is child:
                return f"{name}[{index}]"
    return name


_GRAPH_DEPTH = 8
_MAX_NAME = 120


def graph_name(nodeid: str) -> str:
    """A file name (no extension) for a test's graph: ``tests_test_a.py__test_b_1-2_``."""
    import hashlib
    import re

    name = re.sub(r"[^A-Za-z0-9_.-]", "_", nodeid.replace("::", "__")).strip(".")
    if len(name) > _MAX_NAME:  # long parametrize ids: keep them apart with a digest
        digest = hashlib.sha1(nodeid.encode("utf-8")).hexdigest()[:10]
        name = f"{name[: _MAX_NAME - 11]}-{digest}"
    return name or "test"


def _write_graph(
    objgraph: Any, target: Any, chain: list[Any], base: str, notes: list[str]
) -> dict[str, str | None] | None:
    """Write ``base.dot`` (objgraph's back-reference graph), and ``base.svg`` when ``dot`` runs.

    Deep enough to reach the module the chain found (``chain``: ours, not drawn).
    """
    stream = io.StringIO()
    depth = max(3, min(len(chain), _GRAPH_DEPTH))
    try:
        objgraph.show_backrefs(
            [target],
            max_depth=depth,
            too_many=10,
            # Every function of a module refers to its globals: drawn, they hide the path.
            filter=lambda obj: not isinstance(obj, (types.FrameType, types.FunctionType)),
            extra_ignore=[id(stream), id(chain)],
            output=stream,
        )
        os.makedirs(os.path.dirname(base) or ".", exist_ok=True)
        with open(base + ".dot", "w", encoding="utf-8") as file:
            file.write(stream.getvalue())
    except Exception as exc:  # the graph is a bonus: say why there is none
        notes.append(f"the back-reference graph could not be written: {exc}")
        return None
    svg: str | None = None
    dot = shutil.which("dot")
    if dot is None:
        notes.append("install Graphviz (the dot program) for an SVG of the back-reference graph")
    else:
        try:
            subprocess.run(
                [dot, "-Tsvg", "-o", base + ".svg", base + ".dot"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            svg = base + ".svg"
        except (OSError, subprocess.SubprocessError) as exc:
            notes.append(f"dot could not render the back-reference graph: {exc}")
    return {"dot": base + ".dot", "svg": svg}


def _heap_ids() -> dict[int, None] | None:
    """Ids of the objects in pympler's object list (``None`` without pympler).

    ``muppy.get_objects`` lists what gc tracks and the strings, bytes and numbers
    those objects hold.  The runner froze the objects that existed before the
    test, so the list holds what the test's runs made.  A dict of ints: untracked
    by gc, it is in no object list and no type count.
    """
    muppy = _optional("pympler.muppy")
    if muppy is None:
        return None
    return dict.fromkeys(map(id, muppy.get_objects()))


_ATOMS = ("builtins.str", "builtins.bytes", "builtins.int", "builtins.float")
"""Types gc does not track: only pympler's list sees them grow."""


def _new_by_type(
    before: dict[int, None], exclude: dict[int, None], runs: int, growing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Objects in pympler's list now and not at :func:`_heap_ids`, by type, per run.

    For the ``growing`` types (whose live count grew) and for strings, bytes and
    numbers with at least one new object per run; largest first.  New objects,
    not the difference of two counts: objects freed meanwhile (a cache cleared)
    would hide as many new ones.  ``exclude``: ids of our own objects.
    """
    from pympler import muppy

    wanted = {str(entry["type"]) for entry in growing}
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for obj in muppy.get_objects():
        # Small ints are the interpreter's, shared: one seen for the first time is not new.
        if id(obj) in before or id(obj) in exclude or (type(obj) is int and -5 <= obj <= 256):
            continue
        cls = type(obj)
        name = f"{cls.__module__}.{cls.__qualname__}"
        counts[name] = counts.get(name, 0) + 1
        sizes[name] = sizes.get(name, 0) + sys.getsizeof(obj, 0)
    grown: list[dict[str, Any]] = [
        {
            "type": name.removeprefix("builtins."),
            "count_per_run": count / runs,
            "size_per_run": sizes[name] / runs,
        }
        for name, count in counts.items()
        if name.removeprefix("builtins.") in wanted or (name in _ATOMS and count >= runs)
    ]
    grown.sort(key=lambda e: -float(e["size_per_run"]))
    return grown[:MAX_TYPES]


def _ids_within(roots: list[Any], strings: bool) -> dict[int, None]:
    """Ids of ``roots`` and of what their containers (and plain instances) hold.

    Types, modules and functions are not entered.  With ``strings`` false,
    strings are left out (a snapshot's file names are the code objects' own).
    """
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if (type(obj) is str and not strings) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj)
            stack.extend(obj.values())
        elif not isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            namespace = getattr(obj, "__dict__", None)
            if isinstance(namespace, dict):
                stack.append(namespace)
    return dict.fromkeys(seen)
