"""Settings, parsed once: command line over ini file over default, then the marker per test.

Every bad value raises :class:`pytest.UsageError` naming the value and where it
came from (a flag, an ini key in a named file, or a test's marker).  Plain
``ValueError`` never escapes to pytest, where it would be an INTERNALERROR.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar, Union

import pytest

from .baseline import DEFAULT_RULES, Rule, parse_rules
from .probes.resources import IGNORE_KINDS
from .suppress import KINDS as SUPPRESSION_KINDS
from .suppress import check_pattern
from .units import format_size, parse_count, parse_size, shown

RSS_FLOOR = 64 * 1024
"""The smallest RSS growth per run that is judged: RSS moves in pages, and the
process shares it with everything else (pytest, capture, the allocator's own
bookkeeping).  Smaller native leaks need the memray backend."""

MALLOC_FLOOR = 128
"""The smallest growth per run of the C heap (the ``malloc`` probe) that is judged: with
nothing kept, it still moves by a chunk or two from run to run (+48, -48, 0 bytes in a
three-run cycle in about 30% of the clean tests of the real-world suites), and it does not
see Python's small objects, so growing counts decide beside it."""

FLOORS = {"rss": RSS_FLOOR, "malloc": MALLOC_FLOOR}
"""The byte probes' resolution: their budget is never below it."""

DEFAULT_WARMUP = 1
DEFAULT_RUNS = 2
"""The screen: a test flat over 2 measured runs after 1 warm-up run is clean after 4
executions (the normal run included); benchmarks/quiet.py measured 98.6% of the clean tests
of six real suites so."""
THOROUGH_WARMUP = 2
THOROUGH_RUNS = 3
"""What ``thorough`` raises the warm-up and measured runs to (the defaults before the screen):
three measured runs see a leak that grows every 3rd run whatever its phase."""
DEFAULT_MAX_RUNS = 20
DEFAULT_CONFIRM_RUNS = 300
DEFAULT_CONFIRM_SECONDS = 10.0

BudgetValue = Union[str, int, float, Mapping[str, Union[str, int, float]]]
T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    """Growth per run that is tolerated.

    ``default_bytes`` applies to every byte probe (``rss`` and ``malloc`` never below
    their :data:`FLOORS`); ``per_probe`` overrides single probes.  Count probes
    (blocks, objects) default to 0 while the byte budget is 0, and are
    informative (never decide) once a byte budget is allowed, unless given a
    threshold of their own.
    """

    default_bytes: int | None = None
    per_probe: Mapping[str, float] = field(default_factory=dict)

    def threshold(self, probe: str, unit: str) -> float | None:
        """The threshold for one probe, or ``None`` when it only informs."""
        if probe in self.per_probe:
            return self.per_probe[probe]
        if unit == "resources":
            return 0.0
        allowed = self.default_bytes or 0
        if unit == "bytes":
            return float(max(allowed, FLOORS.get(probe, 0)))
        return 0.0 if allowed == 0 else None

    def merged(self, other: Budget) -> Budget:
        """This budget with ``other``'s explicit values on top (the marker's over the run's)."""
        default = self.default_bytes if other.default_bytes is None else other.default_bytes
        return Budget(default, {**self.per_probe, **other.per_probe})

    def describe(self, units: Mapping[str, str] | None = None) -> str:
        """For the report header: ``0 B/run (rss 64.0 KiB/run)``."""
        from .units import format_amount

        units = units or {}
        allowed = self.default_bytes or 0
        text = f"{format_size(allowed)}/run"
        extra = [
            f"{name} {format_amount(value, units.get(name, 'count'))}/run"
            for name, value in sorted(self.per_probe.items())
        ]
        if "malloc" in units and "malloc" not in self.per_probe and allowed < MALLOC_FLOOR:
            extra.insert(0, f"malloc {format_size(MALLOC_FLOOR)}/run")
        if "rss" not in self.per_probe and allowed < RSS_FLOOR:
            extra.insert(0, f"rss {format_size(RSS_FLOOR)}/run")
        return text + (f" ({', '.join(extra)})" if extra else "")


def parse_budget(value: BudgetValue, units: Mapping[str, str]) -> Budget:
    """Parse ``"1 KiB"``, ``"1KiB,rss:1MiB,blocks:10"`` or a mapping ``{"rss": "1 MiB"}``.

    ``units`` maps known probe names to ``"bytes"`` or ``"count"``.  Raises
    ``ValueError`` with a sentence for the user.
    """
    items: list[tuple[str | None, str | int | float]] = []
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise ValueError(f"{shown(value)} has a key that is not a probe name")
        items = [(k, v) for k, v in value.items()]
    elif isinstance(value, str):
        for part in value.split(","):
            if not part.strip():
                raise ValueError(f"{shown(value)} has an empty item")
            head, sep, tail = part.partition(":")
            items.append((head.strip(), tail) if sep else (None, part))
    elif isinstance(value, (int, float)):
        items = [(None, value)]  # parse_size rejects booleans
    else:
        raise ValueError(f"{shown(value)} is not a budget")
    default_bytes: int | None = None
    per_probe: dict[str, float] = {}
    for probe, amount in items:
        if probe is None:
            default_bytes = parse_size(amount)
            continue
        if probe not in units:
            raise ValueError(
                f"unknown probe {shown(probe)} in budget {shown(value)};"
                f" known probes: {', '.join(units)}"
            )
        if units[probe] == "bytes":
            per_probe[probe] = float(parse_size(amount))
        else:
            per_probe[probe] = parse_count(amount)
    return Budget(default_bytes, per_probe)


def parse_probes(value: str | Iterable[str], known: Iterable[str]) -> tuple[str, ...]:
    """Parse ``"blocks,rss"`` (or a list) into probe names, rejecting unknown ones.

    Names that all start with ``-`` select every known probe but those:
    ``"-heap"`` is every probe except ``heap``.
    """
    known = list(known)
    names = _names(value, "probes", known)
    if not names or any(not n for n in names):
        raise ValueError(f"{shown(value)} names no probe; known probes: {', '.join(known)}")
    excluded = [n[1:] for n in names if n.startswith("-")]
    if excluded and len(excluded) != len(names):
        raise ValueError(
            f"{shown(value)} mixes probes to keep and probes to leave out (-NAME), use one or"
            f" the other; known probes: {', '.join(known)}"
        )
    for name in excluded or names:
        if name not in known:
            raise ValueError(f"unknown probe {name!r}; known probes: {', '.join(known)}")
    if excluded:
        names = [n for n in known if n not in excluded]
        if not names:
            raise ValueError(
                f"{shown(value)} leaves out every probe; known probes: {', '.join(known)}"
            )
    return tuple(dict.fromkeys(names))


def parse_ignore(value: str | Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Parse ``"thread:poller-*,site:*/vendor/*"`` (or a list, or ini lines) into pairs.

    Resource kinds (``thread``, ``fd``, ``task``, ``process``) are left out of
    their probes' counts; ``site`` and ``type`` suppress a leak's memory growth
    (see :mod:`pytest_leakguard.suppress`).
    """
    kinds = (*IGNORE_KINDS, *SUPPRESSION_KINDS)
    if isinstance(value, str):
        items = [part.strip() for part in value.replace("\n", ",").split(",")]
        items = [item for item in items if item]
    else:
        items = [item.strip() for item in _names(value, "kinds", kinds)]
    pairs = []
    for item in items:
        kind, sep, pattern = item.partition(":")
        if not sep or not pattern or kind not in kinds:
            raise ValueError(f"{shown(item)} is not KIND:GLOB with KIND one of {', '.join(kinds)}")
        if kind in SUPPRESSION_KINDS:
            check_pattern(kind, pattern)
        pairs.append((kind, pattern))
    return tuple(pairs)


def _names(value: object, noun: str, known: Iterable[str]) -> list[str]:
    """A comma-separated string, or a list (or tuple) of strings, as a list."""
    if isinstance(value, str):
        return [n.strip() for n in value.split(",")]
    if isinstance(value, (list, tuple)) and all(isinstance(n, str) for n in value):
        return list(value)
    raise ValueError(
        f"{shown(value)} is not a comma-separated string or a list of strings;"
        f" known {noun}: {', '.join(known)}"
    )


def parse_bool(value: str | bool) -> bool:
    """Parse an ini-style boolean (or ``True``/``False``, or the integers 0 and 1)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = value.strip().lower() if isinstance(value, str) else None
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{shown(value)} is not a boolean; use true or false")


def parse_directory(value: str) -> str:
    """Parse a directory path: anything but an empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{shown(value)} is empty; give a directory")
    return value


def parse_path(value: str) -> str:
    """Parse a file path given as text."""
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not a path")
    return value


def parse_runs(value: str | int) -> int:
    """Parse a number of runs: a whole number, 0 or more (an int, or a string of digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:  # not digits, or more than 4300 of them
            raise ValueError(f"{shown(value)} is not a whole number") from None
    else:
        raise ValueError(f"{shown(value)} is not a whole number")
    if number < 0:
        raise ValueError(f"{shown(value)} is negative; use 0 or more")
    return number


def parse_positive_runs(value: str | int) -> int:
    """Parse a number of measured runs: a whole number, 1 or more."""
    number = parse_runs(value)
    if number < 1:
        raise ValueError(f"{shown(value)} is less than 1; use 1 or more")
    return number


def parse_seconds(value: str | int | float) -> float:
    """Parse a duration in seconds: ``10``, ``2.5`` or ``2.5s`` (0 or more, finite)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        text = text[:-1].strip() if text.endswith("s") else text
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{shown(value)} is not a number of seconds") from None
    else:
        raise ValueError(f"{shown(value)} is not a number of seconds")
    if not math.isfinite(number):
        raise ValueError(f"{shown(value)} is not a finite number of seconds")
    if number < 0:
        raise ValueError(f"{shown(value)} is negative; use 0 or more")
    return number


def argparse_type(parse: Callable[[str], Any]) -> Callable[[str], str]:
    """Wrap a parser for ``addoption(type=...)``: argparse then names the flag in the error."""

    def check(text: str) -> str:
        try:
            parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    check.__name__ = parse.__name__
    return check


@dataclass(frozen=True)
class Settings:
    """Everything that decides how one test (or the whole run) is checked."""

    enabled: bool = False
    runs: int = DEFAULT_RUNS
    max_runs: int = DEFAULT_MAX_RUNS
    warmup: int = DEFAULT_WARMUP
    budget: Budget = field(default_factory=Budget)
    strict: bool = False
    probes: tuple[str, ...] = ()
    json_path: str | None = None
    html_path: str | None = None
    codequality_path: str | None = None
    explain: bool = True
    baseline_path: str | None = None
    save_baseline_path: str | None = None
    allow_incomplete: bool = False
    """Save, and compare with, a baseline of a run that did not check every test."""
    compare_fail: Mapping[str, Rule] = field(default_factory=dict)
    ignore: tuple[tuple[str, str], ...] = ()
    """Suppressions: (kind, glob pattern) pairs, kind one of ``IGNORE_KINDS``."""
    native: bool = False
    """Explain every leak with memray's native frames (not only RSS-only growth)."""
    graph_dir: str | None = None
    clean_details: bool = False
    """Keep every clean test's samples and figures (by default a still one is kept compact)."""
    thorough: bool = False
    """At least :data:`THOROUGH_WARMUP` warm-up and :data:`THOROUGH_RUNS` measured runs."""
    confirm_runs: int = DEFAULT_CONFIRM_RUNS
    """Measured runs at most for a test still growing at ``max_runs`` (the confirmation)."""
    confirm_seconds: float = DEFAULT_CONFIRM_SECONDS
    """Seconds the confirmation of one test may take (0: no confirmation)."""

    def thresholds(self, units: Mapping[str, str]) -> dict[str, float | None]:
        """The threshold of every selected probe."""
        return {name: self.budget.threshold(name, units[name]) for name in self.probes}


MAX_RUNS = 10_000
"""The most measured runs (``runs``, ``max_runs``): the samples are preallocated for them."""
MAX_WARMUP = 1_000
"""The most warm-up runs."""
MAX_CONFIRM_SECONDS = 3_600
"""The longest confirmation of one test."""

Parse = Callable[[Any, Mapping[str, str]], Any]
"""A setting's parser: (raw value, the probes' units) -> value; raises ``ValueError``."""
Show = Callable[[Any, Mapping[str, str]], Any]
"""How the JSON report's ``settings`` shows a parsed value."""

KINDS: dict[str, tuple[type, ...]] = {
    "flag": (str, bool),  # --leakguard-x alone; the ini key and marker take a boolean
    "bool": (str, bool),  # --leakguard-x yes|no
    "int": (str, int),
    "number": (str, int, float),
    "size": (str, int),
    "text": (str,),
    "dir": (str,),  # a directory: a file there is a usage error
}
"""Each kind of option and the TOML types its ini key takes (pytest 9.2's native table)."""

_CHECKED_EARLY = ("bool", "int", "number")
"""Kinds that argparse validates: their parsers need no probe units (unknown until configure)."""


def _plain(parse: Callable[[Any], Any]) -> Parse:
    """A parser that needs no probe units."""
    return lambda raw, units: parse(raw)


def _same(value: Any, units: Mapping[str, str]) -> Any:
    return value


@dataclass(frozen=True)
class Option:
    """One setting, declared once.

    The command-line option, the ini key (the flag's name with underscores), the
    marker argument, the help, the parser, the bounds, the JSON report's settings
    and the docs check (docs/check_docs.py) all come from this row.
    """

    name: str
    """The :class:`Settings` field; the marker's keyword argument when ``marker``."""
    flag: str
    help: str
    parse: Parse
    kind: str = "text"
    """One of :data:`KINDS`."""
    metavar: str = "VALUE"
    marker: str | None = None
    """How the marker's help shows the argument's default (``"None"``: the run's setting),
    or ``None`` when the marker does not take it."""
    bounds: tuple[int, int] | None = None
    """The smallest and largest value of a number (documented in docs/reference.md)."""
    report: Show | None = None
    """How the JSON report's ``settings`` show the value, or ``None`` to leave it out."""
    merge: Callable[[Any, Any], Any] | None = None
    """How a marker's value combines with the value it overrides (default: replaces it)."""

    @property
    def ini_key(self) -> str:
        """``--leakguard-max-runs`` -> ``leakguard_max_runs`` (also argparse's dest)."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def full_help(self) -> str:
        """The help, with the bounds of a number."""
        if self.bounds is None:
            return self.help
        return f"{self.help}; {self.bounds[0]} to {self.bounds[1]}"

    def convert(self, raw: Any, units: Mapping[str, str]) -> Any:
        """Parse ``raw`` and check its bounds; raises ``ValueError``."""
        value = self.parse(raw, units)
        if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
            low, high = self.bounds
            side = f"less than {low}" if value < low else f"more than {high}"
            raise ValueError(f"{shown(raw)} is {side}; use {low} to {high}")
        return value

    def argparse_type(self) -> Callable[[str], str] | None:
        """The ``type=`` of the command-line option: argparse names the flag in its error."""
        if self.kind not in _CHECKED_EARLY:
            return None
        check = argparse_type(lambda text: self.convert(text, {}))
        check.__name__ = self.name
        return check

    def addoption_kwargs(self) -> dict[str, Any]:
        """``parser.addoption(flag, **these)``: ``None`` when not given, so the ini value counts."""
        kwargs: dict[str, Any] = {
            "default": None,
            "dest": self.ini_key,
            "help": self.full_help.replace("%", "%%"),  # argparse formats help with %
        }
        if self.kind == "flag":
            return {**kwargs, "action": "store_true"}
        return {**kwargs, "metavar": self.metavar, "type": self.argparse_type()}

    def ini_type(self, toml: bool) -> Any:
        """``parser.addini(type=...)``: with ``toml`` (pytest 9.2+), the TOML types it takes."""
        return functools.reduce(operator.or_, KINDS[self.kind]) if toml else "string"


def _path_option(name: str, flag: str, help: str) -> Option:
    """A file path: ``--leakguard-X PATH`` and its ini key, not a marker argument."""
    return Option(name, flag, help, _plain(parse_path), metavar="PATH")


def _runs_option(name: str, help: str, bounds: tuple[int, int]) -> Option:
    """A number of runs: ``--leakguard-NAME N``, a marker argument, in the report's settings."""
    flag = "--leakguard-" + name.replace("_", "-")
    return Option(name, flag, help, _plain(parse_runs), "int", "N", "None", bounds, _same)


OPTIONS: tuple[Option, ...] = (
    Option(
        "enabled",
        "--leakguard",
        "check every test for leaks",
        _plain(parse_bool),
        "flag",
        marker="True",
    ),
    Option(
        "budget",
        "--leakguard-budget",
        "growth per run tolerated: a size for byte probes (512, 1 KiB, 2 MiB) and/or"
        " probe:value items (rss:1MiB,blocks:10). Default: 0 (rss: 64 KiB)",
        parse_budget,
        "size",
        "BUDGET",
        marker="None",
        report=lambda budget, units: budget.describe(units),
        merge=lambda before, budget: before.merged(budget),
    ),
    _runs_option(
        "runs",
        f"measured runs at least, after the warm-up (default {DEFAULT_RUNS};"
        " 5 when a probe moves at all)",
        (1, MAX_RUNS),
    ),
    _runs_option(
        "max_runs",
        f"measured runs at most, while growth is seen (default {DEFAULT_MAX_RUNS})",
        (1, MAX_RUNS),
    ),
    _runs_option(
        "warmup",
        f"warm-up runs after the normal run, not measured (default {DEFAULT_WARMUP})",
        (0, MAX_WARMUP),
    ),
    Option(
        "thorough",
        "--leakguard-thorough",
        f"at least {THOROUGH_WARMUP} warm-up and {THOROUGH_RUNS} measured runs per test"
        " instead of the cheaper screen, which can miss growth every 3rd run that falls on"
        " the warm-up run",
        _plain(parse_bool),
        "flag",
        marker="None",
        report=_same,
    ),
    _runs_option(
        "confirm_runs",
        "measured runs at most for a test still growing after max_runs: it runs on until its"
        " growth stops (bounded: clean) or this budget or --leakguard-confirm-seconds is"
        f" spent (a leak); at or below max_runs, no confirmation (default {DEFAULT_CONFIRM_RUNS})",
        (1, MAX_RUNS),
    ),
    Option(
        "confirm_seconds",
        "--leakguard-confirm-seconds",
        "seconds the confirmation of one test may take (0: none; default"
        f" {DEFAULT_CONFIRM_SECONDS:g})",
        _plain(parse_seconds),
        "number",
        "SECONDS",
        marker="None",
        bounds=(0, MAX_CONFIRM_SECONDS),
        report=_same,
    ),
    Option(
        "strict",
        "--leakguard-strict",
        "fail tests whose check is inconclusive or errored, not only leaks",
        _plain(parse_bool),
        "flag",
        marker="None",
        report=_same,
    ),
    Option(
        "probes",
        "--leakguard-probes",
        "comma-separated probes to sample, or -NAME,... to leave those out"
        " (default: all cheap probes)",
        parse_probes,
        metavar="PROBES",
        marker="None",
        report=lambda probes, units: list(probes),
    ),
    _path_option("json_path", "--leakguard-json", "write a JSON report to this path"),
    _path_option(
        "html_path",
        "--leakguard-html",
        "write a self-contained HTML report (plots, explanations) to this path",
    ),
    _path_option(
        "codequality_path",
        "--leakguard-codequality",
        "write a GitLab Code Quality report (one issue per leak, at its allocating line)"
        " to this path",
    ),
    _path_option(
        "baseline_path",
        "--leakguard-baseline",
        "compare each test's growth per run with this baseline file; regressions fail the run",
    ),
    _path_option(
        "save_baseline_path",
        "--leakguard-save-baseline",
        "write this run's figures as a baseline to this path (an existing file is kept as"
        " PATH.bak)",
    ),
    Option(
        "allow_incomplete",
        "--leakguard-allow-incomplete",
        "save a baseline even when the run is incomplete (interrupted, stopped early, an xdist"
        " worker crashed), and compare with an incomplete baseline or report",
        _plain(parse_bool),
        "flag",
    ),
    Option(
        "compare_fail",
        "--leakguard-compare-fail",
        "tolerated increase over the baseline per probe or unit group, absolute or relative"
        f" (default {DEFAULT_RULES})",
        lambda raw, units: parse_rules(parse_path(raw), units),
        metavar="COMPARE_FAIL",
    ),
    Option(
        "ignore",
        "--leakguard-ignore",
        "suppressions, comma-separated KIND:GLOB items: resources not counted (thread:NAME,"
        " fd:TARGET, task:COROUTINE, process:COMMAND) and memory growth allowed by allocation"
        " site (site:FILE-OR-MODULE) or object type (type:NAME), for example"
        " thread:ThreadPoolExecutor-*,site:*/vendor/*",
        _plain(parse_ignore),
        metavar="IGNORE",
        marker="None",
        merge=lambda before, ignore: before + ignore,
    ),
    Option(
        "explain",
        "--leakguard-explain",
        "for a leak, run the deep probes (allocation sites, growing types, holders):"
        " yes or no (default yes)",
        _plain(parse_bool),
        "bool",
        "yes|no",
        marker="None",
    ),
    Option(
        "native",
        "--leakguard-native",
        "for a leak, also track native allocations with memray (pytest-leakguard[memray])"
        " and name the C frames that allocate what is left (default: only when RSS grows"
        " and the Python heap does not)",
        _plain(parse_bool),
        "flag",
        marker="None",
    ),
    Option(
        "graph_dir",
        "--leakguard-graph-dir",
        "for a leak, write the back-reference graph of a leaked object to DIR/NODEID.dot"
        " (and .svg when Graphviz's dot is installed; needs objgraph)",
        _plain(parse_directory),
        "dir",
        "GRAPH_DIR",
    ),
    Option(
        "clean_details",
        "--leakguard-clean-details",
        "keep the samples and per-probe figures of clean tests, in memory and in the JSON and"
        " HTML reports (by default a clean test whose probes stayed flat is kept as its"
        " verdict, runs and probes: about 200 bytes instead of 3 KB)",
        _plain(parse_bool),
        "flag",
    ),
)
"""Every setting, in the order of ``--help``.  To add one: a row here, a :class:`Settings`
field of the same name, and a line in docs/reference.md (docs/check_docs.py checks it)."""

OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}
MARKER_KWARGS = tuple(option.name for option in OPTIONS if option.marker is not None)
"""The keyword arguments ``@pytest.mark.leakguard(...)`` accepts."""
MARKER_HELP = (
    "leakguard("
    + ", ".join(f"{o.name}={o.marker}" for o in OPTIONS if o.marker is not None)
    + "): check this test for leaks (even without --leakguard),"
    " tune the check, or exempt the test with enabled=False."
)


def report_settings(settings: Settings, units: Mapping[str, str]) -> dict[str, Any]:
    """The run's settings as the JSON report's ``settings`` object."""
    return {
        o.name: o.report(getattr(settings, o.name), units) for o in OPTIONS if o.report is not None
    }


def _ini_source(config: pytest.Config, key: str) -> str:
    where = f" in {config.inipath}" if config.inipath else ""
    return f"ini key {key}{where}"


def load_settings(
    config: pytest.Config, units: Mapping[str, str], default_probes: Iterable[str]
) -> Settings:
    """Build the run's settings from the command line, the ini file and the defaults."""
    values: dict[str, Any] = {
        "probes": tuple(default_probes),
        "compare_fail": parse_rules(DEFAULT_RULES, units),
    }
    for option in OPTIONS:
        raw: Any = config.getoption(option.ini_key)
        source = option.flag
        if raw is None:
            raw = config.getini(option.ini_key)
            raw = None if raw == "" else raw
            source = _ini_source(config, option.ini_key)
        if raw is None:
            continue
        values[option.name] = _convert(option, raw, units, source)
        if option.kind == "dir" and (config.invocation_params.dir / raw).is_file():
            raise pytest.UsageError(
                f"leakguard: invalid value {raw!r} for {source}: a file, not a directory"
            )
    settings = Settings(**values)
    _check_native(settings, "the command line or ini file")
    return _check_run_counts(settings, "the command line or ini file")


def _check_native(settings: Settings, source: str) -> None:
    """Asking for native frames where memray cannot run is a usage error."""
    if not settings.native:
        return
    from .native import INSTALL, NOT_INSTALLED, unavailable

    reason = unavailable()
    if reason is not None:
        hint = f"; install it with: {INSTALL}" if reason == NOT_INSTALLED else ""
        raise pytest.UsageError(
            f"leakguard: native frames were asked for (from {source}) but {reason}{hint}"
        )


def _convert(option: Option, raw: Any, units: Mapping[str, str], source: str) -> Any:
    try:
        return option.convert(raw, units)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise pytest.UsageError(
            f"leakguard: invalid value {shown(raw)} for {source}: {exc}"
        ) from None


def _check_run_counts(settings: Settings, source: str) -> Settings:
    if settings.thorough:
        settings = dataclasses.replace(
            settings,
            runs=max(settings.runs, THOROUGH_RUNS),
            warmup=max(settings.warmup, THOROUGH_WARMUP),
        )
    if settings.runs < 1:
        raise pytest.UsageError(f"leakguard: runs must be at least 1 (from {source})")
    if settings.max_runs < settings.runs:
        # Asking for more runs than the default maximum raises the maximum.
        settings = dataclasses.replace(settings, max_runs=settings.runs)
    return settings


def settings_for_item(
    base: Settings, markers: Iterable[pytest.Mark], nodeid: str, units: Mapping[str, str]
) -> Settings:
    """Apply the test's ``leakguard`` markers (farthest first) to the run's settings."""
    values: dict[str, Any] = {}
    marked = False
    for mark in markers:
        marked = True
        source = f"marker leakguard on {nodeid}"
        if mark.args:
            raise pytest.UsageError(
                f"leakguard: {source} takes keyword arguments only, got {shown(mark.args)};"
                f" accepted: {', '.join(MARKER_KWARGS)}"
            )
        for key, raw in mark.kwargs.items():
            if key not in MARKER_KWARGS:
                raise pytest.UsageError(
                    f"leakguard: unknown argument {key}={shown(raw)} in {source};"
                    f" accepted: {', '.join(MARKER_KWARGS)}"
                )
            if raw is None:
                continue
            values[key] = _convert(OPTIONS_BY_NAME[key], raw, units, f"{key}= of {source}")
    if not marked:
        return base
    values.setdefault("enabled", True)
    for key, value in values.items():
        merge = OPTIONS_BY_NAME[key].merge  # the closest marker's value, over the run's
        if merge is not None:
            values[key] = merge(getattr(base, key), value)
    if "runs" in values and "max_runs" not in values:
        values["max_runs"] = max(values["runs"], base.max_runs)
    settings = dataclasses.replace(base, **values)
    if values.get("native"):
        _check_native(settings, f"native= of marker leakguard on {nodeid}")
    return _check_run_counts(settings, f"marker leakguard on {nodeid}")
