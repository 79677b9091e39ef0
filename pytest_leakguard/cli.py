"""``pytest-leakguard compare OLD NEW``: the baseline comparison outside pytest."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import baseline
from .probes import BUILTIN_PROBES


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 regressions, 2 usage)."""
    parser = argparse.ArgumentParser(
        prog="pytest-leakguard", description="Tools for pytest-leakguard baselines and reports."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser(
        "compare",
        help="compare two baselines or JSON reports; exit 1 on regressions",
        description="Print regressions and improvements of NEW over OLD (baselines or"
        " --leakguard-json reports) and exit 1 if there is a regression.",
    )
    compare.add_argument("old", metavar="OLD", help="the baseline (or report) to compare with")
    compare.add_argument("new", metavar="NEW", help="the newer baseline (or report)")
    compare.add_argument(
        "--fail",
        default=baseline.DEFAULT_RULES,
        metavar="RULES",
        help=f"tolerated increase per probe or unit group (default {baseline.DEFAULT_RULES})",
    )
    compare.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="accept files of incomplete runs (interrupted, a crashed xdist worker)",
    )
    html = commands.add_parser(
        "html",
        help="build the HTML report from a saved JSON report",
        description="Render a --leakguard-json report as the same self-contained HTML page"
        " that --leakguard-html writes.",
    )
    html.add_argument("report", metavar="REPORT.json", help="a --leakguard-json report")
    html.add_argument("-o", "--output", required=True, metavar="OUT.html", help="where to write")
    args = parser.parse_args(argv)
    if args.command == "html":
        return _html(args.report, args.output)
    units = {name: factory().unit for name, factory in BUILTIN_PROBES.items()}
    try:
        rules = baseline.parse_rules(args.fail, units)
    except ValueError as exc:
        parser.error(f"argument --fail: {exc}")
    try:
        old = baseline.load(args.old, args.allow_incomplete)
        new = baseline.load(args.new, args.allow_incomplete)
    except baseline.BaselineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    comparison = baseline.compare(old, new, rules)
    for line in baseline.table(comparison):
        print(line)
    return 1 if comparison.failed else 0


def _html(report: str, output: str) -> int:
    import json

    from .files import write_text
    from .report import html
    from .report.json_report import SCHEMA_VERSION

    try:
        with open(report, encoding="utf-8") as stream:
            payload = json.load(stream)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read JSON report {report}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(payload, dict) or not isinstance(payload.get("tests"), list):
        print(f"error: {report} is not a leakguard JSON report", file=sys.stderr)
        return 2
    if not isinstance(payload.get("version"), int) or payload["version"] > SCHEMA_VERSION:
        print(f"error: {report} has an unknown report version", file=sys.stderr)
        return 2
    write_text(output, html.render(payload))
    print(f"wrote {output}")
    return 0
