"""Property-based tests: random values at every parser of user input (issue #16).

Each parser either returns a clean result or raises the error it documents, whose
message names the value: ``ValueError`` from the pure parsers, ``pytest.UsageError``
from the settings (command line, ini file, marker), ``BaselineError`` from a baseline,
``ReportError`` from a report.  Never any other exception.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_leakguard.baseline import FORMAT, BaselineError, compare, load, parse_rules, table
from pytest_leakguard.config import (
    MARKER_KWARGS,
    MAX_RUNS,
    MAX_WARMUP,
    OPTIONS,
    Settings,
    load_settings,
    parse_budget,
    parse_ignore,
    parse_probes,
    settings_for_item,
)
from pytest_leakguard.report import html
from pytest_leakguard.units import parse_count, parse_size, shown

UNITS = {"blocks": "count", "objects": "count", "heap": "bytes", "rss": "bytes", "fds": "resources"}
PROBES = tuple(UNITS)
NODEID = "t.py::test_a"
BASE = Settings(probes=PROBES)
PROPERTY = settings(
    deadline=None,
    max_examples=int(os.environ.get("LEAKGUARD_EXAMPLES", "150")),
    suppress_health_check=[HealthCheck.too_slow],
)

HUGE = st.one_of(
    st.sampled_from([400, 5000]).map(lambda digits: 10**digits),  # built: repr() fails on 5000
    st.sampled_from([-(10**400), 2**63, 2**64, 3_000_000_000]),
)
NUMBERS = st.one_of(st.integers(), st.floats(), HUGE)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=30))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
"""What JSON (and Python's json module: NaN, Infinity, huge integers) may hold."""
MARKER_VALUES = st.one_of(
    JSON, st.tuples(SCALARS, SCALARS), st.dictionaries(st.integers(), SCALARS, max_size=2)
)
"""What a marker argument may be: any Python value, JSON-like or not."""
WORDS = st.sampled_from(
    [
        "",
        " ",
        ",",
        ":",
        "-",
        "%",
        "1",
        "0",
        "-1",
        "1.5",
        "10001",
        "1e400",
        "999999999999999999999",
        "nan",
        "inf",
        "KiB",
        "MiB",
        "rss",
        "blocks",
        "-heap",
        "thread:",
        "site:*",
        "type:X",
        "yes",
        "no",
        "true",
        "bytes",
        "count",
    ]
)
TEXT = st.one_of(st.text(max_size=40), st.lists(WORDS, max_size=6).map("".join))
"""Command-line and ini values: random text, and text made of the parsers' own words."""


def named(message: str, value: Any) -> bool:
    return shown(value) in message


def attempt(call: Callable[[], Any], error: type[Exception]) -> tuple[Any, str | None]:
    """``call()``'s result, or the message of the ``error`` it raised (anything else fails)."""
    try:
        return call(), None
    except error as exc:
        return None, str(exc)


# ---------------------------------------------------------------- the pure parsers


@PROPERTY
@given(MARKER_VALUES)
def test_size_and_count_parsers_return_or_raise_value_error(value: Any) -> None:
    for parse in (parse_size, parse_count):
        result, error = attempt(lambda: parse(value), ValueError)  # noqa: B023
        if error is not None:
            assert named(error, value), error
        else:
            assert 0 <= result <= 2**63


@PROPERTY
@given(st.one_of(MARKER_VALUES, TEXT))
def test_list_parsers_return_or_raise_value_error(value: Any) -> None:
    for parse in (
        lambda v: parse_budget(v, UNITS),
        lambda v: parse_probes(v, PROBES),
        parse_ignore,
        lambda v: parse_rules(v, UNITS) if isinstance(v, str) else None,
    ):
        attempt(lambda: parse(value), ValueError)  # noqa: B023


# ---------------------------------------------------------------- settings from every source


def check_settings(result: Settings) -> None:
    assert 1 <= result.runs <= result.max_runs <= MAX_RUNS
    assert 0 <= result.warmup <= MAX_WARMUP


@PROPERTY
@given(st.sampled_from([*MARKER_KWARGS, "bogus"]), MARKER_VALUES)
def test_marker_argument_gives_settings_or_a_usage_error_naming_it(key: str, value: Any) -> None:
    mark = pytest.mark.leakguard(**{key: value}).mark
    result, message = attempt(
        lambda: settings_for_item(BASE, [mark], NODEID, UNITS), pytest.UsageError
    )
    if message is not None:
        assert NODEID in message
        assert named(message, value) or key == "native", message  # native: memray missing
    else:
        check_settings(result)


class _Config:
    """What :func:`load_settings` reads of a ``pytest.Config``: options, ini values, paths."""

    def __init__(self, options: dict[str, Any], ini: dict[str, Any], root: Path) -> None:
        self.options, self.ini = options, ini
        self.inipath = root / "pytest.ini"
        self.invocation_params = SimpleNamespace(dir=root)

    def getoption(self, name: str) -> Any:
        return self.options.get(name)

    def getini(self, name: str) -> Any:
        return self.ini.get(name, "")


@PROPERTY
@given(st.sampled_from(OPTIONS), TEXT, st.booleans())
def test_command_line_or_ini_value_gives_settings_or_a_usage_error_naming_it(
    option: Any, text: str, on_command_line: bool
) -> None:
    check = option.argparse_type()
    if on_command_line and check is not None:
        checked, error = attempt(lambda: check(text), argparse.ArgumentTypeError)
        if error is not None:
            assert named(error, text), error
            return
        assert checked == text
    values = {option.ini_key: text}
    options, ini = (values, {}) if on_command_line else ({}, values)
    with tempfile.TemporaryDirectory() as root:
        config = cast(pytest.Config, _Config(options, ini, Path(root)))
        result, message = attempt(lambda: load_settings(config, UNITS, PROBES), pytest.UsageError)
    if message is not None:
        source = option.flag if on_command_line else f"ini key {option.ini_key}"
        assert source in message or option.name == "native", message
        assert named(message, text) or option.name == "native", message
    else:
        check_settings(result)


@PROPERTY
@given(st.sampled_from([o for o in OPTIONS if o.kind != "text"]), JSON)
def test_toml_ini_value_gives_settings_or_a_usage_error(option: Any, value: Any) -> None:
    # pytest 9.2's [tool.pytest] table hands the parsers TOML types, not text
    with tempfile.TemporaryDirectory() as root:
        config = cast(pytest.Config, _Config({}, {option.ini_key: value}, Path(root)))
        result, message = attempt(lambda: load_settings(config, UNITS, PROBES), pytest.UsageError)
    if message is not None:
        assert named(message, value) or option.name == "native", message
    else:
        check_settings(result)


# ---------------------------------------------------------------- baselines and reports


@contextmanager
def written(content: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "file.json")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(content)
        yield path


FIGURES = st.dictionaries(st.sampled_from(PROBES), st.one_of(NUMBERS, JSON), max_size=3)
BASELINE_ENTRY = st.fixed_dictionaries(
    {"verdict": st.one_of(st.sampled_from(["clean", "leak"]), JSON), "growth_per_run": FIGURES},
    optional={"units": st.one_of(st.dictionaries(st.sampled_from(PROBES), JSON), JSON)},
)
BASELINES = st.fixed_dictionaries(
    {
        "format": st.just(FORMAT),
        "version": st.one_of(st.just(1), JSON),
        "tests": st.one_of(st.dictionaries(st.text(max_size=8), BASELINE_ENTRY, max_size=3), JSON),
    },
    optional={"environment": JSON},
)
EXPLANATION_KEYS = ("resources", "sites", "types", "holders", "chain", "sizes", "graph", "native")
REPORT_TEST = st.fixed_dictionaries(
    {},
    optional={
        "nodeid": st.one_of(st.text(max_size=8), JSON),
        "verdict": st.one_of(st.sampled_from(["clean", "leak", "inconclusive", "error"]), JSON),
        "runs": st.one_of(st.integers(0, 30), JSON),
        "warmup": st.one_of(st.integers(0, 5), JSON),
        "growth_per_run": FIGURES,
        "tail_growth_per_run": FIGURES,
        "sustained_growth_per_run": FIGURES,
        "rising_runs": FIGURES,
        "thresholds": FIGURES,
        "trend": st.dictionaries(st.sampled_from(PROBES), st.one_of(st.just("growing"), JSON)),
        "units": st.dictionaries(st.sampled_from(PROBES), st.one_of(st.just("bytes"), JSON)),
        "samples": st.dictionaries(st.sampled_from(PROBES), st.one_of(st.lists(NUMBERS), JSON)),
        "explanation": st.dictionaries(st.sampled_from(EXPLANATION_KEYS), JSON),
        "reason": JSON,
        "suppressions": JSON,
    },
)
REPORTS = st.fixed_dictionaries(
    {"version": st.one_of(st.just(1), JSON), "tests": st.one_of(st.lists(REPORT_TEST), JSON)},
    optional={"settings": JSON, "environment": JSON, "baseline": JSON},
)


def dumped(data: Any) -> str:
    try:
        return json.dumps(data)
    except ValueError:  # an integer of more than 4300 digits: json writes it, then reads it not
        return "0"


@PROPERTY
@given(st.one_of(BASELINES, REPORTS, JSON))
def test_baseline_file_loads_or_raises_baseline_error(data: Any) -> None:
    with written(dumped(data)) as path:
        baseline, message = attempt(lambda: load(path), BaselineError)
    if message is not None:
        assert path in message
        return
    # what was loaded compares, and prints, without error
    rules = parse_rules("bytes:512B,count:2,resources:0", UNITS)
    for line in table(compare(baseline, baseline, rules)):
        assert isinstance(line, str)


@PROPERTY
@given(REPORTS)
def test_report_renders_or_raises_report_error(data: Any) -> None:
    with written(dumped(data)) as path:
        payload, message = attempt(lambda: html.read_report(path), html.ReportError)
    if message is not None:
        assert path in message
        return
    assert html.render(payload).startswith("<!DOCTYPE html>")


@PROPERTY
@given(st.dictionaries(st.sampled_from(["tests", "settings", "environment", "baseline"]), JSON))
def test_render_takes_any_payload(payload: dict[str, Any]) -> None:
    assert html.render(payload).startswith("<!DOCTYPE html>")
