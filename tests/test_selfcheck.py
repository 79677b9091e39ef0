"""The plugin checks itself: its own memory stays flat over a long session.

A generated suite of 2,000 tiny tests runs in one pytest subprocess, once plain and
once with every test checked (``--leakguard``, 1 warm-up and 3 measured runs).  Its
``conftest.py`` samples the process every 100 tests (traced bytes, allocator blocks,
gc objects, RSS) and, at the end, measures what the plugin keeps on purpose by
dropping it: its verdicts (for the summary, the JSON report and the baseline) and
the JUnit properties it adds to the reports.  The growth per test between the first
and the last quarter of the session, less plain pytest's and less what the plugin
keeps on purpose, must be about nothing.

The same suite is then run with a leak put into the plugin (every Verdict kept
forever, as a plugin that cached its verdicts would): the check must see it.
Figures for people: docs/benchmarks.md, "Memory the plugin keeps".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

# Two sessions of 2,000 tests each, a minute or more of CPU per test: .ci/run's slow step.
pytestmark = pytest.mark.own_step("slow")

TESTS = 2000
"""Tests in the generated suite: half plain, half with a parametrized fixture."""

EVERY = 100
"""Tests between two samples of the process."""

RESIDUAL_BOUND = 256
"""Growth per test (traced bytes) not explained by what is kept on purpose.

Measured: within about 100 B of 0 either way.  Keeping one more object per test
of the size of a Verdict (a few KiB) exceeds it many times over.
"""

CONFTEST = """
import gc
import json
import os
import sys
import tracemalloc

import pytest

EVERY = {every}
POINTS = []
DONE = [0]
KEPT = []


def pytest_configure(config):
    # Started before the plugin's own tracing, so that every sample sees the same tracing.
    if not tracemalloc.is_tracing():
        tracemalloc.start(1)
    if os.environ.get("SELFCHECK_INJECT_LEAK"):
        import pytest_leakguard.plugin as plugin

        attach = plugin.attach

        def keeping_attach(report, verdict, nodeid, **kwargs):
            KEPT.append(verdict)  # the injected bug: every Verdict kept forever
            return attach(report, verdict, nodeid, **kwargs)

        plugin.attach = keeping_attach


def state():
    gc.collect()
    with open("/proc/self/statm") as stream:
        rss = int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return {{
        "traced": tracemalloc.get_traced_memory()[0],
        "blocks": sys.getallocatedblocks(),
        "objects": len(gc.get_objects()),
        "rss": rss,
    }}


def pytest_runtest_logfinish(nodeid, location):
    DONE[0] += 1
    if DONE[0] % EVERY == 0:
        POINTS.append({{"tests": DONE[0], **state()}})


def pytest_unconfigure(config):
    # After the summary and the JSON report: drop what the plugin keeps on purpose (its
    # verdicts, and the JUnit properties it adds to the reports) and measure it.
    plugin = config.pluginmanager.get_plugin("leakguard-session")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    results = plugin.results if plugin is not None else []
    count = len(results)
    before = state()
    results.clear()
    for reports in reporter.stats.values():
        for report in reports:
            if hasattr(report, "leakguard"):
                del report.leakguard
            report.user_properties.clear()
    after = state()
    kept = {{key: (before[key] - after[key]) / max(count, 1) for key in before}}
    with open("selfcheck.json", "w") as stream:
        json.dump({{"points": POINTS, "checked": count, "plugin_kept": kept}}, stream)
"""

SUITE = """
import pytest


@pytest.fixture
def doubled(request):
    return request.param * 2


@pytest.mark.parametrize("i", range({half}))
def test_plain(i):
    assert i >= 0


@pytest.mark.parametrize("doubled", range({half}), indirect=True)
def test_fixture(doubled):
    assert doubled % 2 == 0
"""


def growth_per_test(points: list[dict[str, Any]], key: str) -> float:
    """Growth of ``key`` per test between the means of the first and the last quarter."""
    quarter = len(points) // 4
    first, last = points[:quarter], points[-quarter:]

    def mean(rows: list[dict[str, Any]], field: str) -> float:
        return sum(row[field] for row in rows) / len(rows)

    return (mean(last, key) - mean(first, key)) / (mean(last, "tests") - mean(first, "tests"))


def run_suite(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    """Run the generated suite in one pytest subprocess; the conftest's measurements."""
    pytester.makeconftest(CONFTEST.format(every=EVERY))
    pytester.makepyfile(test_tiny=SUITE.format(half=TESTS // 2))
    result = pytester.runpytest_subprocess(
        "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", *args
    )
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    assert f"{TESTS} passed" in output, output
    data: dict[str, Any] = json.loads((pytester.path / "selfcheck.json").read_text())
    assert len(data["points"]) == TESTS // EVERY
    return data


CHECKED = (
    "--leakguard",
    "--leakguard-warmup=1",
    "--leakguard-runs=3",
    "--leakguard-max-runs=3",
    "--leakguard-confirm-runs=3",
    "--leakguard-json=report.json",
)


KEYS = ("traced", "blocks", "objects")


@dataclass
class Growth:
    """Per test: how the process grew with and without the plugin, and what the plugin keeps."""

    plain: dict[str, float]
    checked: dict[str, float]
    kept: dict[str, float]

    def unexplained(self, key: str) -> float:
        """Growth per test that neither pytest nor the plugin's verdicts account for."""
        return self.checked[key] - self.plain[key] - self.kept[key]

    def __str__(self) -> str:
        rows = [
            f"{key}: per test, plain pytest +{self.plain[key]:.1f}, with --leakguard"
            f" +{self.checked[key]:.1f}, kept by the plugin for its report {self.kept[key]:.1f},"
            f" unexplained {self.unexplained(key):+.1f}"
            for key in KEYS
        ]
        rows.append(
            f"rss: per test, plain +{self.plain['rss']:.0f} B, checked +{self.checked['rss']:.0f} B"
        )
        return "\n".join(rows)


def measure(pytester: pytest.Pytester) -> Growth:
    """The same suite without, then with ``--leakguard`` (1 warm-up + 3 runs per test)."""
    plain = run_suite(pytester)
    checked = run_suite(pytester, *CHECKED)
    assert checked["checked"] == TESTS
    return Growth(
        plain={key: growth_per_test(plain["points"], key) for key in (*KEYS, "rss")},
        checked={key: growth_per_test(checked["points"], key) for key in (*KEYS, "rss")},
        kept=checked["plugin_kept"],
    )


def test_own_memory_is_flat_over_a_long_session(pytester: pytest.Pytester) -> None:
    growth = measure(pytester)
    print(growth)
    # One-sided: less growth than plain pytest (a few blocks, at most an object) is no leak.
    assert growth.unexplained("traced") < RESIDUAL_BOUND, str(growth)
    assert growth.unexplained("blocks") < 4, str(growth)
    assert growth.unexplained("objects") < 1, str(growth)
    # What it keeps on purpose is what the report needs: one small dict per test.
    assert 0 < growth.kept["traced"] < 16 * 1024, str(growth)


def test_a_leak_in_the_plugin_is_seen(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: a plugin that keeps every Verdict grows per test."""
    monkeypatch.setenv("SELFCHECK_INJECT_LEAK", "1")
    growth = measure(pytester)
    print(growth)
    assert growth.unexplained("traced") > 4 * RESIDUAL_BOUND, str(growth)
    assert growth.unexplained("objects") > 1, str(growth)
