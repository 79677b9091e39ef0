"""End-to-end: a third-party probe registered through the pytest_leakguard_probes hook."""

from __future__ import annotations

import json

import pytest

CONFTEST = '''
import sys

WIDGETS = []


class WidgetProbe:
    """Counts the application's open widgets."""

    name = "widgets"
    unit = "resources"

    def start(self):
        pass

    def sample(self):
        return len(WIDGETS)

    def stop(self):
        pass

    def explain(self):
        return [f"widget {w!r}" for w in WIDGETS[-2:]]


def pytest_leakguard_probes(config):
    return {"widgets": WidgetProbe}
'''

TESTS = """
import conftest


def test_opens_a_widget_per_run():
    conftest.WIDGETS.append(object.__new__(type("Widget", (), {})))


def test_no_widget():
    pass
"""


def test_probe_from_hook_is_sampled_judged_and_explained(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_widgets=TESTS)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:randomly",
        "--leakguard",
        "--leakguard-json=report.json",
        "--leakguard-probes=widgets",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*probes widgets*", "*LEAKED*test_opens_a_widget_per_run*"])
    tests = {
        t["nodeid"].split("::")[-1]: t
        for t in json.loads((pytester.path / "report.json").read_text())["tests"]
    }
    leak = tests["test_opens_a_widget_per_run"]
    assert leak["verdict"] == "leak"
    assert leak["growth_per_run"] == {"widgets": 1.0}
    assert any("Widget" in line for line in leak["explanation"]["resources"]["widgets"])
    assert tests["test_no_widget"]["verdict"] == "clean"


def test_unknown_probe_name_lists_hook_probes(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_widgets=TESTS)
    result = pytester.runpytest("--leakguard", "--leakguard-probes=gadgets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown probe 'gadgets'*widgets*"])


def test_hook_probe_with_an_unknown_unit_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.replace('unit = "resources"', 'unit = "furlongs"'))
    pytester.makepyfile(test_widgets=TESTS)
    result = pytester.runpytest("--leakguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*probe 'widgets' (from the pytest_leakguard_probes hook) has unit 'furlongs'*"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
