"""Settings, parsed once: command line over ini file over default, then the marker per test.

Every bad value raises :class:`pytest.UsageError` naming the value and where it
came from (a flag, an ini key in a named file, or a test's marker).  Plain
``ValueError`` never escapes to pytest, where it would be an INTERNALERROR.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar, Union

import pytest

from .baseline import DEFAULT_RULES, Rule, parse_rules
from .probes.resources import IGNORE_KINDS
from .suppress import KINDS as SUPPRESSION_KINDS
from .suppress import check_pattern
from .units import format_size, parse_count, parse_size

RSS_FLOOR = 64 * 1024
"""The smallest RSS growth per run that is judged: RSS moves in pages, and the
process shares it with everything else (pytest, capture, the allocator's own
bookkeeping).  Smaller native leaks need the memray backend."""

DEFAULT_WARMUP = 2
DEFAULT_RUNS = 3
DEFAULT_MAX_RUNS = 20

MARKER_KWARGS = (
    "enabled",
    "ignore",
    "runs",
    "max_runs",
    "warmup",
    "budget",
    "strict",
    "probes",
    "explain",
    "native",
)
"""The keyword arguments ``@pytest.mark.leakguard(...)`` accepts."""

MARKER_HELP = (
    "leakguard(enabled=True, runs=None, max_runs=None, warmup=None, budget=None,"
    " strict=None, probes=None, explain=None, native=None, ignore=None):"
    " check this test for leaks (even without --leakguard),"
    " tune the check, or exempt the test with enabled=False."
)

BudgetValue = Union[str, int, float, Mapping[str, Union[str, int, float]]]
T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    """Growth per run that is tolerated.

    ``default_bytes`` applies to every byte probe (``rss`` never below
    :data:`RSS_FLOOR`); ``per_probe`` overrides single probes.  Count probes
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
            floor = RSS_FLOOR if probe == "rss" else 0
            return float(max(allowed, floor))
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
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, str):
        for part in value.split(","):
            if not part.strip():
                raise ValueError(f"{value!r} has an empty item")
            head, sep, tail = part.partition(":")
            items.append((head.strip(), tail) if sep else (None, part))
    elif isinstance(value, (int, float)):
        items = [(None, value)]
    else:
        raise ValueError(f"{value!r} is not a budget")
    default_bytes: int | None = None
    per_probe: dict[str, float] = {}
    for probe, amount in items:
        if probe is None:
            default_bytes = parse_size(amount)
            continue
        if probe not in units:
            raise ValueError(
                f"unknown probe {probe!r} in budget {value!r}; known probes: {', '.join(units)}"
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
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    known = list(known)
    if not names or any(not n for n in names):
        raise ValueError(f"{value!r} names no probe; known probes: {', '.join(known)}")
    excluded = [n[1:] for n in names if n.startswith("-")]
    if excluded and len(excluded) != len(names):
        raise ValueError(
            f"{value!r} mixes probes to keep and probes to leave out (-NAME), use one or"
            f" the other; known probes: {', '.join(known)}"
        )
    for name in excluded or names:
        if name not in known:
            raise ValueError(f"unknown probe {name!r}; known probes: {', '.join(known)}")
    if excluded:
        names = [n for n in known if n not in excluded]
        if not names:
            raise ValueError(f"{value!r} leaves out every probe; known probes: {', '.join(known)}")
    return tuple(dict.fromkeys(names))


def parse_ignore(value: str | Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Parse ``"thread:poller-*,site:*/vendor/*"`` (or a list, or ini lines) into pairs.

    Resource kinds (``thread``, ``fd``, ``task``, ``process``) are left out of
    their probes' counts; ``site`` and ``type`` suppress a leak's memory growth
    (see :mod:`pytest_leakguard.suppress`).
    """
    if isinstance(value, str):
        items = [part.strip() for part in value.replace("\n", ",").split(",")]
        items = [item for item in items if item]
    else:
        items = [str(item).strip() for item in value]
    pairs = []
    kinds = (*IGNORE_KINDS, *SUPPRESSION_KINDS)
    for item in items:
        kind, sep, pattern = item.partition(":")
        if not sep or not pattern or kind not in kinds:
            raise ValueError(f"{item!r} is not KIND:GLOB with KIND one of {', '.join(kinds)}")
        if kind in SUPPRESSION_KINDS:
            check_pattern(kind, pattern)
        pairs.append((kind, pattern))
    return tuple(pairs)


def parse_bool(value: str | bool) -> bool:
    """Parse an ini-style boolean."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean; use true or false")


def parse_directory(value: str) -> str:
    """Parse a directory path: anything but an empty string."""
    if not str(value).strip():
        raise ValueError(f"{value!r} is empty; give a directory")
    return str(value)


def parse_runs(value: str | int) -> int:
    """Parse a number of runs: a whole number, 0 or more."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{value!r} is negative; use 0 or more")
    return number


def parse_positive_runs(value: str | int) -> int:
    """Parse a number of measured runs: a whole number, 1 or more."""
    number = parse_runs(value)
    if number < 1:
        raise ValueError(f"{value!r} is less than 1; use 1 or more")
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

    def thresholds(self, units: Mapping[str, str]) -> dict[str, float | None]:
        """The threshold of every selected probe."""
        return {name: self.budget.threshold(name, units[name]) for name in self.probes}


# (setting, command-line option, ini key, help)
OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("enabled", "--leakguard", "leakguard", "check every test for leaks"),
    (
        "budget",
        "--leakguard-budget",
        "leakguard_budget",
        "growth per run tolerated: a size for byte probes (512, 1 KiB, 2 MiB) and/or"
        " probe:value items (rss:1MiB,blocks:10). Default: 0 (rss: 64 KiB)",
    ),
    (
        "runs",
        "--leakguard-runs",
        "leakguard_runs",
        f"measured runs at least, after the warm-up (default {DEFAULT_RUNS};"
        " 5 when a probe moves at all)",
    ),
    (
        "max_runs",
        "--leakguard-max-runs",
        "leakguard_max_runs",
        f"measured runs at most, while growth is seen (default {DEFAULT_MAX_RUNS})",
    ),
    (
        "warmup",
        "--leakguard-warmup",
        "leakguard_warmup",
        f"warm-up runs after the normal run, not measured (default {DEFAULT_WARMUP})",
    ),
    (
        "strict",
        "--leakguard-strict",
        "leakguard_strict",
        "fail tests whose check is inconclusive or errored, not only leaks",
    ),
    (
        "probes",
        "--leakguard-probes",
        "leakguard_probes",
        "comma-separated probes to sample, or -NAME,... to leave those out"
        " (default: all cheap probes)",
    ),
    ("json_path", "--leakguard-json", "leakguard_json", "write a JSON report to this path"),
    (
        "html_path",
        "--leakguard-html",
        "leakguard_html",
        "write a self-contained HTML report (plots, explanations) to this path",
    ),
    (
        "baseline_path",
        "--leakguard-baseline",
        "leakguard_baseline",
        "compare each test's growth per run with this baseline file; regressions fail the run",
    ),
    (
        "save_baseline_path",
        "--leakguard-save-baseline",
        "leakguard_save_baseline",
        "write this run's figures as a baseline to this path (an existing file is kept as"
        " PATH.bak)",
    ),
    (
        "allow_incomplete",
        "--leakguard-allow-incomplete",
        "leakguard_allow_incomplete",
        "save a baseline even when the run is incomplete (interrupted, stopped early, an xdist"
        " worker crashed), and compare with an incomplete baseline or report",
    ),
    (
        "compare_fail",
        "--leakguard-compare-fail",
        "leakguard_compare_fail",
        "tolerated increase over the baseline per probe or unit group, absolute or relative"
        f" (default {DEFAULT_RULES})",
    ),
    (
        "ignore",
        "--leakguard-ignore",
        "leakguard_ignore",
        "suppressions, comma-separated KIND:GLOB items: resources not counted (thread:NAME,"
        " fd:TARGET, task:COROUTINE, process:COMMAND) and memory growth allowed by allocation"
        " site (site:FILE-OR-MODULE) or object type (type:NAME), for example"
        " thread:ThreadPoolExecutor-*,site:*/vendor/*",
    ),
    (
        "explain",
        "--leakguard-explain",
        "leakguard_explain",
        "for a leak, run the deep probes (allocation sites, growing types, holders):"
        " yes or no (default yes)",
    ),
    (
        "native",
        "--leakguard-native",
        "leakguard_native",
        "for a leak, also track native allocations with memray (pytest-leakguard[memray])"
        " and name the C frames that allocate what is left (default: only when RSS grows"
        " and the Python heap does not)",
    ),
    (
        "graph_dir",
        "--leakguard-graph-dir",
        "leakguard_graph_dir",
        "for a leak, write the back-reference graph of a leaked object to DIR/NODEID.dot"
        " (and .svg when Graphviz's dot is installed; needs objgraph)",
    ),
)

_PARSERS: dict[str, Callable[[Any], Any]] = {
    "enabled": parse_bool,
    "runs": parse_positive_runs,
    "max_runs": parse_positive_runs,
    "warmup": parse_runs,
    "strict": parse_bool,
    "explain": parse_bool,
    "native": parse_bool,
    "allow_incomplete": parse_bool,
    "json_path": str,
    "graph_dir": parse_directory,
    "html_path": str,
    "baseline_path": str,
    "save_baseline_path": str,
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
    for setting, flag, ini_key, _ in OPTIONS:
        raw: Any = config.getoption(flag.lstrip("-").replace("-", "_"))
        source = flag
        if raw is None:
            raw = config.getini(ini_key)
            raw = None if raw == "" else raw
            source = _ini_source(config, ini_key)
        if raw is None:
            continue
        values[setting] = _parse(setting, raw, units, source)
        if setting == "graph_dir" and (config.invocation_params.dir / raw).is_file():
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


def _parse(setting: str, raw: Any, units: Mapping[str, str], source: str) -> Any:
    try:
        if setting == "budget":
            return parse_budget(raw, units)
        if setting == "probes":
            return parse_probes(raw, units)
        if setting == "compare_fail":
            return parse_rules(str(raw), units)
        if setting == "ignore":
            return parse_ignore(raw)
        return _PARSERS[setting](raw)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise pytest.UsageError(f"leakguard: invalid value {raw!r} for {source}: {exc}") from None


def _check_run_counts(settings: Settings, source: str) -> Settings:
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
                f"leakguard: {source} takes keyword arguments only, got {mark.args!r};"
                f" accepted: {', '.join(MARKER_KWARGS)}"
            )
        for key, raw in mark.kwargs.items():
            if key not in MARKER_KWARGS:
                raise pytest.UsageError(
                    f"leakguard: unknown argument {key}={raw!r} in {source};"
                    f" accepted: {', '.join(MARKER_KWARGS)}"
                )
            if raw is None:
                continue
            values[key] = _parse(key, raw, units, f"{key}= of {source}")
    if not marked:
        return base
    values.setdefault("enabled", True)
    if "budget" in values:
        values["budget"] = base.budget.merged(values["budget"])
    if "ignore" in values:
        values["ignore"] = base.ignore + values["ignore"]
    if "runs" in values and "max_runs" not in values:
        values["max_runs"] = max(values["runs"], base.max_runs)
    settings = dataclasses.replace(base, **values)
    if values.get("native"):
        _check_native(settings, f"native= of marker leakguard on {nodeid}")
    return _check_run_counts(settings, f"marker leakguard on {nodeid}")
