"""End-to-end tests of the command line, the ini file and the marker (pytester).

Runs that only configure, collect or print help run in process.  Runs that
re-run and measure tests run in a subprocess (``runpytest_subprocess``):
measurement touches process-global state (tracemalloc, gc.freeze).
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import COUNTER_BUILT, HEAP_ENGINE, NO_COUNTER

from pytest_leakguard.config import MARKER_KWARGS, OPTIONS
from pytest_leakguard.probes import c_heap

FLAGS = {option.name: option.flag for option in OPTIONS}
INI_KEYS = {option.name: option.ini_key for option in OPTIONS}
SECTION = re.compile(r"^=+ leakguard =+$")
HEADER = "leakguard: checking every test*"

RECORD = """
import pathlib

import pytest


def record(name):
    with open(pathlib.Path(__file__).parent / "runs.txt", "a") as stream:
        stream.write(name + "\\n")
"""


def output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def assert_no_internal_error(result: pytest.RunResult) -> None:
    assert "INTERNALERROR" not in output(result), output(result)
    assert result.ret != pytest.ExitCode.INTERNAL_ERROR


def assert_usage_error(result: pytest.RunResult, *fragments: str) -> None:
    assert_no_internal_error(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output(result)
    text = output(result)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"


def body_runs(pytester: pytest.Pytester) -> collections.Counter[str]:
    path = pytester.path / "runs.txt"
    names = path.read_text().split() if path.exists() else []
    path.unlink(missing_ok=True)
    return collections.Counter(names)


def sections(result: pytest.RunResult) -> int:
    return sum(1 for line in result.outlines if SECTION.match(line))


def header_lines(result: pytest.RunResult) -> list[str]:
    """The header's lines but the one about a missing counter (its own test, below)."""
    return [
        line
        for line in result.outlines
        if line.startswith("leakguard:") and "compiled allocation counter" not in line
    ]


def write_ini(pytester: pytest.Pytester, kind: str, values: dict[str, str]) -> Path:
    """Write ``values`` to a pytest.ini or a pyproject.toml; return its path."""
    if kind == "pytest.ini":
        lines = ["[pytest]", *(f"{key} = {value}" for key, value in values.items())]
        return pytester.makefile(".ini", pytest="\n".join(lines))
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return pytester.makepyprojecttoml("\n".join(lines))


# ---------------------------------------------------------------- --help and --markers


def test_help_lists_every_option_and_ini_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    text = result.stdout.str()
    assert "memory-leak checks (pytest-leakguard)" in text
    for flag, ini_key in ((option.flag, option.ini_key) for option in OPTIONS):
        assert re.search(rf"^\s+{re.escape(flag)}\b", text, re.MULTILINE), flag
        assert re.search(rf"^\s+{re.escape(ini_key)} \(", text, re.MULTILINE), ini_key


def test_markers_lists_the_leakguard_marker(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["@pytest.mark.leakguard(enabled=True, *): check this test*"])
    line = next(line for line in result.outlines if "@pytest.mark.leakguard(" in line)
    for kwarg in MARKER_KWARGS:
        assert f"{kwarg}=" in line


# ---------------------------------------------------------------- bad values on the command line


BAD_FLAGS = [
    ("enabled", "--leakguard=yes", ["--leakguard", "'yes'"]),
    ("strict", "--leakguard-strict=yes", ["--leakguard-strict", "'yes'"]),
    ("runs", "--leakguard-runs=-1", ["argument --leakguard-runs", "'-1' is negative"]),
    ("runs", "--leakguard-runs=abc", ["argument --leakguard-runs", "'abc' is not a whole number"]),
    ("runs", "--leakguard-runs=1.5", ["argument --leakguard-runs", "'1.5'"]),
    ("runs", "--leakguard-runs=0", ["--leakguard-runs", "0"]),
    ("max_runs", "--leakguard-max-runs=many", ["argument --leakguard-max-runs", "'many'"]),
    ("max_runs", "--leakguard-max-runs=-3", ["argument --leakguard-max-runs", "'-3'"]),
    ("warmup", "--leakguard-warmup=-1", ["argument --leakguard-warmup", "'-1' is negative"]),
    ("warmup", "--leakguard-warmup=two", ["argument --leakguard-warmup", "'two'"]),
    ("thorough", "--leakguard-thorough=yes", ["--leakguard-thorough", "'yes'"]),
    (
        "confirm_runs",
        "--leakguard-confirm-runs=0",
        ["argument --leakguard-confirm-runs", "'0' is less than 1; use 1 to 10000"],
    ),
    (
        "confirm_runs",
        "--leakguard-confirm-runs=lots",
        ["argument --leakguard-confirm-runs", "'lots' is not a whole number"],
    ),
    (
        "confirm_seconds",
        "--leakguard-confirm-seconds=-1",
        ["argument --leakguard-confirm-seconds", "'-1' is negative"],
    ),
    (
        "confirm_seconds",
        "--leakguard-confirm-seconds=forever",
        ["argument --leakguard-confirm-seconds", "'forever' is not a number of seconds"],
    ),
    (
        "confirm_seconds",
        "--leakguard-confirm-seconds=inf",
        ["argument --leakguard-confirm-seconds", "'inf' is not a finite number of seconds"],
    ),
    (
        "budget",
        "--leakguard-budget=12 parsecs",
        ["--leakguard-budget", "'12 parsecs'", "unknown unit 'parsecs'"],
    ),
    ("budget", "--leakguard-budget=lots", ["--leakguard-budget", "'lots' is not a size"]),
    ("budget", "--leakguard-budget=", ["--leakguard-budget", "empty item"]),
    ("budget", "--leakguard-budget=nope:1", ["--leakguard-budget", "unknown probe 'nope'"]),
    ("budget", "--leakguard-budget=blocks:1 KiB", ["--leakguard-budget", "'blocks:1 KiB'"]),
    ("budget", "--leakguard-budget=blocks:inf", ["--leakguard-budget", "inf"]),
    ("budget", "--leakguard-budget=" + "9" * 400, ["--leakguard-budget", "9" * 400]),
    ("probes", "--leakguard-probes=nope", ["--leakguard-probes", "unknown probe 'nope'"]),
    ("probes", "--leakguard-probes=", ["--leakguard-probes", "names no probe"]),
    ("probes", "--leakguard-probes=rss,,blocks", ["--leakguard-probes", "'rss,,blocks'"]),
    ("probes", "--leakguard-probes=rss,-blocks", ["--leakguard-probes", "mixes probes"]),
    ("explain", "--leakguard-explain=maybe", ["--leakguard-explain", "'maybe'"]),
    (
        "compare_fail",
        "--leakguard-compare-fail=bytes:lots",
        ["--leakguard-compare-fail", "'lots' is not a size"],
    ),
    (
        "compare_fail",
        "--leakguard-compare-fail=nope:1",
        ["--leakguard-compare-fail", "unknown probe or unit 'nope'"],
    ),
    (
        "baseline_path",
        "--leakguard-baseline=missing.json",
        ["baseline file", "missing.json does not exist"],
    ),
    ("save_baseline_path", "--leakguard-save-baseline=.", [". is a directory"]),
    ("json_path", "--leakguard-json=.", [". is a directory"]),
    ("html_path", "--leakguard-html=.", [". is a directory"]),
    ("codequality_path", "--leakguard-codequality=.", [". is a directory"]),
    (
        "ignore",
        "--leakguard-ignore=socket:*",
        ["--leakguard-ignore", "'socket:*' is not KIND:GLOB"],
    ),
    ("ignore", "--leakguard-ignore=thread:", ["--leakguard-ignore", "'thread:'"]),
    ("native", "--leakguard-native=yes", ["--leakguard-native", "'yes'"]),
    (
        "allow_incomplete",
        "--leakguard-allow-incomplete=yes",
        ["--leakguard-allow-incomplete", "'yes'"],
    ),
    (
        "clean_details",
        "--leakguard-clean-details=yes",
        ["--leakguard-clean-details", "'yes'"],
    ),
    ("graph_dir", "--leakguard-graph-dir=", ["--leakguard-graph-dir", "is empty"]),
    (
        "graph_dir",
        "--leakguard-graph-dir=test_bad_command_line_value_is_a_usage_error.py",
        ["--leakguard-graph-dir", "a file, not a directory"],
    ),
    (
        "ignore",
        "--leakguard-ignore=site:a/[b",
        ["--leakguard-ignore", "site:a/[b has an unclosed ["],
    ),
    (
        "ignore",
        "--leakguard-ignore=type:f()",
        ["--leakguard-ignore", "type:f() is not a type name"],
    ),
]


@pytest.mark.parametrize(
    ("setting", "arg", "fragments"), BAD_FLAGS, ids=[arg[:40] for _, arg, _ in BAD_FLAGS]
)
def test_bad_command_line_value_is_a_usage_error(
    pytester: pytest.Pytester, setting: str, arg: str, fragments: list[str]
) -> None:
    if setting not in FLAGS:
        pytest.skip(f"no option for {setting}")
    pytester.makepyfile("def test_it(): pass")
    # --co: nothing is measured in process, even if the value were accepted
    result = pytester.runpytest("--leakguard", arg, "--co")
    assert_usage_error(result, *fragments)


def test_every_option_has_a_bad_value_test() -> None:
    tested = {setting for setting, _, _ in BAD_FLAGS} | {"json_path"}
    assert set(FLAGS) <= tested, "add a bad value for the new option to BAD_FLAGS"


# ---------------------------------------------------------------- bad values in the ini file


BAD_INI = [
    ("budget", "lots", "'lots' is not a size"),
    ("budget", "12 parsecs", "unknown unit 'parsecs'"),
    ("budget", "nope:1", "unknown probe 'nope'"),
    ("runs", "abc", "is not a whole number"),
    ("runs", "-1", "is negative"),
    ("runs", "0", "leakguard_runs"),
    ("max_runs", "x", "is not a whole number"),
    ("warmup", "-2", "is negative"),
    ("thorough", "maybe", "is not a boolean"),
    ("confirm_runs", "10001", "'10001' is more than 10000; use 1 to 10000"),
    ("confirm_seconds", "a while", "'a while' is not a number of seconds"),
    ("confirm_seconds", "7200", "'7200' is more than 3600; use 0 to 3600"),
    ("probes", "nope", "unknown probe 'nope'"),
    ("enabled", "maybe", "is not a boolean"),
    ("strict", "maybe", "is not a boolean"),
    ("explain", "maybe", "is not a boolean"),
    ("native", "maybe", "is not a boolean"),
    ("graph_dir", "test_bad_ini_value_is_a_usage_error_naming_key_and_file.py", "not a directory"),
]


@pytest.mark.parametrize("kind", ["pytest.ini", "pyproject.toml"])
@pytest.mark.parametrize(
    ("setting", "value", "fragment"), BAD_INI, ids=[f"{s}={v}" for s, v, _ in BAD_INI]
)
def test_bad_ini_value_is_a_usage_error_naming_key_and_file(
    pytester: pytest.Pytester, kind: str, setting: str, value: str, fragment: str
) -> None:
    if setting not in INI_KEYS:
        pytest.skip(f"no ini key for {setting}")
    key = INI_KEYS[setting]
    path = write_ini(pytester, kind, {key: value})
    pytester.makepyfile("def test_it(): pass")
    result = pytester.runpytest("--co")
    assert_usage_error(result, f"ini key {key} in {path}", repr(value), fragment)
    result.stderr.fnmatch_lines(["ERROR: leakguard: *"])


def test_bad_ini_budget_message(pytester: pytest.Pytester) -> None:
    path = write_ini(pytester, "pytest.ini", {"leakguard_budget": "lots"})
    result = pytester.runpytest()
    assert_usage_error(result)
    result.stderr.fnmatch_lines(
        [f"ERROR: leakguard: invalid value 'lots' for ini key leakguard_budget in {path}: *"]
    )


def test_bad_ini_value_under_a_good_command_line_value_is_ignored(
    pytester: pytest.Pytester,
) -> None:
    write_ini(pytester, "pytest.ini", {"leakguard_runs": "abc"})
    pytester.makepyfile("def test_it(): pass")
    result = pytester.runpytest("--co", "--leakguard", "--leakguard-runs=3")
    assert_no_internal_error(result)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["leakguard: checking every test: 1 warm-up + 3 to 20 *"])


# ---------------------------------------------------------------- bad values in a marker


BAD_MARKERS = [
    ("bogus=1", "test_it", "unknown argument bogus=1"),
    ("'1 KiB'", "test_it", "keyword arguments only"),
    ("budget='lots'", "test_it", "invalid value 'lots' for budget="),
    ("budget={'nope': 1}", "test_it", "unknown probe 'nope'"),
    ("runs='many'", "test_it", "invalid value 'many' for runs="),
    ("runs=0", "test_it", "runs"),
    ("probes='nope'", "test_it", "unknown probe 'nope'"),
    ("enabled='maybe'", "test_it", "invalid value 'maybe' for enabled="),
    ("budget=float('inf')", "test_it", "budget"),
    ("native='maybe'", "test_it", "invalid value 'maybe' for native="),
    ("confirm_runs=-5", "test_it", "invalid value -5 for confirm_runs="),
    ("confirm_seconds='long'", "test_it", "invalid value 'long' for confirm_seconds="),
    ("thorough='very'", "test_it", "invalid value 'very' for thorough="),
]


@pytest.mark.parametrize(
    ("args", "test", "fragment"), BAD_MARKERS, ids=[a for a, _, _ in BAD_MARKERS]
)
def test_bad_marker_is_a_usage_error_naming_the_test(
    pytester: pytest.Pytester, args: str, test: str, fragment: str
) -> None:
    pytester.makepyfile(
        test_bad=f"""
        import pytest

        @pytest.mark.leakguard({args})
        def {test}():
            pass

        def test_other():
            pass
        """
    )
    result = pytester.runpytest("--co")
    assert_usage_error(result, f"marker leakguard on test_bad.py::{test}", fragment)
    result.stderr.fnmatch_lines(["ERROR: leakguard: *"])


def test_bad_class_and_module_markers_name_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_cls="""
        import pytest

        @pytest.mark.leakguard(runz=3)
        class TestCart:
            def test_checkout(self):
                pass
        """
    )
    result = pytester.runpytest("--co", "test_cls.py")
    assert_usage_error(result, "runz=3", "test_cls.py::TestCart::test_checkout")
    pytester.makepyfile(
        test_mod="""
        import pytest

        pytestmark = pytest.mark.leakguard(budget="12 parsecs")

        def test_one():
            pass
        """
    )
    result = pytester.runpytest("--co", "test_mod.py")
    assert_usage_error(result, "'12 parsecs'", "test_mod.py::test_one")


def test_bad_marker_is_reported_without_leakguard_flag_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.leakguard(bogus=1)
        def test_it():
            pass
        """
    )
    assert_usage_error(pytester.runpytest("--co"), "bogus")
    assert_usage_error(pytester.runpytest("--co", "--leakguard"), "bogus")


# ---------------------------------------------------------------- precedence: CLI > ini > default


def run_settings(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Collect only (nothing measured) and return the result and the JSON report's settings."""
    pytester.makepyfile("def test_it(): pass")
    report = pytester.path / "leakguard.json"
    report.unlink(missing_ok=True)
    result = pytester.runpytest("--co", "--leakguard-json=leakguard.json", *args)
    assert_no_internal_error(result)
    assert result.ret == 0, output(result)
    settings: dict[str, Any] = json.loads(report.read_text())["settings"]
    return result, settings


PRECEDENCE = [
    pytest.param(
        {},
        [],
        {
            "runs": 2,
            "max_runs": 20,
            "warmup": 1,
            "strict": False,
            "thorough": False,
            "confirm_runs": 300,
            "confirm_seconds": 10.0,
        },
        id="defaults",
    ),
    pytest.param({"leakguard_thorough": "true"}, [], {"runs": 3, "warmup": 2}, id="thorough-ini"),
    pytest.param({}, ["--leakguard-thorough"], {"runs": 3, "warmup": 2}, id="thorough-cli"),
    pytest.param(
        {"leakguard_confirm_runs": "50", "leakguard_confirm_seconds": "2.5"},
        ["--leakguard-confirm-runs=60"],
        {"confirm_runs": 60, "confirm_seconds": 2.5},
        id="confirmation",
    ),
    pytest.param({"leakguard_runs": "7"}, [], {"runs": 7}, id="ini"),
    pytest.param({"leakguard_runs": "7"}, ["--leakguard-runs=6"], {"runs": 6}, id="cli-over-ini"),
    pytest.param({}, ["--leakguard-runs=6"], {"runs": 6}, id="cli"),
    pytest.param(
        {"leakguard_warmup": "3", "leakguard_max_runs": "9"},
        ["--leakguard-warmup=1"],
        {"warmup": 1, "max_runs": 9},
        id="warmup-and-max-runs",
    ),
    pytest.param({"leakguard_runs": "30"}, [], {"runs": 30, "max_runs": 30}, id="runs-raise-max"),
    pytest.param(
        {"leakguard_budget": "1 KiB"},
        ["--leakguard-budget=2 KiB"],
        {"budget": "2.0 KiB/run (rss 64.0 KiB/run)"},
        id="budget",
    ),
    pytest.param(
        {"leakguard_probes": "rss"},
        ["--leakguard-probes=blocks"],
        {"probes": ["blocks"]},
        id="probes",
    ),
    pytest.param(
        {"leakguard_probes": "rss,heap"},
        [],
        {"probes": ["rss", "heap"]},
        id="probes-ini",
    ),
    pytest.param(
        {"leakguard_probes": "rss"},
        ["--leakguard-probes=-heap,-rss"],
        {"probes": ["blocks", "objects", "malloc", "fds", "threads", "tasks", "processes"]},
        id="probes-left-out",
    ),
    pytest.param({"leakguard_strict": "true"}, [], {"strict": True}, id="strict-ini"),
    pytest.param({}, ["--leakguard-strict"], {"strict": True}, id="strict-cli"),
]


@pytest.mark.parametrize("kind", ["pytest.ini", "pyproject.toml"])
@pytest.mark.parametrize(("ini", "args", "expected"), PRECEDENCE)
def test_command_line_over_ini_over_default(
    pytester: pytest.Pytester,
    kind: str,
    ini: dict[str, str],
    args: list[str],
    expected: dict[str, Any],
) -> None:
    write_ini(pytester, kind, ini)
    result, settings = run_settings(pytester, "--leakguard", *args)
    for key, value in expected.items():
        assert settings[key] == value, key
    (header,) = header_lines(result)
    labels = {"heap": f"heap ({HEAP_ENGINE})", "malloc": f"malloc ({c_heap.source().label})"}
    probes = ", ".join(labels.get(name, name) for name in settings["probes"])
    assert header.startswith(
        f"leakguard: checking every test: {settings['warmup']} warm-up"
        f" + {settings['runs']} to {settings['max_runs']} measured runs,"
        f" budget {settings['budget']}, probes {probes}"
    )
    assert header.endswith(", strict") == settings["strict"]


def test_header_appears_with_leakguard_only(pytester: pytest.Pytester) -> None:
    result, _ = run_settings(pytester)
    assert header_lines(result) == []
    result, _ = run_settings(pytester, "--leakguard")
    result.stdout.fnmatch_lines([HEADER])
    assert len(header_lines(result)) == 1


def test_ini_can_enable_the_check(pytester: pytest.Pytester) -> None:
    write_ini(pytester, "pytest.ini", {"leakguard": "true", "leakguard_runs": "7"})
    result, settings = run_settings(pytester)
    result.stdout.fnmatch_lines(["leakguard: checking every test: 1 warm-up + 7 to 20 *"])
    assert settings["runs"] == 7


def test_header_shows_per_probe_byte_budgets_as_sizes(pytester: pytest.Pytester) -> None:
    result, settings = run_settings(
        pytester, "--leakguard", "--leakguard-budget=rss:1MiB,blocks:10"
    )
    (header,) = header_lines(result)
    assert "rss 1.0 MiB" in header, header
    assert "blocks 10" in header
    assert "e+0" not in settings["budget"]


@pytest.mark.skipif(
    tuple(int(p) for p in pytest.__version__.split(".")[:2]) < (9, 0),
    reason="the native [tool.pytest] table is new in pytest 9",
)
def test_native_toml_table_takes_booleans_and_numbers(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest]
        leakguard = true
        leakguard_runs = 7
        leakguard_budget = "1 KiB"
        """
    )
    result, settings = run_settings(pytester)
    assert settings["runs"] == 7
    result.stdout.fnmatch_lines(["leakguard: checking every test: 1 warm-up + 7 to 20 *"])


# ---------------------------------------------------------------- off by default


SUITE = {
    "test_module_marked": RECORD
    + """
pytestmark = pytest.mark.leakguard


def test_in_module():
    record("in_module")
""",
    "test_class_marked": RECORD
    + """
@pytest.mark.leakguard
class TestMarked:
    def test_in_class(self):
        record("in_class")


def test_outside_class():
    record("outside_class")
""",
    "test_plain": RECORD
    + """
def test_plain():
    record("plain")


@pytest.mark.leakguard(enabled=False)
def test_exempt():
    record("exempt")
""",
}

SMALL = (
    "--leakguard-warmup=1",
    "--leakguard-runs=2",
    "--leakguard-max-runs=2",
    "--leakguard-budget=1 MiB",
)
"""1 normal run + 1 warm-up + 2 measured runs: 4 executions of a checked test.

These tests count runs, they do not judge: the budget keeps every verdict clean
(with so few runs, the harness's own first allocations can look like growth).
"""


def test_without_flag_and_marker_the_plugin_does_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain=RECORD
        + """
def test_one():
    record("one")


@pytest.mark.parametrize("i", [1, 2])
def test_two(i):
    record("two")
"""
    )
    # the run options alone do not enable anything
    result = pytester.runpytest("--leakguard-runs=3", "--leakguard-warmup=1")
    result.assert_outcomes(passed=3)
    assert body_runs(pytester) == {"one": 1, "two": 2}
    assert sections(result) == 0
    assert header_lines(result) == []
    # the plugin is installed (listed under "plugins:") and silent
    assert not [line for line in result.outlines if "leakguard" in line and "plugins:" not in line]


def test_markers_enable_the_check_for_their_tests_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**SUITE)
    result = pytester.runpytest_subprocess(*SMALL, "--leakguard-json=report.json")
    assert_no_internal_error(result)
    result.assert_outcomes(passed=5)
    assert body_runs(pytester) == {
        "in_module": 4,
        "in_class": 4,
        "outside_class": 1,
        "plain": 1,
        "exempt": 1,
    }
    assert header_lines(result) == []
    assert sections(result) == 1
    report = json.loads((pytester.path / "report.json").read_text())
    assert sorted(t["nodeid"] for t in report["tests"]) == [
        "test_class_marked.py::TestMarked::test_in_class",
        "test_module_marked.py::test_in_module",
    ]
    for test in report["tests"]:
        assert test["warmup"] == 1
        assert test["runs"] == 2


def test_enabled_false_exempts_a_test_under_leakguard(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**SUITE)
    result = pytester.runpytest_subprocess("--leakguard", *SMALL, "--leakguard-json=report.json")
    assert_no_internal_error(result)
    result.assert_outcomes(passed=5)
    assert body_runs(pytester) == {
        "in_module": 4,
        "in_class": 4,
        "outside_class": 4,
        "plain": 4,
        "exempt": 1,
    }
    result.stdout.fnmatch_lines([HEADER])
    assert sections(result) == 1
    result.stdout.fnmatch_lines(["4 checked: *"])
    report = json.loads((pytester.path / "report.json").read_text())
    nodeids = [t["nodeid"] for t in report["tests"]]
    assert len(nodeids) == 4
    assert "test_plain.py::test_exempt" not in nodeids


# ---------------------------------------------------------------- -p no:leakguard


def test_disabled_plugin_has_no_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(): pass")
    result = pytester.runpytest("-p", "no:leakguard", "--leakguard")
    assert_usage_error(result, "unrecognized arguments: --leakguard")
    result = pytester.runpytest("-p", "no:leakguard", "--help")
    assert "--leakguard" not in result.stdout.str()
    result = pytester.runpytest("-p", "no:leakguard", "--markers")
    assert "@pytest.mark.leakguard" not in result.stdout.str()


def test_disabled_plugin_leaves_marked_tests_alone(pytester: pytest.Pytester) -> None:
    write_ini(pytester, "pytest.ini", {"leakguard_runs": "3"})
    pytester.makepyfile(
        RECORD
        + """
@pytest.mark.leakguard(runs=3)
def test_marked():
    record("marked")
"""
    )
    # in a subprocess: in process, pytest.mark remembers the markers of the outer run
    result = pytester.runpytest_subprocess("-p", "no:leakguard")
    assert_no_internal_error(result)
    result.assert_outcomes(passed=1, warnings=2)
    assert body_runs(pytester) == {"marked": 1}
    assert sections(result) == 0
    result.stdout.fnmatch_lines(
        ["*Unknown config option: leakguard_runs*", "*Unknown pytest.mark.leakguard*"],
        consecutive=False,
    )


# ---------------------------------------------------------------- xdist


XDIST_SUITE = (
    RECORD
    + """
_KEPT = []


def test_leaks():
    record("leaks")
    _KEPT.append(bytearray(256 * 1024))


def test_clean():
    record("clean")


@pytest.mark.parametrize("i", range(4))
def test_clean_param(i):
    record(f"param{i}")
"""
)
XDIST_ARGS = (
    "--leakguard",
    "--leakguard-warmup=1",
    "--leakguard-runs=3",
    "--leakguard-max-runs=3",
    "--leakguard-budget=64 KiB",  # test_leaks keeps 256 KiB per run; noise stays below
    "--leakguard-json=out/report.json",
)


if "explain" in FLAGS:
    XDIST_ARGS += (f"{FLAGS['explain']}=no",)  # the deep probes cost seconds, not tested here


def run_suite(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, str]]:
    result = pytester.runpytest_subprocess(*XDIST_ARGS, *args)
    assert_no_internal_error(result)
    result.assert_outcomes(passed=5, failed=1)
    assert sections(result) == 1, output(result)
    out = pytester.path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]  # no per-worker file, no tmp
    report = json.loads((out / "report.json").read_text())
    (out / "report.json").unlink()
    nodeids = [t["nodeid"] for t in report["tests"]]
    assert len(nodeids) == len(set(nodeids)) == 6
    return result, {t["nodeid"]: t["verdict"] for t in report["tests"]}


def test_xdist_gives_the_same_verdicts_one_report_one_summary(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_suite=XDIST_SUITE)

    alone, verdicts_alone = run_suite(pytester, "-p", "no:xdist")
    runs_alone = body_runs(pytester)
    distributed, verdicts_distributed = run_suite(pytester, "-n", "2")
    runs_distributed = body_runs(pytester)

    assert verdicts_alone["test_suite.py::test_leaks"] == "leak"
    assert verdicts_distributed == verdicts_alone
    for result in (alone, distributed):
        result.stdout.fnmatch_lines(
            ["LEAKED test_suite.py::test_leaks - *", "6 checked: 1 leaked*"]
        )
        in_section = [
            line
            for line in result.outlines
            if line.startswith("LEAKED test_suite.py::test_leaks - ") and "memory leak" not in line
        ]
        assert len(in_section) == 1, output(result)  # once, not once per worker
    # a clean test: its normal run, 1 warm-up and 3 measured runs, with or without xdist
    for name in ("clean", "param0", "param1", "param2", "param3"):
        assert runs_alone[name] == runs_distributed[name] == 5, name
    assert runs_distributed["leaks"] == runs_alone["leaks"] >= 5
    distributed.stdout.fnmatch_lines(["*2 workers*"])


def test_xdist_bad_command_line_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile("def test_it(): pass")
    result = pytester.runpytest_subprocess("-n", "2", "--leakguard", "--leakguard-budget=lots")
    assert_usage_error(result, "--leakguard-budget", "'lots'")


def test_xdist_bad_marker_is_a_usage_error_naming_the_test(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.leakguard(bogus=1)
        def test_it():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-n", "2")
    assert_no_internal_error(result)
    # A usage error (4) as without xdist, or a collection error (exit 1 or 2 under
    # xdist): what matters is a clean failure that names the test.
    assert result.ret in (
        pytest.ExitCode.USAGE_ERROR,
        pytest.ExitCode.INTERRUPTED,
        pytest.ExitCode.TESTS_FAILED,
    )
    assert "test_bad.py::test_it" in output(result)
    assert "bogus" in output(result)


# ---------------------------------------------------------------- the pytest-leakguard command


def test_command_version(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_leakguard import __version__, cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"pytest-leakguard {__version__}\n"


COMMAND_USAGE_ERRORS = [
    (["merge", "a.json"], "merge", "the following arguments are required: -o/--output"),
    (["merge", "-o", "all.json"], "merge", "the following arguments are required: FILE"),
    (["merge", "a.json", "-o", "x", "--bogus"], "merge", "unrecognized arguments: --bogus"),
    (["compare", "old.json"], "compare", "the following arguments are required: NEW"),
    (["compare", "a", "b", "--fail=bytes:lots"], "compare", "argument --fail: 'lots' is not a"),
    (["compare", "a", "b", "-x", "y"], "compare", "unrecognized arguments: -x y"),
    (["html", "r.json"], "html", "the following arguments are required: -o/--output"),
    (["html", "r.json", "-o", "x", "2.json", "--no"], "html", "unrecognized arguments: --no"),
]


@pytest.mark.parametrize(
    ("args", "command", "message"),
    COMMAND_USAGE_ERRORS,
    ids=[" ".join(args) for args, _, _ in COMMAND_USAGE_ERRORS],
)
def test_command_usage_error_prints_the_subcommand_usage(
    capsys: pytest.CaptureFixture[str], args: list[str], command: str, message: str
) -> None:
    from pytest_leakguard import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: pytest-leakguard {command} "), err
    assert f"pytest-leakguard {command}: error: {message}" in err


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["--bogus", "merge", "a", "-o", "b"]])
def test_command_without_a_known_subcommand_lists_them(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    from pytest_leakguard import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: pytest-leakguard [-h] [--version] {compare,merge,html} ...")


@pytest.mark.parametrize("command", ["html", "merge"])
def test_command_output_that_cannot_be_written_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    from pytest_leakguard import cli

    report = tmp_path / "report.json"
    report.write_text('{"version": 1, "complete": true, "tests": []}', encoding="utf-8")
    output = report / "out"  # under a file
    assert cli.main([command, str(report), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {output}: "), err
    assert err.count("cannot write") == 1, err
    assert "Traceback" not in err


# ---------------------------------------------------------------- a missing allocation counter


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["alone", "xdist"])
@pytest.mark.parametrize("built", [True, False], ids=["built", "missing"])
def test_a_missing_counter_is_said_once_at_the_top_and_recorded(
    pytester: pytest.Pytester, built: bool, xdist: tuple[str, ...]
) -> None:
    if built and not COUNTER_BUILT:
        pytest.skip("the allocation counter is not built here")
    if xdist:
        pytest.importorskip("xdist")
    pytester.makepyfile(no_counter=NO_COUNTER, test_it="def test_it(): pass")
    hide = () if built else ("-p", "no_counter")
    args = ("--leakguard", "--leakguard-json=r.json", "--leakguard-html=r.html", "--co")
    result = pytester.runpytest_subprocess(*hide, *args, *xdist)
    assert result.ret == 0, output(result)
    said = [line for line in output(result).splitlines() if "compiled allocation" in line]
    settings = json.loads((pytester.path / "r.json").read_text())["settings"]
    page = (pytester.path / "r.html").read_text()
    assert settings["allocation_counter"] is built
    assert f"<dt>allocation_counter</dt><dd>{'yes' if built else 'no'}</dd>" in page
    if built:
        assert said == [], said
        return
    assert said == [
        "leakguard: the compiled allocation counter is not installed (pytest-leakguard was built"
        " from source without a C compiler): the heap probe counts with tracemalloc, which makes"
        " each allocation in a checked test 4 to 8 times dearer instead of 2 to 3 times; install"
        " a pytest-leakguard wheel, or a C compiler and reinstall it"
    ]
    header = result.outlines.index(said[0])
    assert header < next(i for i, line in enumerate(result.outlines) if "collected" in line)


def test_no_counter_line_without_the_heap_probe(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(no_counter=NO_COUNTER, test_it="def test_it(): pass")
    result = pytester.runpytest_subprocess(
        "-p", "no_counter", "--leakguard", "--leakguard-probes=-heap", "--co"
    )
    assert result.ret == 0, output(result)
    assert "compiled allocation counter" not in output(result)
