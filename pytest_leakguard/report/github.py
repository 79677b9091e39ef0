"""GitHub Actions: a Markdown summary of the leaks for the job's page, and an annotation
at each leak's allocating line, shown on the pull request's diff.

Both happen only when ``GITHUB_ACTIONS=true`` (set by the runner), on the controller.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..result import CLEAN, ERROR, INCONCLUSIVE, LEAK, VERDICTS, Status, TestResult
from .json_report import write_text_atomic
from .locations import Finding, findings, repository_root
from .sparkline import sparkline

_WORDS = {status.value: status.word for status in Status if status.word}
"""The status words of the tests a check fails, as pytest's ``-v`` shows them."""
_COMMANDS = {LEAK: "error", INCONCLUSIVE: "warning", ERROR: "warning"}
MAX_CHARTS = 5
"""Charts in the summary at most (the worst leaks): each is a block of the page."""


def active(environ: Mapping[str, str]) -> bool:
    """Whether this run is a GitHub Actions step."""
    return environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """Escape a workflow command's message (GitHub's ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (GitHub's ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    """``::error file=PATH,line=N,title=...::MESSAGE`` for one finding."""
    properties = [f"file={escape_property(finding.path)}"]
    if finding.line is not None:
        properties.append(f"line={finding.line}")
    title = f"leakguard: {_WORDS[finding.status]} {finding.nodeid}"
    properties.append(f"title={escape_property(title)}")
    message = f"{finding.nodeid}: {finding.summary}"
    if finding.holder:
        message += f"\nkept alive by {finding.holder}"
    return f"::{_COMMANDS[finding.status]} {','.join(properties)}::{escape_data(message)}"


def workflow_commands(
    results: Sequence[Mapping[str, Any]], rootdir: Path, environ: Mapping[str, str], start: Path
) -> list[str]:
    """The workflow commands for the run's non-clean verdicts (none outside GitHub Actions).

    Paths are relative to ``GITHUB_WORKSPACE`` (the checkout), where GitHub looks for
    them, or to ``start`` (the directory pytest was started from) without it.
    """
    if not active(environ):
        return []
    workspace = repository_root(environ, "GITHUB_WORKSPACE", start)
    return [annotation(found) for found in findings(list(results), rootdir, workspace)]


def write_summary(
    results: Sequence[Mapping[str, Any]], rootdir: Path, environ: Mapping[str, str], start: Path
) -> str | None:
    """Append the Markdown summary to ``$GITHUB_STEP_SUMMARY``; return its path, if written.

    The file is shared by the job's steps: what earlier steps wrote is kept.  Raises
    ``OSError`` when it cannot be read or written.
    """
    path = environ.get("GITHUB_STEP_SUMMARY", "")
    if not active(environ) or not path or not results:
        return None
    workspace = repository_root(environ, "GITHUB_WORKSPACE", start)
    text = summary(results, findings(list(results), rootdir, workspace))
    try:
        with open(path, encoding="utf-8") as stream:
            previous = stream.read()
    except FileNotFoundError:
        previous = ""
    if previous and not previous.endswith("\n"):
        previous += "\n"
    write_text_atomic(path, previous + text)
    return path


def summary(results: Sequence[Mapping[str, Any]], found: Sequence[Finding]) -> str:
    """The Markdown: the counts, a table of the non-clean tests, a chart per worst leak."""
    counts = dict.fromkeys(VERDICTS, 0)
    for data in results:
        counts[data["verdict"]] = counts.get(data["verdict"], 0) + 1
    parts = [f"{n} {'leaked' if s == LEAK else s}" for s, n in counts.items() if n]
    lines = [f"### pytest-leakguard: {len(results)} checked: {', '.join(parts)}", ""]
    if not found:
        lines.append(f"No leak: every checked test is {CLEAN} or skipped.")
        return "\n".join(lines) + "\n\n"
    lines += [
        "| test | verdict | growth per run | where | kept alive by |",
        "| --- | --- | --- | --- | --- |",
    ]
    by_id = {str(data["nodeid"]): data for data in results}
    for item in found:
        where = f"{item.path}:{item.line}" if item.line is not None else item.path
        holder = _code(item.holder) if item.holder else ""
        trend = _trend(by_id[item.nodeid])
        lines.append(
            f"| {_code(item.nodeid)} | {_WORDS[item.status]} | {_cell(item.summary)} {trend}"
            f" | {_code(where)} | {holder} |"
        )
    leaks = [by_id[item.nodeid] for item in found if item.status == LEAK]
    leaks.sort(key=lambda data: -TestResult.from_dict(data).severity())
    for data in leaks[:MAX_CHARTS]:
        lines += ["", *_chart(data)]
    return "\n".join(lines) + "\n\n"


def _worst(data: Mapping[str, Any]) -> tuple[str, str, list[float]] | None:
    """The offending probe (bytes first), its unit and its samples over every run."""
    offending = sorted(TestResult.from_dict(data).offending, key=lambda t: t.unit != "bytes")
    if not offending:
        return None
    probe = offending[0]
    samples = [float(v) for v in (data.get("samples") or {}).get(probe.probe, [])]
    return (probe.probe, probe.unit, samples) if samples else None


def _trend(data: Mapping[str, Any]) -> str:
    worst = _worst(data)
    return f"`{sparkline(worst[2], width=24)}`" if worst else ""


def _chart(data: Mapping[str, Any]) -> list[str]:
    """A Mermaid line chart of the worst probe, above its first sample, run by run."""
    worst = _worst(data)
    if worst is None:
        return []
    probe, unit, samples = worst
    scale, label = _scale(max((abs(v - samples[0]) for v in samples), default=0.0), unit)
    points = [round((v - samples[0]) / scale, 1) for v in samples if math.isfinite(v)]
    title = f"{data['nodeid']}: {probe}".replace('"', "'")
    return [
        "```mermaid",
        "xychart-beta",
        f'  title "{title}"',
        f'  x-axis "run (warm-up included)" 1 --> {len(points)}',
        f'  y-axis "{probe} above the first run ({label})"',
        f"  line [{', '.join(format(p, 'g') for p in points)}]",
        "```",
    ]


def _scale(largest: float, unit: str) -> tuple[float, str]:
    if unit != "bytes":
        return 1.0, unit
    for factor, label in ((1024.0**2, "MiB"), (1024.0, "KiB")):
        if largest >= 10 * factor:
            return factor, label
    return 1.0, "B"


def _cell(text: str) -> str:
    """Text for a table cell: ``|`` would end the cell, a newline the row."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{_cell(text).replace('`', chr(39))}`"
