"""Suppressions of memory growth by allocation site and by object type (pure).

``site:GLOB`` and ``type:GLOB`` items of ``--leakguard-ignore`` (the same
``KIND:GLOB`` syntax as the resource kinds ``thread:``, ``fd:``...) name growth
a test is allowed to have, like LeakSanitizer's ``leak:`` suppressions:

* ``site:`` is matched against every frame of an allocation's traceback: the
  file's absolute path, its path relative to the rootdir or to the ``sys.path``
  entry it was imported from, and its module name (``shop/cache.py``,
  ``*/hypothesis/*``, ``hypothesis.*``);
* ``type:`` is matched against the type of a new object, qualified
  (``shop.models.Receipt``, ``collections.OrderedDict``; builtins without
  their module: ``dict``) and by its bare name (``Receipt``).

A leak is *suppressed* when, for every memory probe that grew, the growth per run
suppressions matched (over a few more runs) covers the growth the probe measured
beyond its budget, but for a share :data:`SLACK` of it (those runs are few, and
one table reallocation more or less lands in them).  Growth of any other probe (``rss``,
resources) is never suppressed by these kinds.  Here only the decision and the
matching live; :mod:`pytest_leakguard.attribution` observes the runs.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("site", "type")
"""The memory suppression kinds (the resource kinds are in ``probes.resources``)."""

MEMORY_PROBES = ("heap", "blocks", "objects")
"""Probes whose growth suppressions can explain; growth of any other probe cannot be."""

SLACK = {"heap": 0.5, "blocks": 0.5, "objects": 0.25}
"""Share of a probe's measured growth per run that suppressions may leave unmatched.

The suppressed growth is observed over 2 runs, the probes' over up to 20: a
container that grows by one entry per run reallocates its table now and then (a
dict's doubles), and those bytes, amortized in the measured growth, are seen
only when a reallocation falls into the observed runs.  Object counts have no
such steps, so they are held to a tighter share."""

_TYPE_GLOB = re.compile(r"[\w.*?\[\]!<>-]+")


def check_pattern(kind: str, pattern: str) -> None:
    """Raise ``ValueError`` (a sentence for the user) unless ``pattern`` is a glob of ``kind``."""
    if not pattern.strip():
        raise ValueError(f"{kind}: needs a glob pattern")
    if pattern != pattern.strip():
        raise ValueError(f"{kind}:{pattern!r} has spaces around the glob")
    depth = 0
    for char in pattern:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    if depth:
        raise ValueError(f"{kind}:{pattern} has an unclosed [ in its glob")
    if kind == "type" and not _TYPE_GLOB.fullmatch(pattern):
        raise ValueError(
            f"type:{pattern} is not a type name glob (letters, digits, _ . and * ? [ ] only)"
        )


@dataclass(frozen=True)
class Suppressions:
    """The ``site:`` and ``type:`` globs in force for one test."""

    sites: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    _compiled: dict[str, re.Pattern[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Compiled now: fnmatch's and re's caches would grow while a test is observed.
        for pattern in (*self.sites, *self.types):
            self._compiled[pattern] = re.compile(fnmatch.translate(pattern))

    def _match(self, name: str, pattern: str) -> bool:
        return self._compiled[pattern].match(name) is not None

    @classmethod
    def from_items(cls, items: Iterable[tuple[str, str]]) -> Suppressions:
        """Keep the ``site``/``type`` pairs of parsed ``--leakguard-ignore`` items."""
        pairs = list(items)
        return cls(
            tuple(p for k, p in pairs if k == "site"), tuple(p for k, p in pairs if k == "type")
        )

    def __bool__(self) -> bool:
        return bool(self.sites or self.types)

    def site_for(self, names: Iterable[str]) -> str | None:
        """The first ``site:`` item matching one of a frame's ``names``, as ``site:GLOB``."""
        names = list(names)
        for pattern in self.sites:
            if any(self._match(name, pattern) for name in names):
                return f"site:{pattern}"
        return None

    def type_for(self, qualified: str) -> str | None:
        """The first ``type:`` item matching a type name (``module.Qualname``), as ``type:GLOB``."""
        name = qualified.removeprefix("builtins.")
        bare = name.rsplit(".", 1)[-1]
        for pattern in self.types:
            if self._match(name, pattern) or self._match(bare, pattern):
                return f"type:{pattern}"
        return None


def module_name(filename: str, paths: Sequence[str]) -> str | None:
    """The dotted module name of a source file, from the longest ``sys.path`` entry holding it."""
    best = ""
    for entry in paths:
        root = os.path.abspath(entry or os.curdir).rstrip(os.sep) + os.sep
        if filename.startswith(root) and len(root) > len(best):
            best = root
    if not best or not filename.endswith(".py"):
        return None
    parts = filename[len(best) : -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def frame_names(filename: str, rootdir: str, paths: Sequence[str]) -> tuple[str, ...]:
    """What a ``site:`` glob is matched against for one frame's file."""
    names = [filename]
    root = rootdir.rstrip(os.sep) + os.sep
    if filename.startswith(root):
        names.append(filename[len(root) :])
    module = module_name(filename, paths)
    if module is not None:
        names.append(module)
        names.append(module.replace(".", os.sep) + ".py")
    return tuple(dict.fromkeys(names))


@dataclass
class Attribution:
    """The growth per run that suppressions matched over a few observed runs."""

    runs: int
    suppressed: dict[str, float] = field(default_factory=dict)
    """Per memory probe: heap bytes, blocks or objects per run matched."""
    by_pattern: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per suppression (``site:GLOB``): ``bytes_per_run`` and ``objects_per_run`` it matched."""


def judge(attribution: Attribution, offending: Sequence[Any]) -> tuple[bool, list[str]]:
    """Whether suppressions explain a leak whose ``offending`` trends (``ProbeTrend``) grew.

    A probe is explained when its measured growth per run minus what suppressions
    matched is within its threshold plus :data:`SLACK` of that growth; the
    ``objects`` count also when the ``heap`` bytes are explained (an object
    reused from a free list has no allocation site to match).  Returns the
    decision and one line per offending probe.
    """
    explained = bool(offending) and attribution.runs > 0
    lines = []
    bytes_explained = False
    # heap first: the objects probe may lean on it.
    for trend in sorted(offending, key=lambda t: t.probe != "heap"):
        if trend.probe not in MEMORY_PROBES or trend.probe not in attribution.suppressed:
            explained = False
            lines.append(f"{trend.probe}: suppressions cannot explain this probe's growth")
            continue
        matched = attribution.suppressed[trend.probe]
        left = trend.growth_per_run - matched
        allowed = (trend.threshold or 0.0) + SLACK[trend.probe] * max(trend.growth_per_run, 0.0)
        ok = left <= allowed
        if trend.probe == "heap":
            bytes_explained = ok
        elif trend.probe == "objects" and bytes_explained and not ok:
            # Objects reused from a free list have no allocation site to match; their
            # memory is in the bytes, which the suppressions explain.
            ok = True
            lines.append("objects: explained with the bytes (objects from free lists)")
            continue
        explained = explained and ok
        lines.append(
            f"{trend.probe}: {matched:+.1f}/run suppressed of {trend.growth_per_run:+.1f}/run"
            f" ({'within' if ok else 'over'} the budget by {max(left, 0.0):.1f}/run)"
        )
    return explained, lines


def used_counts(results: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per suppression used in a run: the tests it suppressed and the bytes per run it matched."""
    used: dict[str, dict[str, float]] = {}
    for data in results:
        for entry in data.get("suppressions") or []:
            counts = used.setdefault(entry["pattern"], {"tests": 0, "bytes_per_run": 0.0})
            counts["tests"] += 1
            counts["bytes_per_run"] += float(entry.get("bytes_per_run", 0.0))
    return dict(sorted(used.items(), key=lambda kv: (-kv[1]["tests"], kv[0])))
