"""The words of a result: the failure message, the summary phrase, the explanation's lines.

Everything here renders a :class:`~pytest_leakguard.result.TestResult` (or its
parts) as text; the terminal summary, the JSON report's ``message`` and the HTML
report use it.  The decision (verdict.py) and the result (result.py) render nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..result import CLEAN, ERROR, INCONCLUSIVE, LEAK, SKIPPED, ProbeTrend, TestResult
from ..units import format_amount

HEADS = {
    LEAK: "memory leak: retained memory grows from run to run",
    INCONCLUSIVE: "leak check inconclusive: growth that is neither flat nor sustained",
    ERROR: "leak check error: a re-run of the test failed",
    CLEAN: "no leak",
    SKIPPED: "leak check skipped",
}
"""The first words of each status's message."""


def describe(trend: ProbeTrend) -> str:
    """One line for people: ``heap: +1.0 MiB/run over 20 runs (budget 0 B)``."""
    growth = format_amount(trend.growth_per_run, trend.unit)
    sign = "+" if trend.growth_per_run >= 0 else ""
    line = f"{trend.probe}: {sign}{growth}/run over {trend.runs} runs"
    line += f", grew in {trend.rising_runs} of {trend.runs}"
    if trend.threshold is None:
        return line + " (informative)"
    return line + f" (budget {format_amount(trend.threshold, trend.unit)}/run)"


def runs_phrase(runs: int, warmup: int) -> str:
    """``3 measured runs after 1 warm-up run``."""
    measured = "run" if runs == 1 else "runs"
    warm = "run" if warmup == 1 else "runs"
    return f"{runs} measured {measured} after {warmup} warm-up {warm}"


def message(result: TestResult) -> str:
    """The failure message: the verdict, then one line per probe, then the explanation."""
    head = HEADS[result.status]
    lines = [f"{head} ({runs_phrase(result.runs, result.warmup)})"]
    if result.reason:
        lines.append(result.reason)
    marked = {t.probe for t in result.offending}
    for trend in result.trends:
        prefix = "  > " if trend.probe in marked else "    "
        lines.append(prefix + describe(trend))
    if result.error:
        lines.append(result.error)
    if result.explanation:
        lines.extend(explanation_lines(result.explanation.to_json()))
    return "\n".join(lines)


def summary(result: TestResult) -> str:
    """A short phrase for one summary line: the offending probes' growth per run."""
    if result.status in (ERROR, SKIPPED):
        return result.reason
    shown = result.offending or [t for t in result.trends if t.decisive]
    parts = []
    for trend in shown:
        sign = "+" if trend.growth_per_run >= 0 else ""
        parts.append(f"{trend.probe} {sign}{format_amount(trend.growth_per_run, trend.unit)}/run")
    return ", ".join(parts) + f" ({result.runs} runs)"


def explanation_lines(explanation: Mapping[str, Any], top: int = 3) -> list[str]:
    """The short form of an explanation for the failure message (the JSON has it all)."""
    lines = []
    for probe, found in explanation.get("resources", {}).items():
        lines.append(f"new {probe} still open after the runs:")
        lines.extend(f"  {line}" for line in found)
    if "sites" not in explanation:
        return lines + _native_lines(explanation, top)
    runs = explanation.get("runs", 0)
    lines.append(f"where it is allocated (tracemalloc, growth over {runs} more runs, per run):")
    sites = explanation.get("sites", [])[:top]
    for site in sites:
        size = format_amount(site["size_per_run"], "bytes")
        blocks = format_amount(site["count_per_run"], "count")
        lines.append(f"  {site['file']}:{site['line']}: +{size}/run, +{blocks} blocks/run")
        if site.get("code"):
            lines.append(f"      {site['code']}")
        callers = site.get("called_from", [])
        # The outermost (usually the test) and the nearest caller say the most.
        for caller in dict.fromkeys([*callers[:1], *callers[-1:]]):
            lines.append(f"      called from {caller}")
    if not sites:
        lines.append("  (no growing Python allocation in your code: native memory, see rss)")
    types_ = explanation.get("types", [])[:5]
    if types_:
        growth = ", ".join(
            f"{t['type']} +{format_amount(t['count_per_run'], 'count')}" for t in types_
        )
        lines.append(f"growing types (objects per run): {growth}")
    holders = explanation.get("holders", [])[:top]
    if holders:
        lines.append("who keeps it alive (containers growing per run):")
        for holder in holders:
            example = f" {holder['example']}" if holder.get("example") else ""
            growth = format_amount(holder["growth_per_run"], "count")
            lines.append(f"  {holder['path']}: +{growth}/run{example}")
    sizes = explanation.get("sizes", [])[:5]
    if sizes:
        growth = ", ".join(
            f"{t['type']} +{format_amount(t['size_per_run'], 'bytes')}" for t in sizes
        )
        lines.append(f"growing types by size (pympler, bytes per run): {growth}")
    if explanation.get("chain"):
        lines.append(f"back-reference chain: {explanation['chain']}")
    graph = explanation.get("graph")
    if graph:
        svg = f" (SVG: {graph['svg']})" if graph.get("svg") else ""
        lines.append(f"back-reference graph: {graph['dot']}{svg}")
    lines.extend(f"note: {note}" for note in explanation.get("notes", []))
    lines.extend(cost_lines(explanation))
    return lines + _native_lines(explanation, top)


def cost_lines(explanation: Mapping[str, Any]) -> list[str]:
    """What the deep probes cost, so that a slow explanation is seen (and can be turned off)."""
    seconds, cpu = explanation.get("seconds"), explanation.get("cpu_seconds")
    if not isinstance(seconds, (int, float)):
        return []
    spent = f" ({cpu:.2f} s CPU)" if isinstance(cpu, (int, float)) else ""
    return [f"explained in {seconds:.2f} s{spent} (--leakguard-explain=no to skip)"]


def _native_lines(explanation: Mapping[str, Any], top: int) -> list[str]:
    native = explanation.get("native")
    if not native:
        return []
    from ..native import native_lines

    return native_lines(native, top)
