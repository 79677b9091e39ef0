"""GitLab Code Quality report (``--leakguard-codequality``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import leak_entry

from pytest_leakguard.report import codequality
from pytest_leakguard.report.locations import Finding
from pytest_leakguard.result import ERROR, INCONCLUSIVE, LEAK

pytest_plugins = ["pytester"]

APP = """
_LISTENERS = []


def subscribe(name):
    listener = {"name": name, "buffer": bytearray(256)}
    _LISTENERS.append(listener)  # never unsubscribed: the leak
"""
TESTS = """
import app


def test_subscribes():
    app.subscribe("orders")


def test_clean():
    assert "a" * 3 == "aaa"
"""


def make_project(pytester: pytest.Pytester) -> None:
    project = pytester.mkdir("svc")
    (project / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (project / "app.py").write_text(APP)
    (project / "test_app.py").write_text(TESTS)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", "--leakguard", "svc", *args)


def test_report_has_an_issue_per_leak_at_its_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    monkeypatch.setenv("CI_PROJECT_DIR", str(pytester.path))
    result = run(pytester, "--leakguard-codequality", "reports/cq.json")
    assert result.ret == 1
    issues = json.loads((pytester.path / "reports" / "cq.json").read_text())
    assert len(issues) == 1, issues
    issue = issues[0]
    line = 1 + APP.splitlines().index('    listener = {"name": name, "buffer": bytearray(256)}')
    assert issue["location"] == {"path": "svc/app.py", "lines": {"begin": line}}
    assert issue["check_name"] == "leakguard-leak"
    assert issue["severity"] == "major"
    assert issue["description"].startswith("memory leak in test_app.py::test_subscribes: ")
    assert "heap +" in issue["description"]
    assert issue["description"].endswith("kept alive by module app . _LISTENERS (list)")
    assert len(issue["fingerprint"]) == 32
    int(issue["fingerprint"], 16)

    # Again, under xdist: the controller writes the same report (same fingerprint).
    pytest.importorskip("xdist")
    again = run(pytester, "-n", "2", "--leakguard-codequality", "reports/cq.json")
    assert again.ret == 1
    assert json.loads((pytester.path / "reports" / "cq.json").read_text()) == issues


def test_a_clean_run_writes_an_empty_report(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / "svc" / "pytest.ini").write_text(
        "[pytest]\npythonpath = .\nleakguard_codequality = cq.json\n"
    )
    result = run(pytester, "-k", "clean")
    assert result.ret == 0
    # The ini key's path is relative to where pytest was started, as the others.
    assert json.loads((pytester.path / "cq.json").read_text()) == []


def test_a_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.mkdir("out")
    result = run(pytester, "--leakguard-codequality", "out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: leakguard: invalid value 'out' for --leakguard-codequality: out is a directory*"]
    )


def test_issues_by_verdict_and_stable_fingerprints() -> None:
    def finding(status: str, nodeid: str = "t.py::t", line: int | None = 4) -> Finding:
        return Finding(nodeid, status, "src/m.py", line, "heap +1 KiB/run (5 runs)", None)

    leak = codequality.issue(finding(LEAK))
    assert leak == {
        "type": "issue",
        "description": "memory leak in t.py::t: heap +1 KiB/run (5 runs)",
        "check_name": "leakguard-leak",
        "categories": ["Performance"],
        "fingerprint": leak["fingerprint"],
        "severity": "major",
        "location": {"path": "src/m.py", "lines": {"begin": 4}},
    }
    assert codequality.issue(finding(INCONCLUSIVE))["severity"] == "minor"
    assert codequality.issue(finding(ERROR))["severity"] == "info"
    # The line may move (an edit above it): the issue is the same one for GitLab.
    assert codequality.issue(finding(LEAK, line=40))["fingerprint"] == leak["fingerprint"]
    other = codequality.issue(finding(LEAK, nodeid="t.py::u"))
    assert other["fingerprint"] != leak["fingerprint"]
    # Without a line (the leak is placed at the test's file), GitLab still needs one.
    assert codequality.issue(finding(LEAK, line=None))["location"]["lines"] == {"begin": 1}


def test_paths_are_relative_to_the_start_directory_outside_gitlab(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("x = []\n")
    result = leak_entry("pkg/test_m.py::test_m", [{"file": "m.py", "line": 1}])
    target = tmp_path / "cq.json"
    codequality.write(str(target), [result], tmp_path / "pkg", {}, start=tmp_path)
    issues = json.loads(target.read_text())
    assert issues[0]["location"] == {"path": "pkg/m.py", "lines": {"begin": 1}}
