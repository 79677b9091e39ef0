"""``pytest-leakguard``: compare, merge and render baselines and reports outside pytest.

Exit codes: 0 success; 1 the comparison found a regression (``compare``) or
the inputs conflict (a test in two shards, shards with different settings or
environments); 2 a usage error or an input that cannot be used (missing,
malformed, of an unknown version, or incomplete without ``--allow-incomplete``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from . import __version__, baseline, files, merge
from .probes import BUILTIN_PROBES

OK, FAILED, USAGE = 0, 1, 2

_Command = Callable[[argparse.Namespace, argparse.ArgumentParser], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, commands = _parser()
    name = parser.parse_known_args(argv)[0].command
    position = argv.index(name)
    if position:  # before the subcommand, only --version and --help are known
        parser.error(f"unrecognized arguments: {' '.join(argv[:position])}")
    # Parsed again by the subcommand itself: a usage error prints its usage, not the
    # top-level one, and files may follow options (merge a.json -o all.json b.json).
    args = commands[name].parse_intermixed_args(argv[position + 1 :])
    run: _Command = args.run
    return run(args, commands[name])


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="pytest-leakguard",
        description="Tools for pytest-leakguard baselines and reports.",
        epilog="exit codes: 0 ok, 1 regression (compare) or conflicting inputs,"
        " 2 usage error or unusable input",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for command in _COMMANDS:
        commands[command.name] = sub.add_parser(
            command.name, help=command.summary, description=command.description
        )
        commands[command.name].set_defaults(run=command.run)
        for names, options in command.arguments:
            commands[command.name].add_argument(*names, **options)
    return parser, commands


_Argument = tuple[tuple[str, ...], dict[str, Any]]
"""An argument of a subcommand: its names and ``add_argument``'s keyword arguments."""


class _Spec(NamedTuple):
    """A subcommand: what it runs, its help, its arguments (in the order of its usage)."""

    name: str
    run: _Command
    summary: str
    description: str
    arguments: Sequence[_Argument]


def _output(metavar: str) -> _Argument:
    return (("-o", "--output"), {"required": True, "metavar": metavar, "help": "where to write"})


def _allow_incomplete(help: str) -> _Argument:
    return (("--allow-incomplete",), {"action": "store_true", "help": help})


def _compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    units = {name: factory().unit for name, factory in BUILTIN_PROBES.items()}
    try:
        rules = baseline.parse_rules(args.fail, units)
    except ValueError as exc:
        parser.error(f"argument --fail: {exc}")
    try:
        old = baseline.load(args.old, args.allow_incomplete)
        news = [baseline.load(path, args.allow_incomplete) for path in args.new]
        # Shards are merged from their files' data; one file is used as loaded.
        shards = [merge.read(path) for path in args.new] if len(news) > 1 else []
        new = merge.merge_baselines(shards) if shards else news[0]
    except (baseline.BaselineError, merge.InputError) as exc:
        return _error(exc)
    except merge.Conflict as exc:
        return _conflict(exc, None)
    loaded = zip([args.old, *args.new], [old, *news])
    _warn_incomplete([path for path, found in loaded if found.incomplete_reason is not None])
    comparison = baseline.compare(old, new, rules)
    for line in baseline.table(comparison):
        print(line)
    return FAILED if comparison.failed else OK


def _merge(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .report import html

    try:
        shards = [merge.read(path) for path in args.files]
        kind = merge.kind_of(shards)
        if kind == merge.REPORT:
            for shard in shards:
                html.check_report(shard.data, shard.path)
        late = merge.incomplete(shards)
        if late and not args.allow_incomplete:
            return _error(
                f"{', '.join(late)}: marked incomplete (the run that wrote it was interrupted,"
                " so tests are missing); merge anyway with --allow-incomplete"
            )
        if kind == merge.REPORT:
            payload = merge.merge_reports(shards)
        else:
            payload = merge.baseline_json(merge.merge_baselines(shards), shards)
    except (baseline.BaselineError, merge.InputError, html.ReportError) as exc:
        return _error(exc)
    except merge.Conflict as exc:
        return _conflict(exc, args.output)
    _warn_incomplete(merge.incomplete(shards))
    if not _write(args.output, lambda: files.write_json(args.output, payload)):
        return USAGE
    print(f"merged {len(shards)} {kind}s ({len(payload['tests'])} tests) into {args.output}")
    return OK


def _html(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .report import html

    payloads = [_read_report(report) for report in args.reports]
    if any(payload is None for payload in payloads):
        return USAGE
    shards = [merge.Shard(path, merge.REPORT, p or {}) for path, p in zip(args.reports, payloads)]
    try:
        payload = merge.merge_reports(shards) if len(shards) > 1 else shards[0].data
    except merge.InputError as exc:
        return _error(exc)
    except merge.Conflict as exc:
        return _conflict(exc, args.output)
    _warn_incomplete(merge.incomplete(shards))
    if not _write(args.output, lambda: files.write_text(args.output, html.render(payload))):
        return USAGE
    print(f"wrote {args.output}")
    return OK


def _read_report(report: str) -> dict[str, Any] | None:
    """The JSON report in ``report``, validated; ``None`` (the error printed) if unusable."""
    from .report import html

    try:
        return html.read_report(report)
    except html.ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _write(path: str, write: Callable[[], None]) -> bool:
    """Write an output; on failure print why (the message names ``path``), return False."""
    try:
        write()
    except OSError as exc:  # files.OutputPathError: "cannot write PATH: why"
        _error(exc if isinstance(exc, files.OutputPathError) else f"cannot write {path}: {exc}")
        return False
    return True


def _error(problem: object) -> int:
    print(f"error: {problem}", file=sys.stderr)
    return USAGE


def _conflict(exc: merge.Conflict, output: str | None) -> int:
    for problem in exc.problems:
        print(f"conflict: {problem}", file=sys.stderr)
    if output is not None:
        print(f"error: the inputs conflict: {output} not written", file=sys.stderr)
    return FAILED


def _warn_incomplete(paths: Sequence[str]) -> None:
    for path in paths:
        print(
            f"warning: {path} is marked incomplete (its run was interrupted): tests it did not"
            " reach are missing",
            file=sys.stderr,
        )


_COMMANDS = (
    _Spec(
        "compare",
        _compare,
        "compare two baselines or JSON reports; exit 1 on regressions",
        "Print regressions and improvements of NEW over OLD (baselines or"
        " --leakguard-json reports) and exit 1 if there is a regression. Several NEW files"
        " (the shards of one run) are merged first.",
        [
            (("old",), {"metavar": "OLD", "help": "the baseline (or report) to compare with"}),
            (
                ("new",),
                {
                    "metavar": "NEW",
                    "nargs": "+",
                    "help": "the newer baseline (or report), or its shards",
                },
            ),
            (
                ("--fail",),
                {
                    "default": baseline.DEFAULT_RULES,
                    "metavar": "RULES",
                    "help": "tolerated increase per probe or unit group"
                    f" (default {baseline.DEFAULT_RULES})",
                },
            ),
            _allow_incomplete(
                "accept files of incomplete runs (interrupted, a crashed xdist worker)"
            ),
        ],
    ),
    _Spec(
        "merge",
        _merge,
        "merge the JSON reports (or the baselines) of the shards of one run",
        "Merge the --leakguard-json reports, or the baselines, that the shards of"
        " one sharded run wrote into one file, as one run of the whole suite would have"
        " written it. A test in two files, or files with different settings or"
        " environments, are conflicts (exit 1, nothing written).",
        [
            (("files",), {"metavar": "FILE", "nargs": "+", "help": "the shards' files"}),
            _output("OUT.json"),
            _allow_incomplete(
                "merge files whose run was interrupted too (the result is marked incomplete)"
            ),
        ],
    ),
    _Spec(
        "html",
        _html,
        "build the HTML report from saved JSON reports",
        "Render a --leakguard-json report as the same self-contained HTML page"
        " that --leakguard-html writes. Several reports (the shards of one run) are merged"
        " first.",
        [
            (
                ("reports",),
                {
                    "metavar": "REPORT.json",
                    "nargs": "+",
                    "help": "a --leakguard-json report, or its shards",
                },
            ),
            _output("OUT.html"),
        ],
    ),
)
