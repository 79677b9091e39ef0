"""Hostile baselines and JSON reports: an error naming the file (exit 2, or a usage error in
pytest), or a rendered page, never a traceback (issue #16, "Hostile files")."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from pytest_leakguard import cli
from pytest_leakguard.baseline import FORMAT, BaselineError, load
from pytest_leakguard.report import html

pytest_plugins = ["pytester"]

HUGE = 10**400
"""An integer JSON allows and ``float()`` does not (above 1e308)."""


def baseline_file(path: Path, figure: Any, **entry: Any) -> Path:
    tests = {"t.py::test_a": {"verdict": "clean", "growth_per_run": {"heap": figure}, **entry}}
    path.write_text(json.dumps({"format": FORMAT, "version": 1, "tests": tests}))
    return path


def report_file(path: Path, test: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"version": 1, "settings": {}, "environment": {}, "tests": [test]}))
    return path


def leak(**fields: Any) -> dict[str, Any]:
    """A leaked test's entry in a JSON report, as the plugin writes it, with ``fields`` over it."""
    test = {
        "nodeid": "t.py::test_a",
        "verdict": "leak",
        "runs": 3,
        "warmup": 2,
        "growth_per_run": {"heap": 1024.0},
        "tail_growth_per_run": {"heap": 1024.0},
        "sustained_growth_per_run": {"heap": 1024.0},
        "rising_runs": {"heap": 3},
        "trend": {"heap": "growing"},
        "thresholds": {"heap": 0.0},
        "units": {"heap": "bytes"},
        "samples": {"heap": [0, 1024, 2048, 3072, 4096, 5120]},
    }
    test.update(fields)
    return test


# ---------------------------------------------------------------- baselines


@pytest.mark.parametrize(
    "figure", [HUGE, -HUGE, 2**64, 1e300], ids=["1e400", "-1e400", "2^64", "1e300"]
)
def test_load_rejects_a_figure_out_of_range(tmp_path: Path, figure: Any) -> None:
    path = baseline_file(tmp_path / "b.json", figure)
    with pytest.raises(BaselineError, match=r"t\.py::test_a has a figure out of range") as excinfo:
        load(str(path))
    assert str(path) in str(excinfo.value)


def test_load_rejects_a_huge_figure_in_a_report(tmp_path: Path) -> None:
    path = report_file(tmp_path / "r.json", leak(sustained_growth_per_run={"heap": HUGE}))
    with pytest.raises(BaselineError, match="figure out of range"):
        load(str(path))


@pytest.mark.parametrize(
    "entry",
    [{"verdict": ["clean"]}, {"verdict": {"a": 1}}, {"units": {"heap": ["bytes"]}}],
    ids=["verdict-list", "verdict-object", "unit-list"],
)
def test_load_rejects_wrongly_typed_fields(tmp_path: Path, entry: dict[str, Any]) -> None:
    path = baseline_file(tmp_path / "b.json", 1.0, **entry)
    with pytest.raises(BaselineError, match=r"t\.py::test_a has"):
        load(str(path))


def test_load_shows_a_non_string_environment_as_text(tmp_path: Path) -> None:
    path = baseline_file(tmp_path / "b.json", 1.0)
    data = json.loads(path.read_text())
    data["environment"] = {"python": HUGE, "platform": [1, 2]}
    path.write_text(json.dumps(data))
    environment = load(str(path)).environment
    assert environment["platform"] == "[1, 2]"
    assert environment["python"] == str(HUGE)


def test_compare_command_exits_2_on_a_huge_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = baseline_file(tmp_path / "old.json", 0.0)
    new = baseline_file(tmp_path / "new.json", HUGE)
    assert cli.main(["compare", str(old), str(new)]) == 2
    err = capsys.readouterr().err
    assert f"error: baseline file {new}: t.py::test_a has a figure out of range" in err


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["alone", "xdist"])
def test_a_huge_figure_in_the_baseline_is_a_usage_error(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    if xdist:
        pytest.importorskip("xdist")
    baseline_file(pytester.path / "b.json", HUGE)
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess("--leakguard", "--leakguard-baseline=b.json", *xdist)
    text = "\n".join(result.outlines + result.errlines)
    assert "INTERNALERROR" not in text, text
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "b.json: t.py::test_a has a figure out of range" in text


# ---------------------------------------------------------------- the html command


def html_command(report: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = report.with_suffix(".html")
    code = cli.main(["html", str(report), "-o", str(out)])
    captured = capsys.readouterr()
    page = out.read_text() if out.exists() else ""
    assert code == 0 or ("error: " in captured.err and not page), captured
    return code, captured.err, page


def test_html_command_refuses_deep_nesting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.json"
    report.write_text('{"version": 1, "tests": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    code, err, _ = html_command(report, capsys)
    assert code == 2
    assert f"error: cannot read JSON report {report}" in err


def test_html_command_refuses_an_integer_of_more_than_4300_digits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.json"
    report.write_text('{"version": 1, "tests": [{"runs": 1' + "0" * 5000 + "}]}")
    code, err, _ = html_command(report, capsys)
    assert (code, f"error: cannot read JSON report {report}" in err) == (2, True)


@pytest.mark.parametrize(
    "fields",
    [
        {"growth_per_run": {"heap": HUGE}},
        {"samples": {"heap": [1, 2, HUGE]}},
        {"runs": HUGE, "warmup": HUGE},
        {"thresholds": {"heap": HUGE}},
        {"rising_runs": {"heap": HUGE}},
        {"explanation": {"sites": [{"file": "x.py", "size_per_run": HUGE}]}},
        {"trend": {"heap": 5}, "units": {"heap": None}},
        {"samples": {"heap": 7}},
        {"suppressions": [1, "x"]},
        {"verdict": ["leak"]},
        {"verdict": "bogus"},
    ],
    ids=[
        "huge-growth",
        "huge-sample",
        "huge-runs",
        "huge-threshold",
        "huge-rising",
        "huge-site",
        "wrong-types",
        "samples-a-number",
        "suppressions-not-objects",
        "verdict-a-list",
        "verdict-unknown",
    ],
)
def test_html_command_renders_a_test_entry_with_hostile_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fields: dict[str, Any]
) -> None:
    code, _, page = html_command(report_file(tmp_path / "r.json", leak(**fields)), capsys)
    assert code == 0
    assert "t.py::test_a" in page


MALFORMED_EXPLANATIONS = [
    {"resources": {"fds": 5}},
    {"resources": [1, 2]},
    {"sites": "nope"},
    {"sites": [1, {"file": None, "traceback": "x"}]},
    {"types": [1, 2], "holders": {"a": 1}, "sizes": "x"},
    {"native": {"sites": [{"python": 1, "native_stack": "x"}], "runs": [1]}},
    {"native": {"notes": 5}, "notes": [{"a": 1}], "graph": {"dot": 1, "svg": [1]}},
    {"chain": {"a": [1, 2]}, "runs": {"a": 1}},
]


@pytest.mark.parametrize("explanation", MALFORMED_EXPLANATIONS)
def test_html_command_renders_a_malformed_explanation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], explanation: dict[str, Any]
) -> None:
    report = report_file(tmp_path / "r.json", leak(explanation=explanation))
    code, _, page = html_command(report, capsys)
    assert code == 0
    assert 'class="explanation"' in page


def test_render_drops_non_finite_numbers_and_deep_nesting() -> None:
    deep: Any = "the-bottom-of-the-nest"
    for _ in range(200):
        deep = [deep]
    test = leak(growth_per_run={"heap": math.inf}, explanation={"notes": [deep, math.nan]})
    page = html.render({"version": 1, "tests": [test], "settings": {"deep": deep}})
    assert "t.py::test_a" in page
    assert "the-bottom-of-the-nest" not in page  # 200 levels down: dropped, not rendered
