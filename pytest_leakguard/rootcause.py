"""One root cause, many tests: the root causes of the leaks explained in a session.

A root cause is the top holder and the top allocation site of a leak's
explanation.  The first leak of a root cause is explained in full
(:mod:`pytest_leakguard.deep`); a later one is recognised cheaply
(:meth:`RootCauses.confirm`) and reported in the same group.
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from .explain import FRAMES, grown_sites, holder_size
from .settle import settle
from .tracing import Tracing

ROOT_CAUSE_RUNS = 2
"""Runs in each of which a known root cause's holder must grow for a later leak to join it."""

MAX_ROOT_CAUSES = 10
"""The most recent root causes a later leak is checked against."""


class RootCauses:
    """The root causes of the leaks explained in this session: a holder and an allocation site.

    The first leak of a root cause is explained in full; a later leak whose runs make
    a known root cause's holder grow, with allocations at its site, is confirmed by that
    holder's length and two small snapshots (no heap walk) and reported in its group.
    Kept per process: under xdist each worker explains a root cause once, and the id (a
    digest of the holder and the site) is the same on every worker, so that the reports
    group them all the same.
    """

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, str | None]] = {}

    def add(self, explanation: dict[str, Any], nodeid: str) -> None:
        """Record the root cause an explanation found (its top holder and site), and note
        it in the explanation as ``root_cause``."""
        holders, sites = explanation.get("holders"), explanation.get("sites")
        if not holders:
            return  # a leak no module-level container holds: nothing to recognise it by
        holder = str(holders[0]["path"])
        site = f"{sites[0]['file']}:{sites[0]['line']}" if sites else None
        key = hashlib.sha1(f"{holder}\n{site}".encode()).hexdigest()[:10]
        group = self.groups.setdefault(
            key, {"id": key, "holder": holder, "site": site, "first": nodeid}
        )
        explanation["root_cause"] = dict(group)

    def confirm(
        self, run_once: Callable[[], object], rootdir: str
    ) -> tuple[dict[str, str | None], float] | None:
        """The known root cause of a leak, and its holder's growth per run: over
        :data:`ROOT_CAUSE_RUNS` more runs, its holder grew in each run and its allocation
        site grew.  ``None``: no known root cause did.

        Cheap: the holders' lengths are looked up by path (no heap walk), and the sites
        come from two snapshots of what was allocated since tracing restarted.
        """
        if not self.groups:
            return None
        groups = list(self.groups.values())[-MAX_ROOT_CAUSES:]
        first = [_length(group) for group in groups]
        last = list(first)
        with Tracing(FRAMES):
            before = tracemalloc.take_snapshot()
            for _ in range(ROOT_CAUSE_RUNS):
                if run_once() is not None:
                    return None
                settle()
                for index, group in enumerate(groups):
                    now, previous = _length(group), last[index]
                    grew = now is not None and previous is not None and now > previous
                    last[index] = now if grew else None
            after = tracemalloc.take_snapshot()
        sites = grown_sites(before, after, rootdir)
        del before, after
        for index, group in enumerate(groups):
            end, start = last[index], first[index]
            if end is not None and start is not None and (group["site"] or "") in sites | {""}:
                return group, (end - start) / ROOT_CAUSE_RUNS
        return None


def _length(group: Mapping[str, str | None]) -> int | None:
    found = holder_size(str(group["holder"]))
    return None if found is None else found[0]


_ROOT_CAUSES = pytest.StashKey[RootCauses]()


def root_causes(session: pytest.Session) -> RootCauses:
    """The session's root causes (an in-process pytester session has its own)."""
    return session.stash.setdefault(_ROOT_CAUSES, RootCauses())
