"""End to end: the compact form of clean tests, in every report, with and without xdist.

Every JSON report read through ``helpers.run_leakguard`` is also checked against the
report's JSON Schema.
"""

from __future__ import annotations

import pytest
from helpers import REPORT, LeakRun, describe, run_leakguard

from pytest_leakguard import baseline

SOURCE = """
import pytest

KEPT = []


@pytest.mark.parametrize("n", range(8))
def test_clean(n):
    assert sum(range(n)) >= 0


def test_leaks():
    KEPT.append([0] * 100)
"""

CLEAN_IDS = [f"test_mixed.py::test_clean[{n}]" for n in range(8)]
COMPACT = {"nodeid", "verdict", "warmup", "runs", "flat"}
MODES = [pytest.param((), id="serial"), pytest.param(("-n", "2"), id="xdist")]


def run_mixed(pytester: pytest.Pytester, *args: str) -> LeakRun:
    pytester.makepyfile(test_mixed=SOURCE)
    # Thorough counts (2 warm-up runs): with one, a test's first measured run may still
    # hold a one-off step, which the full form shows.
    return run_leakguard(
        pytester,
        "--leakguard-thorough",
        "--leakguard-explain=no",
        "--junitxml=junit.xml",
        "--leakguard-save-baseline=base.json",
        "--leakguard-html=report.html",
        *args,
    )


def status(run: LeakRun, nodeid: str) -> str:
    """The word ``-v`` printed for a test, with xdist (``[gw0] [ 50%] WORD NODEID``) or not."""
    for line in run.result.outlines:
        words = line.split()
        if words[-1:] == [nodeid] and len(words) > 1:
            return words[-2]
        if words[:1] == [nodeid] and len(words) > 1:
            return words[1]
    raise AssertionError(f"no verbose line for {nodeid}:\n{run.output()}")


@pytest.mark.parametrize("mode", MODES)
def test_clean_tests_are_kept_and_reported_compact(
    pytester: pytest.Pytester, mode: tuple[str, ...]
) -> None:
    run = run_mixed(pytester, *mode)
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED, run.output()
    compact = []
    for nodeid in CLEAN_IDS:
        entry = run.entry(nodeid)
        assert entry["verdict"] == "clean", describe(entry)
        assert status(run, nodeid) == "PASSED"
        if "flat" in entry:
            assert set(entry) - {"moved"} == COMPACT, entry
            assert {"blocks", "objects", "heap", "rss"} <= set(entry["flat"]), entry
            compact.append(nodeid)
        else:  # a process's first test may still grow: then it has figures to show
            grew = [*entry["rising_runs"].values(), *entry["sustained_growth_per_run"].values()]
            assert any(grew), describe(entry)
    # still tests are the rule: only a process's first tests may move
    assert len(compact) >= len(CLEAN_IDS) - 2, run.output()
    leak = run.entry("test_mixed.py::test_leaks")
    assert leak["verdict"] == "leak", describe(leak)
    assert leak["samples"]["heap"], describe(leak)
    assert status(run, "test_mixed.py::test_leaks") == "LEAKED"
    assert run.report["units"]["heap"] == "bytes"
    # one line per clean test in the file, and a short one
    text = (pytester.path / REPORT).read_text()
    lines = [line for line in text.splitlines() if '"flat": ' in line]
    assert len(lines) == len(compact), lines
    assert all(len(line.encode()) < 300 for line in lines), lines
    # the summary, JUnit XML, the baseline and the HTML report read the compact form
    run.result.stdout.fnmatch_lines(
        [f"clean {compact[0]} - blocks +0/run, objects +0/run, heap +0 B/run*".replace("[", "[[]")]
    )
    xml = (pytester.path / "junit.xml").read_text()
    assert xml.count('name="leakguard_growth_heap" value="0.0"') >= len(compact), xml
    saved = baseline.load(str(pytester.path / "base.json")).tests
    assert saved[compact[0]]["growth_per_run"]["heap"] == 0.0
    assert saved[compact[0]]["units"]["heap"] == "bytes"
    page = (pytester.path / "report.html").read_text()
    assert f'data-nodeid="{compact[0]}"' in page
    # a clean test is one line; the leak has its probes' table
    assert '<td class="mono">heap &#9664;</td><td class="trend-growing">' in page


@pytest.mark.parametrize("mode", MODES)
def test_clean_details_keep_the_full_form(pytester: pytest.Pytester, mode: tuple[str, ...]) -> None:
    run = run_mixed(pytester, "--leakguard-clean-details", *mode)
    for nodeid in CLEAN_IDS:
        entry = run.entry(nodeid)
        assert entry["verdict"] == "clean", describe(entry)
        assert "flat" not in entry
        assert len(entry["samples"]["blocks"]) == 1 + entry["warmup"] + entry["runs"]
