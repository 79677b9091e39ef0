"""GitHub Actions: the step summary and the annotations at each leak's allocating line."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import leak_entry

from pytest_leakguard.report import github
from pytest_leakguard.report.locations import Finding, findings
from pytest_leakguard.result import LEAK

pytest_plugins = ["pytester"]

APP = """
import itertools

_HANDLED = []
_ids = itertools.count()


def handle(payload):
    request = {"id": next(_ids), "body": bytearray(payload)}
    _HANDLED.append(request)  # every request kept: the leak
    return request["id"]
"""
TESTS = """
import app


def test_handles_a_request():
    assert app.handle(300) >= 0


def test_arithmetic():
    assert sum(range(10)) == 45
"""
EARLIER = "## Lint\n\nall good\n"
"""What an earlier step of the job wrote to the summary: it must be kept."""


def make_project(pytester: pytest.Pytester) -> Path:
    """``svc/`` in the workspace (``pytester.path``): its own pytest project."""
    project = pytester.mkdir("svc")
    (project / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (project / "app.py").write_text(APP)
    (project / "test_app.py").write_text(TESTS)
    return project


def github_step(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the project as a GitHub Actions step; return the summary file."""
    summary = pytester.path / "step_summary.md"
    summary.write_text(EARLIER)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path))
    return summary


def leak_line() -> int:
    allocating = '    request = {"id": next(_ids), "body": bytearray(payload)}'
    return 1 + APP.splitlines().index(allocating)


def test_summary_and_annotation_on_github_actions(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    summary = github_step(pytester, monkeypatch)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--leakguard", "svc")
    assert result.ret == 1
    # At the allocating line, the path relative to the workspace (not to pytest's rootdir).
    result.stdout.fnmatch_lines(
        [
            f"::error file=svc/app.py,line={leak_line()},"
            "title=leakguard%3A LEAKED test_app.py%3A%3Atest_handles_a_request"
            "::test_app.py::test_handles_a_request: *heap +* B/run (* runs)"
            "%0Akept alive by module app . _HANDLED (list)",
        ]
    )
    assert sum(line.startswith("::") for line in result.outlines) == 1
    text = summary.read_text()
    assert text.startswith(EARLIER + "### pytest-leakguard: 2 checked: 1 leaked, 1 clean\n")
    row = [line for line in text.splitlines() if "test_handles_a_request" in line]
    assert row[0].startswith("| `test_app.py::test_handles_a_request` | LEAKED | blocks +")
    assert f"| `svc/app.py:{leak_line()}` | `module app . _HANDLED (list)` |" in row[0]
    assert "test_arithmetic" not in text  # clean tests are counted, not listed
    chart = text.split("```mermaid\n", 1)[1].split("```", 1)[0].splitlines()
    assert chart[0] == "xychart-beta"
    assert chart[1] == '  title "test_app.py::test_handles_a_request: heap"'
    points = [float(p) for p in chart[-1].removeprefix("  line [").removesuffix("]").split(",")]
    assert points[0] == 0
    assert points[-1] > points[len(points) // 2] > 0


def test_under_xdist_only_the_controller_writes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    make_project(pytester)
    summary = github_step(pytester, monkeypatch)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", "2", "--leakguard", "svc")
    assert result.ret == 1
    commands = [line for line in result.outlines if line.startswith("::")]
    assert len(commands) == 1
    assert commands[0].startswith("::error file=svc/app.py,line=")
    text = summary.read_text()
    assert text.count("### pytest-leakguard:") == 1
    assert text.startswith(EARLIER)


def test_nothing_outside_github_actions(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    summary = github_step(pytester, monkeypatch)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--leakguard", "svc")
    assert result.ret == 1
    assert not [line for line in result.outlines if line.startswith("::")]
    assert summary.read_text() == EARLIER


def test_escapes_follow_githubs_workflow_commands() -> None:
    assert github.escape_data("50%\r\nnext: a, b") == "50%25%0D%0Anext: a, b"
    assert github.escape_property("a: b, c%\n") == "a%3A b%2C c%25%0A"
    finding = Finding("t.py::test[a:b,c]", LEAK, "src/a,b.py", 3, "heap +1 KiB/run (5 runs)", None)
    assert github.annotation(finding) == (
        "::error file=src/a%2Cb.py,line=3,title=leakguard%3A LEAKED t.py%3A%3Atest[a%3Ab%2Cc]"
        "::t.py::test[a:b,c]: heap +1 KiB/run (5 runs)"
    )


def test_a_site_outside_the_workspace_places_the_leak_at_the_test_file(tmp_path: Path) -> None:
    """A leak allocated in a library is shown on the test's file, not on a path
    GitHub cannot find in the checkout."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x(): pass\n")
    (tmp_path / "mine.py").write_text("x = 1\n")
    library = {"file": "/usr/lib/python3/json/x.py", "line": 9}
    outside = leak_entry("tests/test_x.py::test_x", [library])
    inside = leak_entry("tests/test_x.py::test_y", [{"file": "mine.py", "line": 1}])
    placed = findings([outside, inside], tmp_path, tmp_path)
    assert [(f.path, f.line) for f in placed] == [("tests/test_x.py", None), ("mine.py", 1)]
    commands = github.workflow_commands(
        [outside], tmp_path, {"GITHUB_ACTIONS": "true"}, start=tmp_path
    )
    assert commands[0].startswith("::error file=tests/test_x.py,title=")


def test_the_summary_is_appended_and_never_truncated(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("earlier step, no newline at the end")
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(target)}
    results = [leak_entry("test_a.py::test_a", [])]
    for _ in range(2):
        assert github.write_summary(results, tmp_path, environ, tmp_path) == str(target)
    text = target.read_text()
    assert text.startswith("earlier step, no newline at the end\n### pytest-leakguard: 1 checked")
    assert text.count("### pytest-leakguard: 1 checked: 1 leaked") == 2
    assert "| `test_a.py::test_a` | LEAKED | heap +2.0 KiB/run (5 runs) `" in text
    assert '  y-axis "heap above the first run (KiB)"' in text
    assert "  line [0, 2, 4, 6, 8, 10, 12, 14]" in text


def test_a_clean_run_says_so(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(target)}
    clean = {"nodeid": "t.py::t", "verdict": "clean"}
    github.write_summary([clean], tmp_path, environ, tmp_path)
    assert target.read_text() == (
        "### pytest-leakguard: 1 checked: 1 clean\n\n"
        "No leak: every checked test is clean or skipped.\n\n"
    )


def test_an_unwritable_summary_is_reported_not_a_crash(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.mkdir("a-directory")))
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--leakguard", "svc")
    assert result.ret == 1  # the leak, as without the summary
    result.stdout.fnmatch_lines(["leakguard: GitHub step summary not written: *a-directory*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
