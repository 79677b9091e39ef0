"""The ``leakguard`` section of the terminal summary."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..result import CLEAN, ERROR, INCONCLUSIVE, LEAK, SKIPPED, VERDICTS, Status, TestResult
from ..suppress import used_counts
from ..units import format_amount
from .sparkline import sparkline
from .text import summary


def ordered(
    results: Sequence[Mapping[str, Any]], units: Mapping[str, str] | None = None
) -> list[Mapping[str, Any]]:
    """Leaks first (worst first), then inconclusive, errors, clean, skipped."""
    rank = {status: index for index, status in enumerate(VERDICTS)}

    def key(data: Mapping[str, Any]) -> tuple[int, float, str]:
        # A clean test has no severity: not rebuilt (a compact one has no figures).
        open_ = data["verdict"] not in (CLEAN, SKIPPED)
        severity = TestResult.from_json(data, units).severity() if open_ else 0.0
        return (rank.get(data["verdict"], len(rank)), -severity, data["nodeid"])

    return sorted(results, key=key)


def summary_lines(
    results: Sequence[Mapping[str, Any]],
    verbose: bool,
    shown: Callable[[str], str] = str,
    units: Mapping[str, str] | None = None,
) -> list[tuple[str, dict[str, bool]]]:
    """Lines (with markup) for the summary: one per non-clean test, then the counts.

    Clean and skipped tests get a line of their own only when ``verbose``.  ``shown``
    turns a node id into the form to print (see :func:`cwd_relative`); ``units`` are
    the probes' units (for the compact form of clean tests).
    """
    lines: list[tuple[str, dict[str, bool]]] = []
    for data in ordered(results, units):
        status = Status.parse(data["verdict"])
        if status in (CLEAN, SKIPPED) and not verbose:
            continue
        verdict = TestResult.from_json(data, units)
        line = f"{status.label} {shown(data['nodeid'])} - {summary(verdict)}"
        # Bytes first: they say how much, counts only how many.
        offending = sorted(verdict.offending, key=lambda t: t.unit != "bytes")
        samples = data.get("samples", {}).get(offending[0].probe) if offending else None
        if samples:
            # The shape of the worst probe over every run (warm-up included).
            line += f" {offending[0].probe} {sparkline(samples, width=24)}"
        lines.append((line, {status.colour: True}))
    counts = dict.fromkeys(VERDICTS, 0)
    for data in results:
        counts[data["verdict"]] = counts.get(data["verdict"], 0) + 1
    parts = [f"{counts[s]} {Status.parse(s).counted}" for s in VERDICTS if counts[s]]
    used = used_counts(results)
    suppressed = sum(1 for data in results if data.get("suppressions"))
    if suppressed:
        parts = [f"{p} ({suppressed} suppressed)" if p.endswith(CLEAN) else p for p in parts]
    total = f"{len(results)} checked: " + ", ".join(parts)
    colour = (
        "red" if counts[LEAK] or counts[ERROR] else "yellow" if counts[INCONCLUSIVE] else "green"
    )
    lines.extend((line, {}) for line in root_cause_lines(results, shown))
    lines.append((total, {colour: True, "bold": True}))
    lines.extend((line, {}) for line in suppressions_used(used))
    return lines


def root_cause_lines(
    results: Sequence[Mapping[str, Any]], shown: Callable[[str], str] = str
) -> list[str]:
    """One block per root cause that several leaks share: its holder and site, its tests."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for data in results:
        cause = (data.get("explanation") or {}).get("root_cause")
        if data["verdict"] == LEAK and cause:
            groups.setdefault(cause["id"], []).append(data)
    lines = []
    for members in groups.values():
        if len(members) < 2:
            continue
        cause = members[0]["explanation"]["root_cause"]
        where = f", allocated at {cause['site']}" if cause.get("site") else ""
        head = f"{len(members)} leaks, one root cause ({cause['id']}): {cause['holder']}"
        lines.append(head + where)
        for data in members:
            explained = " (explained)" if "sites" in data["explanation"] else ""
            lines.append(f"  {shown(data['nodeid'])}{explained}")
    return lines


def cwd_relative(nodeid: str, rootpath: Path, invocation_dir: Path) -> str:
    """A node id as pytest's short summary prints it, its path relative to the directory
    pytest was started from, so that it can be pasted back on a command line.

    What ``Config.cwd_relative_nodeid`` does, whose argument became a ``NodeId`` object
    in pytest 9.2.
    """
    if rootpath == invocation_dir:
        return nodeid
    path, sep, rest = nodeid.partition("::")
    return os.path.relpath(rootpath / path, invocation_dir) + sep + rest


def suppressions_used(used: Mapping[str, Mapping[str, float]]) -> list[str]:
    """LeakSanitizer's block: each suppression used, the tests it cleared, bytes per run."""
    if not used:
        return []
    lines = ["Suppressions used:", "  tests  bytes/run  suppression"]
    for pattern, counts in used.items():
        size = format_amount(counts["bytes_per_run"], "bytes")
        lines.append(f"  {int(counts['tests']):5d}  {size:>9}  {pattern}")
    return lines


class _Crash:
    """What pytest's short summary reads from ``longrepr.reprcrash``."""

    def __init__(self, message: str, path: str, lineno: int) -> None:
        self.message = message
        self.path = path
        self.lineno = lineno


class LeakRepr:
    """The failure text of a test that leaked (used as ``report.longrepr``)."""

    def __init__(self, text: str, path: str, lineno: int) -> None:
        self.text = text
        self.reprcrash = _Crash(text.splitlines()[0], path, lineno)

    def toterminal(self, tw: Any) -> None:
        """Write the failure text, the first line in red."""
        head, *rest = self.text.splitlines()
        tw.line(head, red=True, bold=True)
        for line in rest:
            tw.line(line)

    def __str__(self) -> str:
        return self.text
