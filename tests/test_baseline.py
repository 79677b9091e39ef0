"""Unit tests of pytest_leakguard.baseline: rules, load (of every malformed file), save, compare.

The module is pure (no pytest import, no measurement), so everything here runs in
process on hand-written figures.  The end-to-end gate is in ``test_baseline_e2e.py``.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from pytest_leakguard.baseline import (
    DEFAULT_RULES,
    FORMAT,
    VERSION,
    Baseline,
    BaselineError,
    Change,
    Comparison,
    Rule,
    compare,
    comparison_to_json,
    from_results,
    load,
    parse_rules,
    rule_for,
    save,
    table,
)
from pytest_leakguard.report import json_report

KIB = 1024
MIB = 1024**2

UNITS = {
    "blocks": "count",
    "objects": "count",
    "heap": "bytes",
    "rss": "bytes",
    "fds": "resources",
    "threads": "resources",
    "tasks": "resources",
    "processes": "resources",
}
"""The built-in probes' units (as the plugin and the command line pass them)."""

# Relative rules: the comparison mechanics below are easiest to read with them.
RULES = parse_rules("bytes:10%,count:10%,resources:0", UNITS)


def entry(verdict: str = "clean", **growth: float) -> dict[str, Any]:
    """A baseline entry: ``entry("clean", heap=0, blocks=0)``."""
    return {
        "verdict": verdict,
        "growth_per_run": {probe: float(value) for probe, value in growth.items()},
        "units": {probe: UNITS[probe] for probe in growth},
    }


def make(tests: dict[str, dict[str, Any]], **environment: Any) -> Baseline:
    return Baseline(tests, {"python": "3.11.7", "pytest_leakguard": "0.1.0", **environment})


def baseline_json(tests: Any, **extra: Any) -> dict[str, Any]:
    """A baseline file's content, with ``extra`` keys replaced (or dropped when ``None``)."""
    data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "environment": {}, "tests": tests}
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def report_json(tests: Any, version: Any = json_report.SCHEMA_VERSION) -> dict[str, Any]:
    """A ``--leakguard-json`` report's content (only the fields a baseline reads)."""
    return {"version": version, "settings": {}, "environment": {}, "tests": tests}


def result(nodeid: str, verdict: str = "clean", **sustained: Any) -> dict[str, Any]:
    """One test of a report: its sustained growth per probe (and a different raw growth)."""
    return {
        "nodeid": nodeid,
        "verdict": verdict,
        "growth_per_run": dict.fromkeys(sustained, 999.0),
        "sustained_growth_per_run": dict(sustained),
        "units": {probe: UNITS[probe] for probe in sustained},
    }


def write(path: Path, content: Any) -> Path:
    """Write ``content``: text as is, anything else as JSON (NaN and Infinity allowed)."""
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def strays(directory: Path) -> list[str]:
    """Temporary files an atomic write left behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".leakguard-"))


# ---------------------------------------------------------------- parse_rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bytes:1KiB", {"bytes": Rule(absolute=1024.0)}),
        ("bytes:512", {"bytes": Rule(absolute=512.0)}),
        ("bytes:1.5 KiB", {"bytes": Rule(absolute=1536.0)}),
        ("bytes:10%", {"bytes": Rule(relative=0.1)}),
        ("count:5", {"count": Rule(absolute=5.0)}),
        ("count:2.5", {"count": Rule(absolute=2.5)}),
        ("resources:0", {"resources": Rule(absolute=0.0)}),
        ("blocks:10%", {"blocks": Rule(relative=0.1)}),
        ("blocks:3", {"blocks": Rule(absolute=3.0)}),
        ("rss:1MiB", {"rss": Rule(absolute=float(MIB))}),  # rss is a byte probe: a size
        ("heap:0%", {"heap": Rule(relative=0.0)}),
        ("fds:1", {"fds": Rule(absolute=1.0)}),
        (
            " bytes : 1 KiB , blocks : 25% ",
            {"bytes": Rule(absolute=1024.0), "blocks": Rule(relative=0.25)},
        ),
        (
            DEFAULT_RULES,
            {
                "bytes": Rule(absolute=512.0),
                "count": Rule(absolute=2.0),
                "resources": Rule(absolute=0.0),
            },
        ),
    ],
)
def test_parse_rules(text: str, expected: dict[str, Rule]) -> None:
    assert parse_rules(text, UNITS) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is not KEY:TOLERANCE"),
        ("bytes", "'bytes' is not KEY:TOLERANCE"),
        ("bytes:", "is not KEY:TOLERANCE"),
        (":1KiB", "is not KEY:TOLERANCE"),
        ("bytes:1KiB,", "is not KEY:TOLERANCE"),
        ("bytes:1KiB,,count:1", "is not KEY:TOLERANCE"),
        ("nope:1", "unknown probe or unit 'nope'"),
        ("Bytes:1", "unknown probe or unit 'Bytes'"),
        ("bytes:lots", "'lots' is not a size"),
        ("bytes:12 parsecs", "unknown unit 'parsecs'"),
        ("bytes:-1", "'-1' is not a size"),
        ("count:many", "'many' is not a number"),
        ("count:-1", "negative"),
        ("count:inf", "not a finite number"),
        ("count:nan", "not a finite number"),
        ("blocks:1KiB", "'1KiB' is not a number"),  # a count probe takes a number
        ("bytes:%", "'' is not a number"),
        ("bytes:-5%", "negative"),
        ("bytes:ten%", "'ten' is not a number"),
    ],
)
def test_parse_rules_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_rules(text, UNITS)
    assert fragment in str(excinfo.value)


def test_parse_rules_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_rules("nope:1", UNITS)
    for name in ("bytes", "count", "resources", *UNITS):
        assert name in str(excinfo.value)


# ---------------------------------------------------------------- rule_for and Rule.tolerance


def test_rule_for_prefers_the_probes_own_rule() -> None:
    rules = parse_rules("bytes:10%,rss:1MiB,count:1", UNITS)
    assert rule_for(rules, "rss", "bytes") == Rule(absolute=float(MIB))
    assert rule_for(rules, "heap", "bytes") == Rule(relative=0.1)
    assert rule_for(rules, "blocks", "count") == Rule(absolute=1.0)
    assert rule_for(rules, "fds", "resources") is None


def test_rule_for_a_zero_rule_is_still_a_rule() -> None:
    # Rule(absolute=0.0) must not be skipped as "falsy" in favour of the group's rule.
    rules = parse_rules("bytes:1MiB,heap:0", UNITS)
    assert rule_for(rules, "heap", "bytes") == Rule(absolute=0.0)


@pytest.mark.parametrize(
    ("rule", "base", "expected"),
    [
        (Rule(absolute=1024.0), 0.0, 1024.0),
        (Rule(absolute=1024.0), 10 * MIB, 1024.0),
        (Rule(absolute=0.0), 500.0, 0.0),
        (Rule(relative=0.1), 1000.0, 100.0),
        (Rule(relative=0.1), 0.0, 0.0),  # nothing grew: any sustained growth is more
        (Rule(relative=0.1), -1000.0, 100.0),  # a shrinking baseline: the size of the figure
        (Rule(relative=0.0), 1000.0, 0.0),
        (Rule(relative=1.5), 1000.0, 1500.0),
        (Rule(), 1000.0, 0.0),
    ],
)
def test_rule_tolerance(rule: Rule, base: float, expected: float) -> None:
    assert rule.tolerance(base) == pytest.approx(expected)


# ---------------------------------------------------------------- load: valid files


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    original = make(
        {
            "test_a.py::test_one": entry("clean", heap=0, blocks=0, fds=0),
            "test_a.py::test_two[x-1]": entry("leak", heap=2048.5, blocks=3),
        },
        platform="linux",
    )
    path = str(tmp_path / "baseline.json")
    save(path, original)
    loaded = load(path)
    assert loaded == original
    assert loaded.to_json() == original.to_json()


def test_saved_file_is_sorted_versioned_json(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    save(str(path), make({"b::t": entry(blocks=1), "a::t": entry(blocks=0)}))
    text = path.read_text()
    data = json.loads(text)
    assert data["format"] == FORMAT
    assert data["version"] == VERSION
    assert list(data) == sorted(data)
    assert list(data["tests"]) == ["a::t", "b::t"]  # diff-friendly: sorted keys
    assert text.endswith("}\n")
    assert "\n  " in text  # indented


def test_load_takes_integer_figures_as_floats(tmp_path: Path) -> None:
    data = baseline_json({"t::a": {"verdict": "clean", "growth_per_run": {"blocks": 3}}})
    data["tests"]["t::a"]["growth_per_run"]["heap"] = 0
    loaded = load(str(write(tmp_path / "b.json", data)))
    assert loaded.tests["t::a"]["growth_per_run"] == {"blocks": 3.0, "heap": 0.0}
    assert all(type(v) is float for v in loaded.tests["t::a"]["growth_per_run"].values())


def test_load_without_environment_or_units(tmp_path: Path) -> None:
    data = baseline_json(
        {"t::a": {"verdict": "clean", "growth_per_run": {"blocks": 1.0}}}, environment=None
    )
    loaded = load(str(write(tmp_path / "b.json", data)))
    assert loaded.environment == {}
    assert loaded.tests["t::a"]["units"] == {}


def test_load_reads_a_report_by_its_sustained_growth(tmp_path: Path) -> None:
    report = report_json(
        [
            result("t::grows", "clean", heap=2048.0, blocks=1.0),
            result("t::flat", "clean", heap=0.0),
            # not measured (skipped, errored): no figures, left out
            {"nodeid": "t::skipped", "verdict": "skipped", "sustained_growth_per_run": {}},
            {"nodeid": "t::errored", "verdict": "error", "sustained_growth_per_run": None},
        ]
    )
    report["environment"] = {"python": "3.11.7"}
    loaded = load(str(write(tmp_path / "report.json", report)))
    assert sorted(loaded.tests) == ["t::flat", "t::grows"]
    # sustained growth, not the raw growth_per_run (999 in these results)
    assert loaded.tests["t::grows"]["growth_per_run"] == {"heap": 2048.0, "blocks": 1.0}
    assert loaded.tests["t::grows"]["units"] == {"heap": "bytes", "blocks": "count"}
    assert loaded.environment == {"python": "3.11.7"}


def test_load_reads_a_report_the_plugin_writes(tmp_path: Path) -> None:
    payload = json_report.build(
        [result("t::b", "leak", rss=0.0), result("t::a", "clean", rss=0.0)],
        {"runs": 5},
        {"python": "3.11.7"},
    )
    path = tmp_path / "report.json"
    json_report.write_atomic(str(path), payload)
    loaded = load(str(path))
    assert loaded.tests["t::b"]["verdict"] == "leak"
    assert loaded.tests["t::a"]["verdict"] == "clean"


def test_from_results_keeps_only_measured_tests() -> None:
    made = from_results(
        [result("t::a", heap=1), {"nodeid": "t::b", "verdict": "skipped"}],
        {"python": "3.11.7"},
    )
    assert list(made.tests) == ["t::a"]
    assert made.tests["t::a"]["growth_per_run"] == {"heap": 1.0}
    assert made.environment == {"python": "3.11.7"}


# ---------------------------------------------------------------- load: every malformed file


def _valid_text() -> str:
    return json.dumps(
        baseline_json({"t::a": entry("clean", heap=0, blocks=0)}), indent=2, sort_keys=True
    )


MALFORMED: list[Any] = [
    # not JSON at all
    pytest.param("this is not json\n", "is not valid JSON", id="not-json"),
    pytest.param("", "is not valid JSON", id="empty"),
    pytest.param("\x00\x00\x00\x00", "is not valid JSON", id="nul-bytes"),
    pytest.param("{'format': 'x'}", "is not valid JSON", id="python-not-json"),
    pytest.param(_valid_text()[: len(_valid_text()) // 2], "is not valid JSON", id="truncated"),
    pytest.param(_valid_text()[:-1], "is not valid JSON", id="truncated-last-brace"),
    pytest.param("[" * 100_000, "is not valid JSON", id="too-deeply-nested"),
    # JSON, but not a baseline or a report
    pytest.param([], "is not a leakguard baseline or report", id="json-list"),
    pytest.param([baseline_json({})], "is not a leakguard baseline or report", id="list-of-one"),
    pytest.param("42", "is not a leakguard baseline or report", id="json-number"),
    pytest.param("null", "is not a leakguard baseline or report", id="json-null"),
    pytest.param('"baseline"', "is not a leakguard baseline or report", id="json-string"),
    pytest.param({}, "is not a leakguard baseline or report", id="empty-object"),
    pytest.param(
        {"name": "my-app", "version": "1.0.0", "dependencies": {}},
        "is not a leakguard baseline or report",
        id="package-json",
    ),
    pytest.param(
        {**baseline_json({}), "format": "pytest-benchmark"},
        "is not a leakguard baseline or report",
        id="other-format",
    ),
    pytest.param(
        {"tests": [], "settings": {}},
        "is not a leakguard baseline or report",
        id="report-no-version",
    ),
    # versions
    pytest.param(
        baseline_json({}, version=99), "has version 99, newer than", id="baseline-version-99"
    ),
    pytest.param(report_json([], version=99), "has version 99, newer than", id="report-version-99"),
    pytest.param(baseline_json({}, version=None), "has no version number", id="no-version"),
    pytest.param(baseline_json({}, version="1"), "has no version number", id="version-string"),
    pytest.param(baseline_json({}, version=1.0), "has no version number", id="version-float"),
    pytest.param(baseline_json({}, version=True), "has no version number", id="version-true"),
    # the structure
    pytest.param(baseline_json(None), "malformed", id="missing-tests"),
    pytest.param(baseline_json([]), "'tests' is not an object", id="tests-a-list"),
    pytest.param(baseline_json("t::a"), "'tests' is not an object", id="tests-a-string"),
    pytest.param(baseline_json({"t::a": []}), "malformed", id="entry-a-list"),
    pytest.param(baseline_json({"t::a": None}), "malformed", id="entry-null"),
    pytest.param(
        baseline_json({"t::a": {"verdict": "clean"}}), "malformed", id="entry-without-growth"
    ),
    pytest.param(
        baseline_json({"t::a": {"growth_per_run": {}}}), "malformed", id="entry-without-verdict"
    ),
    pytest.param(
        baseline_json({"t::a": {"verdict": "clean", "growth_per_run": [1, 2]}}),
        "malformed",
        id="growth-a-list",
    ),
    pytest.param(
        baseline_json({"t::a": {"verdict": "clean", "growth_per_run": {}, "units": ["bytes"]}}),
        "malformed",
        id="units-a-list",
    ),
    pytest.param(baseline_json({}, environment="linux"), "malformed", id="environment-a-string"),
    pytest.param(report_json([["t::a"]]), "malformed", id="report-entry-a-list"),
    pytest.param(
        report_json([{"verdict": "clean", "sustained_growth_per_run": {"rss": 0.0}}]),
        "malformed",
        id="report-entry-no-nodeid",
    ),
]

BAD_FIGURES = [
    pytest.param("12", "'12'", id="string"),
    pytest.param(None, "None", id="null"),
    pytest.param(True, "True", id="boolean"),
    pytest.param([1], "[1]", id="list"),
    pytest.param({"a": 1}, "{'a': 1}", id="object"),
    pytest.param(math.nan, "nan", id="NaN"),
    pytest.param(math.inf, "inf", id="Infinity"),
    pytest.param(-math.inf, "-inf", id="-Infinity"),
]


@pytest.mark.parametrize(("content", "fragment"), MALFORMED)
def test_load_rejects_a_malformed_file(tmp_path: Path, content: Any, fragment: str) -> None:
    path = write(tmp_path / "baseline.json", content)
    before = path.read_bytes()
    with pytest.raises(BaselineError) as excinfo:
        load(str(path))
    message = str(excinfo.value)
    assert str(path) in message
    assert fragment in message
    assert path.read_bytes() == before


@pytest.mark.parametrize(("figure", "shown"), BAD_FIGURES)
def test_load_rejects_a_non_numeric_figure_in_a_baseline(
    tmp_path: Path, figure: Any, shown: str
) -> None:
    data = baseline_json({"t::a": entry(heap=0)})
    data["tests"]["t::a"]["growth_per_run"]["blocks"] = figure
    path = write(tmp_path / "baseline.json", data)
    if isinstance(figure, float):
        assert "NaN" in path.read_text() or "Infinity" in path.read_text()
    with pytest.raises(BaselineError) as excinfo:
        load(str(path))
    message = str(excinfo.value)
    assert str(path) in message
    assert "t::a" in message
    assert f"non-numeric figure {shown}" in message


@pytest.mark.parametrize(
    "figure",
    [
        pytest.param("abc", id="string"),
        pytest.param("nan", id="string-nan"),  # float("nan") would take it
        pytest.param("inf", id="string-inf"),
        pytest.param(True, id="boolean"),  # float(True) would take it
        pytest.param(None, id="null"),
        pytest.param(math.nan, id="NaN"),
        pytest.param(math.inf, id="Infinity"),
    ],
)
def test_load_rejects_a_non_numeric_figure_in_a_report(tmp_path: Path, figure: Any) -> None:
    # A report's figures must be checked like a baseline's: a NaN never compares
    # greater than anything, so it would silently pass the regression gate.
    path = write(tmp_path / "report.json", report_json([result("t::a", heap=figure)]))
    with pytest.raises(BaselineError) as excinfo:
        load(str(path))
    assert str(path) in str(excinfo.value)


def test_load_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(BaselineError, match="does not exist") as excinfo:
        load(str(path))
    assert str(path) in str(excinfo.value)
    assert not path.exists()


def test_load_a_directory(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read") as excinfo:
        load(str(tmp_path))
    assert str(tmp_path) in str(excinfo.value)


def test_load_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_bytes(b"\xff\xfe\x00\x01garbage\x80")
    with pytest.raises(BaselineError, match="cannot read") as excinfo:
        load(str(path))
    assert str(path) in str(excinfo.value)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads unreadable files"
)
def test_load_an_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "baseline.json", baseline_json({}))
    path.chmod(0)
    try:
        with pytest.raises(BaselineError, match="cannot read"):
            load(str(path))
    finally:
        path.chmod(0o644)


# ---------------------------------------------------------------- save


def test_save_a_new_file_makes_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    assert save(str(path), make({"t::a": entry(blocks=0)})) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]
    assert list(load(str(path)).tests) == ["t::a"]


def test_save_over_a_file_keeps_it_as_bak(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    save(str(path), make({"t::first": entry(blocks=0)}))
    first = path.read_bytes()
    backup = save(str(path), make({"t::second": entry(blocks=1)}))
    assert backup == str(path) + ".bak"
    assert Path(backup).read_bytes() == first
    assert list(load(str(path)).tests) == ["t::second"]
    second = path.read_bytes()
    # the backup is the previous file, not the first one ever saved
    save(str(path), make({"t::third": entry(blocks=2)}))
    assert Path(backup).read_bytes() == second
    assert list(load(str(path)).tests) == ["t::third"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "baseline.json.bak"]


def test_save_over_any_file_keeps_its_bytes(tmp_path: Path) -> None:
    # Even a file that is not a baseline (a wrong path?) is kept, byte for byte.
    path = tmp_path / "notes.txt"
    path.write_bytes(b"my notes\x00\xff\n")
    save(str(path), make({}))
    assert (tmp_path / "notes.txt.bak").read_bytes() == b"my notes\x00\xff\n"
    assert load(str(path)).tests == {}


def test_save_makes_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "ci" / "leaks" / "baseline.json"
    save(str(path), make({"t::a": entry(blocks=0)}))
    assert list(load(str(path)).tests) == ["t::a"]


def test_failed_save_leaves_the_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "baseline.json"
    save(str(path), make({"t::old": entry(blocks=0)}))
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save(str(path), make({"t::new": entry(blocks=0)}))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert strays(tmp_path) == []
    assert list(load(str(path)).tests) == ["t::old"]


def test_interrupted_save_leaves_the_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "baseline.json"
    save(str(path), make({"t::old": entry(blocks=0)}))
    before = path.read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(str(path), make({"t::new": entry(blocks=0)}))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert strays(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    # A baseline lives in the repository or a shared CI directory: saving over it
    # must not make it private (mkstemp creates its temporary file 0600).
    path = tmp_path / "baseline.json"
    write(path, baseline_json({}))
    path.chmod(0o644)
    save(str(path), make({"t::a": entry(blocks=0)}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_save_a_new_file_honours_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    umask = os.umask(0o022)
    try:
        save(str(path), make({"t::a": entry(blocks=0)}))
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# ---------------------------------------------------------------- compare


def test_compare_identical_is_clean() -> None:
    old = make({"t::a": entry(heap=100, blocks=1, fds=0)})
    comparison = compare(old, make(dict(old.tests)), RULES)
    assert comparison == Comparison()
    assert not comparison.failed


def test_regression_absolute() -> None:
    rules = parse_rules("bytes:1KiB", UNITS)
    old = make({"t::a": entry(heap=0)})
    comparison = compare(old, make({"t::a": entry(heap=2048)}), rules)
    assert comparison.failed
    assert comparison.regressions == [Change("t::a", "heap", "bytes", 0.0, 2048.0, 1024.0)]
    assert comparison.regressions[0].delta == 2048.0
    # at the tolerance is not a regression; just over it is
    assert not compare(old, make({"t::a": entry(heap=1024)}), rules).failed
    assert compare(old, make({"t::a": entry(heap=1025)}), rules).failed


def test_regression_relative() -> None:
    rules = parse_rules("bytes:10%", UNITS)
    old = make({"t::a": entry(heap=10_000)})
    within = compare(old, make({"t::a": entry(heap=11_000)}), rules)
    assert not within.failed
    over = compare(old, make({"t::a": entry(heap=11_001)}), rules)
    assert over.failed
    (change,) = over.regressions
    assert change.tolerance == pytest.approx(1000.0)
    assert change.delta == pytest.approx(1001.0)


def test_regression_from_zero_under_a_relative_rule() -> None:
    # 10% of nothing is nothing: a test that did not grow at all and now grows regresses.
    old = make({"t::a": entry(heap=0, blocks=0)})
    rules = parse_rules("bytes:10%,count:10%", UNITS)
    comparison = compare(old, make({"t::a": entry(heap=2000, blocks=1)}), rules)
    assert [(c.probe, c.before, c.now) for c in comparison.regressions] == [
        ("blocks", 0.0, 1.0),
        ("heap", 0.0, 2000.0),
    ]
    assert comparison.failed


def test_resources_have_no_tolerance_by_default() -> None:
    old = make({"t::a": entry(fds=0, threads=0)})
    comparison = compare(old, make({"t::a": entry(fds=1, threads=0)}), RULES)
    assert [(c.probe, c.unit, c.tolerance) for c in comparison.regressions] == [
        ("fds", "resources", 0.0)
    ]


def test_probe_rule_over_unit_group_rule() -> None:
    rules = parse_rules("bytes:0,rss:1MiB", UNITS)
    old = make({"t::a": entry(rss=0, heap=0)})
    comparison = compare(old, make({"t::a": entry(rss=512 * KIB, heap=512 * KIB)}), rules)
    assert [c.probe for c in comparison.regressions] == ["heap"]


def test_probe_without_a_rule_is_not_compared() -> None:
    rules = parse_rules("bytes:0", UNITS)
    old = make({"t::a": entry(heap=0, blocks=0)})
    comparison = compare(old, make({"t::a": entry(heap=0, blocks=1000)}), rules)
    assert comparison == Comparison()


def test_improvement() -> None:
    old = make({"t::a": entry(heap=10_000, blocks=10)})
    comparison = compare(old, make({"t::a": entry(heap=0, blocks=9.5)}), RULES)
    assert not comparison.failed
    assert comparison.regressions == []
    (change,) = comparison.improvements  # blocks: 0.5 less is within 10% of 10
    assert (change.probe, change.before, change.now, change.delta) == (
        "heap",
        10_000.0,
        0.0,
        -10_000.0,
    )


def test_nothing_to_improve_from_zero() -> None:
    old = make({"t::a": entry(heap=0)})
    comparison = compare(old, make({"t::a": entry(heap=-5000)}), RULES)
    assert comparison == Comparison()


def test_new_test() -> None:
    old = make({"t::a": entry(blocks=0)})
    new = make({"t::a": entry(blocks=0), "t::b": entry("leak", blocks=50)})
    comparison = compare(old, new, RULES)
    assert comparison.new_tests == ["t::b"]
    assert comparison.new_leaks == []  # a new test is judged by the budget, not here
    assert not comparison.failed


def test_removed_test() -> None:
    old = make({"t::a": entry(blocks=0), "t::gone": entry("leak", blocks=50)})
    comparison = compare(old, make({"t::a": entry(blocks=0)}), RULES)
    assert comparison.removed_tests == ["t::gone"]
    assert not comparison.failed


@pytest.mark.parametrize("before", ["clean", "inconclusive"])
def test_a_test_that_starts_leaking_is_a_new_leak(before: str) -> None:
    # even when its figures stay within the tolerance (rules that ignore every probe)
    old = make({"t::a": entry(before, heap=100_000)})
    new = make({"t::a": entry("leak", heap=100_000)})
    comparison = compare(old, new, parse_rules("bytes:10%", UNITS))
    assert comparison.new_leaks == ["t::a"]
    assert comparison.regressions == []
    assert comparison.failed


def test_a_test_that_leaked_before_is_not_a_new_leak() -> None:
    old = make({"t::a": entry("leak", heap=100_000)})
    comparison = compare(old, make({"t::a": entry("leak", heap=100_000)}), RULES)
    assert comparison.new_leaks == []
    assert not comparison.failed


def test_a_probe_new_in_this_run_is_not_compared() -> None:
    old = make({"t::a": entry(heap=0)})
    comparison = compare(old, make({"t::a": entry(heap=0, fds=3)}), RULES)
    assert comparison == Comparison()


def test_units_come_from_either_side() -> None:
    old = Baseline({"t::a": {"verdict": "clean", "growth_per_run": {"rss": 0.0}, "units": {}}})
    new = Baseline({"t::a": entry(rss=MIB)})
    (change,) = compare(old, new, RULES).regressions
    assert change.unit == "bytes"
    (change,) = compare(new, old, parse_rules("bytes:0", UNITS)).improvements
    assert change.unit == "bytes"


def test_environment_changes_are_reported_not_failed() -> None:
    old = make({"t::a": entry(blocks=0)}, platform="linux")
    new = make(
        {"t::a": entry(blocks=0)}, python="3.13.1", pytest_leakguard="0.2.0", machine="arm64"
    )
    comparison = compare(old, new, RULES)
    assert comparison.environment_changes == {
        "machine": (None, "arm64"),
        "platform": ("linux", None),
        "python": ("3.11.7", "3.13.1"),
    }
    assert "pytest_leakguard" not in comparison.environment_changes  # the tool's own version
    assert not comparison.failed


def test_comparison_to_json() -> None:
    old = make({"t::a": entry(heap=0), "t::gone": entry(blocks=0)}, python="3.12.0")
    new = make({"t::a": entry("leak", heap=4096), "t::new": entry(blocks=0)})
    data = comparison_to_json(compare(old, new, RULES))
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "failed": True,
        "regressions": [
            {
                "nodeid": "t::a",
                "probe": "heap",
                "unit": "bytes",
                "baseline": 0.0,
                "now": 4096.0,
                "change": 4096.0,
                "tolerance": 0.0,
            }
        ],
        "improvements": [],
        "new_leaks": ["t::a"],
        "new_tests": ["t::new"],
        "removed_tests": ["t::gone"],
        "environment_changes": {"python": ["3.12.0", "3.11.7"]},
    }


# ---------------------------------------------------------------- table


def test_table_of_a_clean_comparison_is_one_line() -> None:
    old = make({"t::a": entry(blocks=0)})
    assert table(compare(old, old, RULES)) == [
        "baseline comparison passed: 0 regressions, 0 new leaks, 0 improvements,"
        " 0 new tests, 0 removed tests"
    ]


def test_table_shows_baseline_now_and_change() -> None:
    old = make(
        {
            "test_app.py::test_cart": entry(heap=0, blocks=0),
            "test_app.py::test_search": entry(heap=4096),
        }
    )
    new = make(
        {
            "test_app.py::test_cart": entry(heap=2048, blocks=1),
            "test_app.py::test_search": entry(heap=0),
        }
    )
    lines = table(compare(old, new, RULES))
    header, *rows, last = lines
    assert header.split() == ["test", "[probe]", "baseline", "now", "change"]
    assert [row.split() for row in rows] == [
        ["REGRESSION", "test_app.py::test_cart", "[blocks]", "0/run", "1/run", "+1/run"],
        [
            "REGRESSION",
            "test_app.py::test_cart",
            "[heap]",
            "0",
            "B/run",
            "2.0",
            "KiB/run",
            "+2.0",
            "KiB/run",
        ],
        [
            "improvement",
            "test_app.py::test_search",
            "[heap]",
            "4.0",
            "KiB/run",
            "0",
            "B/run",
            "-4.0",
            "KiB/run",
        ],
    ]
    assert last == (
        "baseline comparison FAILED: 2 regressions, 0 new leaks, 1 improvements,"
        " 0 new tests, 0 removed tests"
    )


@pytest.mark.parametrize(
    "growth",
    [
        pytest.param(2048, id="KiB"),
        pytest.param(256 * KIB, id="hundreds-of-KiB"),
        pytest.param(1000 * KIB, id="1000-KiB"),
        pytest.param(300 * MIB, id="MiB"),
    ],
)
def test_table_columns_line_up(growth: float) -> None:
    old = make({"t::short": entry(heap=0), "test_long_name.py::test_x[param]": entry(rss=0)})
    new = make(
        {
            "t::short": entry(heap=growth),
            "test_long_name.py::test_x[param]": entry(rss=growth + 1),
        }
    )
    header, *rows, _ = table(compare(old, new, RULES))
    assert len(rows) == 2
    # every column right-aligned under its heading: the lines end at the same place,
    # and each figure ends where its heading ends
    for title in ("baseline", "now", "change"):
        end = header.index(title) + len(title)
        for row in rows:
            shown = f"{title!r} column:\n{header}\n" + "\n".join(rows)
            assert row[end - 1] != " ", shown
            assert row[end : end + 1] in ("", " "), shown


def test_table_lists_new_leaks_new_and_removed_tests_and_environment() -> None:
    old = make({"t::a": entry(blocks=0), "t::gone": entry(blocks=0)}, python="3.12.0")
    new = make({"t::a": entry("leak", blocks=0), "t::new": entry(blocks=0)})
    lines = table(compare(old, new, RULES))
    assert lines == [
        "warning: environment differs from the baseline's: python 3.12.0 -> 3.11.7",
        "REGRESSION    t::a: was not a leak, now leaks",
        "new           t::new: not in the baseline (judged by the budget)",
        "removed       t::gone: in the baseline, not in this run",
        "baseline comparison FAILED: 0 regressions, 1 new leaks, 0 improvements,"
        " 1 new tests, 1 removed tests",
    ]
