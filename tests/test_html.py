"""The HTML report: unit tests of ``render()`` and ``sparkline()``, and a real browser.

The unit tests parse the page with the standard library's HTML parser, so they
see the tags and attribute values a browser sees.  The end-to-end test runs a
checked suite with ``--leakguard-html`` and opens the page in headless
Chromium, driven over the Chrome DevTools Protocol (``websocket-client``): it
checks what a person sees and does (the leak listed first, its chart drawn,
the filter box and the verdict buttons) and that a hostile node id stays text.
It is skipped when Chromium or ``websocket-client`` is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import json
import math
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_leakguard import cli
from pytest_leakguard.report import html
from pytest_leakguard.report.sparkline import BARS, sparkline
from pytest_leakguard.result import (
    CLEAN,
    ERROR,
    FLAT,
    GROWING,
    INCONCLUSIVE,
    LEAK,
    NOISY,
    SKIPPED,
    ProbeTrend,
    TestResult,
)

HOSTILE = "<script>alert(1)</script>\"'&amp;<img src=x onerror=alert(2)>"
KIB = 1024


# ---------------------------------------------------------------- parsing the page


class Page(HTMLParser):
    """The page as a browser parses it: tags with their attributes, and the text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.chunks: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """Attributes of every ``tag`` whose attributes include ``attrs`` (``class_`` for class)."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attrs.items()}
        found = []
        for name, have in self.tags:
            if name != tag:
                continue
            if all(
                value in have.get(key, "").split() if key == "class" else have.get(key) == value
                for key, value in wanted.items()
            ):
                found.append(have)
        return found

    def nodeids(self) -> list[str]:
        return [attrs["data-nodeid"] for attrs in self.find("article", class_="test")]


# ---------------------------------------------------------------- building payloads


def trend(
    probe: str,
    growth: float,
    status: str = FLAT,
    *,
    unit: str = "bytes",
    threshold: float | None = 0.0,
    runs: int = 5,
) -> ProbeTrend:
    return ProbeTrend(probe, unit, status, growth, growth, runs if growth else 0, runs, threshold)


def entry(
    nodeid: str,
    status: str,
    trends: Sequence[ProbeTrend] = (),
    samples: dict[str, list[int]] | None = None,
    warmup: int = 2,
    **extra: Any,
) -> dict[str, Any]:
    """A test's dict as the JSON report holds it."""
    verdict = TestResult(
        status, warmup=warmup, trends=tuple(trends), samples=samples or {}, **extra
    )
    return {"nodeid": nodeid, **verdict.to_dict()}


def leak(nodeid: str, growth: float, **extra: Any) -> dict[str, Any]:
    window = [1000 + round(growth) * i for i in range(6)]
    return entry(
        nodeid,
        LEAK,
        [trend("heap", growth, GROWING), trend("fds", 0.0, unit="resources")],
        {"heap": [500, 900, *window], "fds": [3] * 8},
        **extra,
    )


def clean(nodeid: str) -> dict[str, Any]:
    return entry(
        nodeid,
        CLEAN,
        [trend("heap", 0.0), trend("rss", 0.0, threshold=64 * KIB)],
        {"heap": [500, 990, 1000, 1000, 1000, 1010, 1000, 1000], "rss": [10**7] * 8},
    )


def payload(tests: Sequence[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "settings": {"warmup": 2, "runs": 5, "max_runs": 20, "budget": "0 B/run", "strict": False},
        "environment": {"python": "3.11.7", "platform": "linux"},
        "tests": list(tests),
        **extra,
    }


MIXED = [
    clean("test_a.py::test_clean"),
    entry("test_a.py::test_skipped", SKIPPED, reason="the test failed", warmup=0),
    leak("test_a.py::test_small_leak", 100.0),
    entry("test_a.py::test_error", ERROR, reason="call failed", error="AssertionError: boom"),
    entry(
        "test_a.py::test_noisy",
        INCONCLUSIVE,
        [trend("heap", 50.0, NOISY)],
        {"heap": [1, 2, 3, 9, 3, 9, 3, 9]},
    ),
    leak("test_a.py::test_big_leak", 1_000_000.0),
]


# ---------------------------------------------------------------- render(): the page


def test_a_complete_self_contained_page() -> None:
    text = html.render(payload(MIXED))
    assert text.startswith("<!DOCTYPE html>")
    page = Page(text)
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert not page.find("link")
    assert not page.find("img")
    assert not page.find("iframe")
    for _, attrs in page.tags:
        assert "src" not in attrs
        assert attrs.get("href", "#").startswith("#"), attrs
    assert "http:" not in text
    assert "https:" not in text
    assert "@import" not in text
    assert "url(" not in text


def test_the_policy_allows_exactly_the_pages_own_script_and_style() -> None:
    text = html.render(payload(MIXED))
    (policy,) = [
        a["content"] for a in Page(text).find("meta", http_equiv="Content-Security-Policy")
    ]
    assert "default-src 'none'" in policy
    for tag in ("script", "style"):
        (body,) = re.findall(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy
    assert "style=" not in text  # the policy would block style attributes


def test_the_page_embeds_the_packaged_style_sheet_and_script() -> None:
    # report/static/ is package data: what an installed wheel (or the checkout) ships.
    static = importlib.resources.files("pytest_leakguard.report").joinpath("static")
    style = static.joinpath("report.css").read_text(encoding="utf-8")
    script = static.joinpath("report.js").read_text(encoding="utf-8")
    assert style.startswith(":root {")
    assert '"use strict";' in script
    text = html.render(payload(MIXED))
    assert f"<style>\n{style}</style>" in text
    assert f"<script>\n{script}</script>" in text


def test_leaks_come_first_worst_first_then_by_verdict() -> None:
    page = Page(html.render(payload(MIXED)))
    assert page.nodeids() == [
        "test_a.py::test_big_leak",
        "test_a.py::test_small_leak",
        "test_a.py::test_noisy",
        "test_a.py::test_error",
        "test_a.py::test_clean",
        "test_a.py::test_skipped",
    ]
    verdicts = [a["data-verdict"] for a in page.find("article", class_="test")]
    assert verdicts == [LEAK, LEAK, INCONCLUSIVE, ERROR, CLEAN, SKIPPED]


def test_the_header_counts_tests_by_verdict() -> None:
    page = Page(html.render(payload(MIXED)))
    chips = {a["data-verdict"] for a in page.find("button", class_="chip")}
    assert chips == {LEAK, INCONCLUSIVE, ERROR, CLEAN, SKIPPED}
    for phrase in ("6 checked", "2 leaked", "1 inconclusive", "1 error", "1 clean", "1 skipped"):
        assert phrase in page.text
    title = re.search(r"<title>(.*?)</title>", html.render(payload(MIXED)))
    assert title is not None
    assert "2 leaked" in title.group(1)


def test_only_the_verdicts_present_get_a_button() -> None:
    page = Page(html.render(payload([clean("t.py::test_one")])))
    assert [a["data-verdict"] for a in page.find("button", class_="chip")] == [CLEAN]
    assert "1 checked" in page.text


def test_problems_are_unfolded_and_clean_tests_folded() -> None:
    text = html.render(payload(MIXED))
    sections = re.findall(r'<article [^>]*data-verdict="(\w+)"><details( open)?>', text)
    assert dict(sections) == {
        LEAK: " open",
        INCONCLUSIVE: " open",
        ERROR: " open",
        CLEAN: "",
        SKIPPED: "",
    }


def test_settings_environment_reason_error_and_message_are_shown() -> None:
    page = Page(html.render(payload(MIXED)))
    for text in ("max_runs", "20", "3.11.7", "linux", "call failed", "AssertionError: boom"):
        assert text in page.text
    assert "memory leak: retained memory grows from run to run" in page.text
    assert "heap +976.6 KiB/run" in page.text  # the leak's summary, as in the terminal


def test_no_test_checked() -> None:
    page = Page(html.render(payload([])))
    assert "No test was checked." in page.text
    assert "0 checked" in page.text


def test_a_hand_edited_report_with_missing_fields_still_renders() -> None:
    tests = [
        {"nodeid": "t.py::test_bare", "verdict": "leak"},
        {"nodeid": "t.py::test_nulls", "verdict": "clean", "samples": None, "warmup": None},
        {"nodeid": "t.py::test_odd", "verdict": "someday", "samples": {"p": [1, "x", 3]}},
        "not a test",
    ]
    page = Page(html.render({"version": 1, "tests": tests, "settings": [], "environment": 3}))
    assert page.nodeids() == ["t.py::test_bare", "t.py::test_nulls", "t.py::test_odd"]
    assert "not recorded" in page.text


def test_sections_have_unique_ids_even_for_a_repeated_node_id() -> None:
    page = Page(html.render(payload([clean("t.py::test_same"), clean("t.py::test_same")])))
    ids = [attrs["id"] for _, attrs in page.tags if "id" in attrs]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- escaping


def test_a_hostile_node_id_is_text_and_attribute_not_markup() -> None:
    nodeid = f"test_x.py::test_p[{HOSTILE}]"
    text = html.render(payload([leak(nodeid, 100.0), clean("test_x.py::test_ok")]))
    page = Page(text)
    assert "<script>alert" not in text
    assert "<img" not in text
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert not page.find("img")
    assert page.nodeids()[0] == nodeid  # the attribute holds the id exactly
    assert nodeid in page.text  # and the text shows it
    assert html.esc(nodeid) in text
    for _, attrs in page.tags:
        assert "onerror" not in attrs


def test_every_string_from_the_tests_is_escaped() -> None:
    explanation = {
        "runs": 3,
        "sites": [
            {
                "file": f"{HOSTILE}.py",
                "line": 7,
                "code": HOSTILE,
                "size_per_run": 100.0,
                "count_per_run": 1.0,
                "traceback": [HOSTILE, f"x.py:1: {HOSTILE}"],
            }
        ],
        "types": [{"type": HOSTILE, "count_per_run": 2.0}],
        "holders": [{"path": HOSTILE, "growth_per_run": 1.0, "example": HOSTILE}],
        "chain": HOSTILE,
        "notes": [HOSTILE],
        "resources": {"fds": [f"fd -> {HOSTILE}"]},
        "sizes": [{"type": HOSTILE, "size_per_run": 10.0, "count_per_run": 1.0}],
        "graph": {"dot": HOSTILE, "svg": HOSTILE},
        "native": {
            "runs": HOSTILE,
            "sites": [
                {
                    "function": HOSTILE,
                    "file": HOSTILE,
                    "line": HOSTILE,
                    "python": HOSTILE,
                    "native_stack": [HOSTILE],
                    "size_per_run": 1.0,
                    "count_per_run": 1.0,
                }
            ],
            "notes": [HOSTILE],
        },
    }
    data = leak(f"t.py::test[{HOSTILE}]", 100.0, explanation=explanation, reason=HOSTILE)
    data["message"] = HOSTILE
    data["samples"][HOSTILE] = [1, 2, 3, 4, 5, 6, 7, 8]
    data["units"][HOSTILE] = HOSTILE
    data["trend"][HOSTILE] = HOSTILE
    comparison = {
        "failed": True,
        "regressions": [
            {
                "nodeid": HOSTILE,
                "probe": HOSTILE,
                "unit": HOSTILE,
                "baseline": 1.0,
                "now": 2.0,
                "change": 1.0,
                "tolerance": 0.1,
            }
        ],
        "improvements": [],
        "new_leaks": [HOSTILE],
        "new_tests": [HOSTILE],
        "removed_tests": [HOSTILE],
        "environment_changes": {HOSTILE: [HOSTILE, HOSTILE]},
    }
    report = payload(
        [data],
        settings={HOSTILE: HOSTILE, "probes": [HOSTILE]},
        environment={HOSTILE: HOSTILE},
        baseline=comparison,
    )
    text = html.render(report)
    page = Page(text)
    assert "<script>alert" not in text
    assert "<img" not in text
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert not page.find("img")
    assert page.text.count(HOSTILE) >= 15
    for _, attrs in page.tags:
        assert "onerror" not in attrs


def test_non_ascii_survives() -> None:
    nodeid = "t.py::test_p[naïve café ✓ 漢字]"
    page = Page(html.render(payload([clean(nodeid)])))
    assert page.nodeids() == [nodeid]
    assert nodeid in page.text
    assert page.find("meta", charset="utf-8")


# ---------------------------------------------------------------- the charts


def points(svg: str) -> list[tuple[float, float]]:
    match = re.search(r'<polyline class="series[^"]*" points="([^"]+)"', svg)
    assert match is not None, svg
    return [(float(x), float(y)) for x, y in (p.split(",") for p in match.group(1).split())]


def budget_line(svg: str) -> tuple[float, float, float, float] | None:
    (found,) = Page(svg).find("line", class_="budget") or [None]
    if found is None:
        return None
    return tuple(float(found[k]) for k in ("x1", "y1", "x2", "y2"))  # type: ignore[return-value]


def test_a_chart_draws_every_sample_the_warm_up_band_and_the_budget_line() -> None:
    values = [100.0, 400, 500, 600, 700, 800, 900, 1000]
    svg = html.chart(values, warmup=2, threshold=50.0, unit="bytes", trend=GROWING)
    drawn = points(svg)
    assert len(drawn) == len(values)
    assert [x for x, _ in drawn] == sorted(x for x, _ in drawn)
    # the higher the value, the higher on the screen (smaller y)
    assert [y for _, y in drawn] == sorted((y for _, y in drawn), reverse=True)
    (band,) = Page(svg).find("rect", class_="band")
    assert float(band["x"]) == pytest.approx(drawn[0][0], abs=0.1)
    assert float(band["x"]) + float(band["width"]) == pytest.approx(drawn[2][0], abs=0.1)
    line = budget_line(svg)
    assert line is not None
    x1, y1, x2, y2 = line
    # it starts at the last warm-up sample and ends at the last run
    assert (x1, y1) == pytest.approx(drawn[2], abs=0.1)
    assert x2 == pytest.approx(drawn[-1][0], abs=0.1)
    # and rises by the threshold per run: 5 runs x 50 from 500 is 750, a quarter of the
    # way from 500 (y1) up to 1000 (the last sample's y)
    assert y2 == pytest.approx(y1 + (drawn[-1][1] - y1) * 250 / 500, abs=0.1)
    assert "t-growing" in svg


def test_a_zero_budget_is_a_flat_line_and_no_budget_no_line() -> None:
    values = [1.0, 5, 5, 6, 7, 8]
    line = budget_line(html.chart(values, warmup=2, threshold=0.0))
    assert line is not None
    assert line[1] == line[3]
    assert budget_line(html.chart(values, warmup=2, threshold=None)) is None


def test_the_budget_line_stays_inside_the_chart() -> None:
    svg = html.chart([0.0, 0, 0, 1, 2, 3], warmup=2, threshold=10**6)
    _, y1, _, y2 = budget_line(svg) or (0, 0, 0, 0)
    assert 0 <= y2 < y1 <= html._HEIGHT


def test_no_warm_up_no_band() -> None:
    svg = html.chart([1.0, 2, 3], warmup=0, threshold=0.0)
    assert not Page(svg).find("rect", class_="band")


@pytest.mark.parametrize("values", [[5.0], [5.0, 5.0, 5.0], [0.0, 0.0]])
def test_degenerate_series_are_drawn_without_dividing_by_zero(values: list[float]) -> None:
    svg = html.chart(values, warmup=2, threshold=0.0)
    for x, y in points(svg):
        assert math.isfinite(x)
        assert math.isfinite(y)


def test_each_varying_probe_gets_a_chart_the_offending_first() -> None:
    data = leak("t.py::test_leak", 100.0)
    data["samples"]["blocks"] = [1, 2, 3, 3, 3, 3, 3, 3]
    data["units"]["blocks"] = "count"
    data["thresholds"]["blocks"] = 0.0
    text = html.render(payload([data], settings={"probes": ["blocks", "fds", "heap"]}))
    captions = re.findall(r"<figcaption><b>(\w+)</b>", text)
    assert captions == ["heap", "blocks"]
    assert text.count('<svg class="chart"') == 2
    assert text.count('<rect class="band"') == 2
    assert text.count('<line class="budget"') == 2
    assert "constant over every run" in text  # fds, the same value every run
    assert '<figure class="offending">' in text


def test_the_explanation_is_shown_for_a_leak() -> None:
    explanation = {
        "runs": 3,
        "sites": [
            {
                "file": "shop/handlers.py",
                "line": 42,
                "code": "_CACHE[key] = response",
                "size_per_run": 2048.0,
                "count_per_run": 3.0,
                "traceback": ["a.py:1: f()", "shop/handlers.py:42: _CACHE[key] = response"],
            }
        ],
        "types": [{"type": "dict", "count_per_run": 2.0}],
        "holders": [{"path": "module shop . _CACHE (dict)", "growth_per_run": 1.0, "example": ""}],
        "chain": "module shop -> dict['_CACHE'] -> dict",
        "notes": ["a note"],
        "resources": {"threads": ["1 x thread 'worker'"]},
        "sizes": [{"type": "Order", "size_per_run": 3072.0, "count_per_run": 2.0}],
        "graph": {"dot": "graphs/t.py__test_leak.dot", "svg": "graphs/t.py__test_leak.svg"},
        "native": {
            "runs": 3,
            "sites": [
                {
                    "function": "leak",
                    "file": "leaky.c",
                    "line": 8,
                    "python": "t.py:19 in test_leak: LIB.leak(1 << 20)",
                    "native_stack": ["leak at leaky.c:8", "ffi_call"],
                    "size_per_run": 1048576.0,
                    "count_per_run": 1.0,
                }
            ],
            "notes": ["a native note"],
        },
    }
    page = Page(html.render(payload([leak("t.py::test_leak", 2048.0, explanation=explanation)])))
    for text in (
        "shop/handlers.py:42",
        "_CACHE[key] = response",
        "+2.0 KiB",
        "dict",
        "module shop . _CACHE (dict)",
        "module shop -> dict['_CACHE'] -> dict",
        "a note",
        "1 x thread 'worker'",
        "new threads still open after the runs",
        "sizes by type (pympler)",
        "+3.0 KiB",
        "graphs/t.py__test_leak.dot",
        "graphs/t.py__test_leak.svg",
        "native allocations (memray, 3 more runs)",
        "leak at leaky.c:8",
        "t.py:19 in test_leak: LIB.leak(1 << 20)",
        "+1.0 MiB",
        "a native note",
    ):
        assert text in page.text, text


# ---------------------------------------------------------------- the baseline comparison


COMPARISON = {
    "failed": True,
    "regressions": [
        {
            "nodeid": "test_a.py::test_big_leak",
            "probe": "heap",
            "unit": "bytes",
            "baseline": 1024.0,
            "now": 4096.0,
            "change": 3072.0,
            "tolerance": 102.4,
        }
    ],
    "improvements": [
        {
            "nodeid": "test_a.py::test_small_leak",
            "probe": "blocks",
            "unit": "count",
            "baseline": 10.0,
            "now": 2.0,
            "change": -8.0,
            "tolerance": 1.0,
        }
    ],
    "new_leaks": ["test_a.py::test_small_leak"],
    "new_tests": ["test_a.py::test_clean"],
    "removed_tests": ["test_a.py::test_gone"],
    "environment_changes": {"python": ["3.11.7", "3.12.1"]},
}


def test_the_baseline_comparison_is_a_table_of_regressions_and_improvements() -> None:
    text = html.render(payload(MIXED, baseline=COMPARISON))
    page = Page(text)
    assert page.find("section", id="baseline")
    assert "Baseline comparison: FAILED" in page.text
    rows = re.findall(r'<tr class="(regression|improvement)">(.*?)</tr>', text)
    assert [kind for kind, _ in rows] == ["regression", "improvement"]
    assert "1.0 KiB/run" in rows[0][1]
    assert "4.0 KiB/run" in rows[0][1]
    assert "+3.0 KiB/run" in rows[0][1]
    assert "-8/run" in rows[1][1]
    assert "python 3.11.7 → 3.12.1" in page.text
    assert "test_a.py::test_gone" in page.text
    # a test of this run links to its section
    anchors = {a["id"]: a["data-nodeid"] for a in page.find("article", class_="test")}
    links = [a["href"][1:] for a in page.find("a") if a.get("href", "").startswith("#")]
    assert anchors[links[0]] == "test_a.py::test_big_leak"


def test_no_baseline_no_comparison() -> None:
    page = Page(html.render(payload(MIXED)))
    assert not page.find("section", id="baseline")
    assert "Baseline comparison" not in page.text


def test_a_passed_comparison() -> None:
    comparison = dict(COMPARISON, failed=False, regressions=[], new_leaks=[])
    page = Page(html.render(payload(MIXED, baseline=comparison)))
    assert "Baseline comparison: passed" in page.text


def caused(nodeid: str, growth: float, cause: str, explained: bool) -> dict[str, Any]:
    root = {"id": cause, "holder": f"module m . {cause} (dict)", "site": "m.py:3", "first": "x"}
    explanation: dict[str, Any] = {"runs": 2, "holders": [], "root_cause": root}
    if explained:
        explanation["sites"] = []
    return leak(nodeid, growth, explanation=explanation)


def test_leaks_sharing_a_root_cause_are_one_group() -> None:
    tests = [
        caused("t.py::test_a", 300.0, "c1", explained=True),
        caused("t.py::test_b", 200.0, "c1", explained=False),
        caused("t.py::test_c", 100.0, "c1", explained=False),
        caused("t.py::test_alone", 50.0, HOSTILE, explained=True),
        leak("t.py::test_other", 10.0),
        clean("t.py::test_clean"),
    ]
    text = html.render(payload(tests))
    (section,) = re.findall(r'<section class="panel" id="causes">(.*?)</section>', text)
    group = Page(section)
    assert "Leaks by root cause: 3 leaks, 1 root causes" in group.text
    assert "3 leaks, one root cause (c1): module m . c1 (dict), allocated at m.py:3" in group.text
    anchors = {a["data-nodeid"]: a["id"] for a in Page(text).find("article", class_="test")}
    links = [a["href"] for a in group.find("a")]
    assert links == [f"#{anchors[f't.py::test_{n}']}" for n in "abc"]
    assert "t.py::test_a (explained)" in group.text
    assert "test_b (explained)" not in group.text
    assert "test_alone" not in group.text  # a cause of one leak is not a group
    assert "<script>alert" not in text


def test_no_shared_root_cause_no_group_panel() -> None:
    page = Page(html.render(payload(MIXED)))
    assert not page.find("section", id="causes")


# ---------------------------------------------------------------- large reports


def compact_data(text: str) -> dict[str, Any]:
    """The one-line tests the page keeps as data for its script (``#compact-data``)."""
    match = re.search(r'<div id="compact-data" hidden>(.*?)</div>', text, re.DOTALL)
    assert match is not None
    data: dict[str, Any] = json.loads(unescape(match.group(1)))
    return data


def data_nodeids(data: dict[str, Any]) -> list[str]:
    return [data["files"][file] + rest for file, rest, _ in data["tests"]]


def test_only_leaks_inconclusive_and_errors_get_details() -> None:
    text = html.render(payload(MIXED))
    page = Page(text)
    lines = {a["data-nodeid"] for a in page.find("article", class_="compact")}
    assert lines == {"test_a.py::test_clean", "test_a.py::test_skipped"}
    assert text.count('<svg class="chart"') == 3  # the two leaks' heap and the noisy test's
    assert "5 measured runs after 2 warm-up runs" in page.text  # the clean test's line
    assert "the test failed" in page.text  # the skipped test's reason
    assert not page.find("div", id="compact-data")  # every line fits in the first page
    assert not page.find("button", id="more")


def test_past_a_page_the_lines_are_data_for_the_script() -> None:
    tests = [leak("a.py::test_leak", 100.0)]
    tests += [clean(f"a.py::test_{i:02d}") for i in range(5)]
    tests += [entry(f"b/c.py::T::test_{i}", SKIPPED, reason="the test failed") for i in range(2)]
    tests.append({"nodeid": "no_separator", "verdict": "clean", "runs": 3, "warmup": 1})
    text = html.render(payload(tests), page_size=3)
    page = Page(text)
    lines = ["a.py::test_00", "a.py::test_01", "a.py::test_02"]
    assert page.nodeids() == ["a.py::test_leak", *lines]
    assert [a["id"] for a in page.find("article", class_="test")] == ["t0", "t1", "t2", "t3"]
    assert page.find("button", id="more")
    assert "show 3 more (5 not shown)" in page.text
    data = compact_data(text)
    assert data["first"] == 1
    assert data["page"] == 3
    assert data_nodeids(data) == [
        *lines,
        "a.py::test_03",
        "a.py::test_04",
        "no_separator",
        "b/c.py::T::test_0",
        "b/c.py::T::test_1",
    ]
    kinds = [data["kinds"][kind] for _, _, kind in data["tests"]]
    assert kinds[0] == [CLEAN, "clean", "5 measured runs after 2 warm-up runs"]
    assert kinds[5] == [CLEAN, "clean", "3 measured runs after 1 warm-up run"]
    assert kinds[-1] == [SKIPPED, "skipped", "the test failed"]
    assert len(data["kinds"]) == 3  # each distinct line once


def test_a_hostile_node_id_in_the_data_stays_text() -> None:
    nodeid = f"test_x.py::test_p[{HOSTILE}]"
    tests = [clean("test_x.py::test_a"), clean(nodeid)]
    text = html.render(payload(tests), page_size=1)
    assert "<script>alert" not in text
    assert "<img" not in text
    assert [tag for tag, _ in Page(text).tags].count("script") == 1
    assert data_nodeids(compact_data(text))[1] == nodeid


def test_tests_are_counted_by_file() -> None:
    tests = [*MIXED, clean("test_b.py::test_one"), clean("test_b.py::test_two")]
    text = html.render(payload(tests))
    (files,) = re.findall(r'<section class="panel" id="files">(.*?)</section>', text)
    assert "Tests by file: 2 files" in Page(files).text
    rows = re.findall(r'<tr><td><button type="button" class="file" data-file="([^"]+)">', files)
    assert rows == ["test_a.py", "test_b.py"]
    cells = [
        [Page(cell).text for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", files)
    ]
    assert cells == [
        ["file", "checked", "leaked", "inconclusive", "error", "clean", "skipped"],
        ["test_a.py", "6", "2", "1", "1", "1", "1"],
        ["test_b.py", "2", "", "", "", "2", ""],
    ]


def test_compact_results_without_samples_or_trends_render() -> None:
    # Clean results as a compact JSON report keeps them: no samples, trends or growth.
    tests: list[dict[str, Any]] = [
        {"nodeid": "t.py::test_quiet", "verdict": CLEAN, "runs": 1, "warmup": 1},
        {"nodeid": "t.py::test_gone", "verdict": SKIPPED, "reason": "the test failed"},
        {"nodeid": "t.py::test_leak", "verdict": LEAK, "runs": 5, "warmup": 2},
        {"nodeid": "t.py::test_noisy", "verdict": INCONCLUSIVE, "samples": {"heap": [1, 2]}},
    ]
    page = Page(html.render(payload(tests)))
    assert page.nodeids() == [
        "t.py::test_leak",
        "t.py::test_noisy",
        "t.py::test_quiet",
        "t.py::test_gone",
    ]
    assert "1 measured run after 1 warm-up run" in page.text
    assert "the test failed" in page.text


# ---------------------------------------------------------------- the command line


def test_the_html_command_renders_a_json_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(payload(MIXED)), encoding="utf-8")
    out = tmp_path / "report.html"
    assert cli.main(["html", str(report), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == html.render(payload(MIXED))


# ---------------------------------------------------------------- sparkline


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ""),
        ([3], "▁"),
        ([3, 3, 3], "▁▁▁"),
        ([0, 7], "▁█"),
        ([0, 1, 2, 3, 4, 5, 6, 7], BARS),
        ([7, 6, 5, 4, 3, 2, 1, 0], BARS[::-1]),
        ([-5, 5], "▁█"),
        ([0, 0.5, 1], "▁▅█"),
        ([1, math.nan, 2], "▁ █"),
        ([math.inf, math.nan], "  "),
        ([10**12, 10**12 + 1], "▁█"),
    ],
)
def test_sparkline(values: list[float], expected: str) -> None:
    assert sparkline(values) == expected


def test_sparkline_of_a_leak_rises() -> None:
    line = sparkline([1000 + 20 * i for i in range(23)])
    assert len(line) == 23
    assert line[0] == "▁"
    assert line[-1] == "█"
    assert list(line) == sorted(line, key=BARS.index)


def test_sparkline_shrinks_a_long_series_to_a_width() -> None:
    assert sparkline(list(range(200)), width=8) == BARS
    assert sparkline([1, 2], width=8) == "▁█"
    assert len(sparkline([0, 1] * 100, width=20)) == 20
    assert sparkline([0, 1] * 100, width=20) == "▁" * 20  # noise averages out
    with pytest.raises(ValueError, match="width"):
        sparkline([1, 2], width=0)


# ---------------------------------------------------------------- in a real browser


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1280,1600",
)


def chromium_executable() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "Chromium is not installed (Debian: apt-get install chromium); the browser test needs it"
    )


class Browser:
    """One headless Chromium page, driven over the DevTools protocol."""

    def __init__(self, executable: str, profile: Path, log: Path) -> None:
        websocket = pytest.importorskip(
            "websocket", reason="websocket-client is not installed (the test extra has it)"
        )
        profile.mkdir()
        self.log = log
        with log.open("wb") as stream:
            self.process = subprocess.Popen(
                [
                    executable,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=stream,
            )
        try:
            port = self._port(profile / "DevToolsActivePort")
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
            with direct.open(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
                targets = json.load(reply)
            (page,) = [t for t in targets if t["type"] == "page"]
            # Our own socket: websocket-client would go through a proxy from the environment.
            connection = socket.create_connection(("127.0.0.1", port), timeout=30)
            self.ws = websocket.create_connection(
                page["webSocketDebuggerUrl"], socket=connection, suppress_origin=True
            )
        except BaseException:
            self.close()
            raise
        self.ids = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def _port(self, active: Path) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited: {self.log.read_text(errors='replace')}")
            lines = active.read_text().split() if active.exists() else []
            if len(lines) >= 2:  # the port, then the browser's path: the file is complete
                return int(lines[0])
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port within 30 s")

    def close(self) -> None:
        if hasattr(self, "ws"):
            self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.ws.recv())
        if message.get("method") == "Page.javascriptDialogOpening":
            # A dialog blocks the page until it is answered: record it, dismiss it.
            self.events.append(message)
            self.ws.send(
                json.dumps(
                    {"id": 0, "method": "Page.handleJavaScriptDialog", "params": {"accept": False}}
                )
            )
            return {}
        return message

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.ids += 1
        self.ws.send(json.dumps({"id": self.ids, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == self.ids:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        if any(e["method"] == event for e in self.events):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._receive()
            if "method" in message:
                self.events.append(message)
                if message["method"] == event:
                    return
        raise AssertionError(f"no {event} within {timeout} s")

    def open(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        """Evaluate in the page; the value, JSON-converted."""
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element."""
        box = self.js(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def type(self, selector: str, text: str) -> None:
        """Focus a field and type, as a keyboard would (input events included)."""
        self.click(selector)
        self.send("Input.insertText", text=text)

    def clear(self, selector: str) -> None:
        self.click(selector)
        self.js(f"document.querySelector({json.dumps(selector)}).select()")
        for kind in ("keyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Backspace",
                code="Backspace",
                windowsVirtualKeyCode=8,
            )

    def visible(self) -> list[str]:
        """Node ids of the test sections a person sees (laid out, not hidden)."""
        return list(
            self.js(
                "Array.from(document.querySelectorAll('article.test'))"
                ".filter(a => a.getBoundingClientRect().height > 0)"
                ".map(a => a.getAttribute('data-nodeid'))"
            )
        )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    opened = Browser(
        chromium_executable(), tmp_path / "chromium-profile", tmp_path / "chromium.log"
    )
    try:
        yield opened
    finally:
        opened.close()


SUITE = """
import pytest

_KEPT = []


def test_leaks():
    _KEPT.append(bytearray(10000))


def test_clean():
    assert sum(range(10)) == 45


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "\\"><img src=x onerror=alert(2)>"])
def test_param(text):
    assert text
"""
HOSTILE_IDS = [
    "test_suite.py::test_param[<script>alert(1)</script>]",
    'test_suite.py::test_param["><img src=x onerror=alert(2)>]',
]


def test_in_a_browser(pytester: pytest.Pytester, browser: Browser) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "--leakguard",
        "--leakguard-html=report.html",
        "--leakguard-max-runs=12",
        "--leakguard-confirm-runs=12",
        "-p",
        "no:cacheprovider",
    )
    report = pytester.path / "report.html"
    assert report.exists(), "\n".join(result.outlines + result.errlines)
    result.assert_outcomes(passed=3, failed=1)

    browser.open(report.as_uri())
    assert browser.js("document.title").startswith("pytest-leakguard report: 1 leaked, 3 clean")

    # the leak is listed first, on top of the page
    shown = browser.visible()
    assert shown[0] == "test_suite.py::test_leaks"
    assert sorted(shown) == sorted(
        ["test_suite.py::test_leaks", "test_suite.py::test_clean", *HOSTILE_IDS]
    )
    tops = browser.js(
        "Array.from(document.querySelectorAll('article.test'))"
        ".map(a => a.getBoundingClientRect().top)"
    )
    assert tops == sorted(tops)

    # its chart is drawn: a polyline with points, laid out with a width on the page
    chart = browser.js(
        "(() => { const line = document.querySelector("
        "'article.test[data-verdict=\"leak\"] figure svg polyline.series');"
        " const r = line.getBoundingClientRect();"
        " return {points: line.points.numberOfItems, width: r.width, height: r.height,"
        " band: !!line.ownerSVGElement.querySelector('rect.band'),"
        " budget: !!line.ownerSVGElement.querySelector('line.budget'),"
        " stroke: getComputedStyle(line).stroke}; })()"
    )
    assert chart["points"] >= 8, chart  # the first run, 2 warm-up runs, 5+ measured runs
    assert chart["width"] > 100, chart
    assert chart["height"] > 10, chart  # it rises
    assert chart["band"], chart
    assert chart["budget"], chart
    assert chart["stroke"] not in ("none", ""), chart  # the page's style applies

    # the hostile ids are shown as text; they made no element and ran nothing
    texts = browser.js(
        "Array.from(document.querySelectorAll('article.test .nodeid')).map(e => e.textContent)"
    )
    for nodeid in HOSTILE_IDS:
        assert nodeid in texts
    assert browser.js("document.scripts.length") == 1
    assert browser.js("document.querySelectorAll('#tests script, img').length") == 0

    # typing in the filter box hides the tests that do not match
    browser.type("#filter", "param")
    assert sorted(browser.visible()) == sorted(HOSTILE_IDS)
    assert browser.js("document.getElementById('shown').textContent") == "2 of 4 tests shown"
    browser.clear("#filter")
    browser.type("#filter", "<script>")
    assert browser.visible() == [HOSTILE_IDS[0]]
    browser.clear("#filter")
    browser.type("#filter", "no such test")
    assert browser.visible() == []
    browser.clear("#filter")
    assert len(browser.visible()) == 4

    # the verdict buttons in the header filter by verdict, a second click shows all again
    browser.click("button.chip[data-verdict='leak']")
    assert browser.visible() == ["test_suite.py::test_leaks"]
    browser.click("button.chip[data-verdict='leak']")
    assert len(browser.visible()) == 4

    # nothing was fetched from anywhere, no dialog opened, no error was logged
    methods = [e["method"] for e in browser.events]
    assert "Page.javascriptDialogOpening" not in methods
    assert "Runtime.exceptionThrown" not in methods
    urls = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e["method"] == "Network.requestWillBeSent"
    ]
    assert all(url.startswith("file:") for url in urls), urls
    errors = [e["params"]["entry"] for e in browser.events if e["method"] == "Log.entryAdded"]
    assert not [e for e in errors if e.get("level") == "error"], errors


def wait_until(check: Any, what: str) -> None:
    """Wait for the page to catch up with an event (hashchange runs after the evaluation)."""
    deadline = time.monotonic() + 30
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within 30 s: {what}")
        time.sleep(0.05)


def test_a_report_of_20000_tests_in_a_browser(tmp_path: Path, browser: Browser) -> None:
    tests, leaks = [], []
    for index in range(20_000):
        nodeid = f"tests/test_m{index // 40:03d}.py::test_case_{index:05d}"
        if index % 1000 == 999:
            tests.append(leak(nodeid, 100.0 + index))
            leaks.append(nodeid)
        else:
            tests.append(clean(nodeid))
    cleans = sorted(t["nodeid"] for t in tests if t["verdict"] == CLEAN)
    report = tmp_path / "report.html"
    report.write_text(html.render(payload(tests)), encoding="utf-8")
    browser.open(report.as_uri())
    assert browser.js("document.title") == "pytest-leakguard report: 20 leaked, 19980 clean"

    # the leaks first, worst first, with their charts; then a page of clean tests
    page = html.PAGE_SIZE
    shown = browser.visible()
    assert shown == [*leaks[::-1], *cleans[:page]]
    charts = "document.querySelectorAll('article.v-leak svg polyline.series').length"
    assert browser.js(charts) == 20
    counter = "document.getElementById('shown').textContent"
    assert browser.js(counter) == f"{20 + page} of 20000 tests shown"

    # the next page, on demand
    browser.click("#more")
    assert browser.visible() == [*leaks[::-1], *cleans[: 2 * page]]
    assert browser.js("document.getElementById('more').textContent") == (
        f"show {page} more ({19980 - 2 * page} not shown)"
    )

    # the filter finds a test that was only data, and only it
    browser.type("#filter", "test_case_15000")
    assert browser.visible() == ["tests/test_m375.py::test_case_15000"]
    assert browser.js(counter) == "1 of 20000 tests shown"
    assert browser.js("document.getElementById('more').hidden") is True
    browser.clear("#filter")

    # the verdict buttons: the leaks alone, then every test again
    browser.click("button.chip[data-verdict='leak']")
    assert browser.visible() == leaks[::-1]
    browser.click("button.chip[data-verdict='leak']")
    assert len(browser.visible()) == 20 + page

    # the tests counted by file; a file's button lists its tests
    browser.click("#files summary")
    row = "Array.from(document.querySelectorAll('#files tr')).pop().textContent"
    assert browser.js(row) == "tests/test_m499.py40139"
    browser.click("button.file[data-file='tests/test_m499.py']")
    expected = [f"tests/test_m499.py::test_case_{index:05d}" for index in range(19960, 20000)]
    assert browser.visible() == [expected[-1], *expected[:-1]]
    browser.clear("#filter")

    # a link to a test that is only data lists it (as the baseline panel's links do)
    anchor = f"t{20 + 15000}"
    assert browser.js(f"document.getElementById('{anchor}')") is None
    browser.js(f"location.hash = '#{anchor}'")
    wait_until(lambda: browser.visible() == [cleans[15000]], "the linked test listed")
    linked = f"document.getElementById('{anchor}').getAttribute('data-nodeid')"
    assert browser.js(linked) == cleans[15000]

    methods = [e["method"] for e in browser.events]
    assert "Runtime.exceptionThrown" not in methods
    errors = [e["params"]["entry"] for e in browser.events if e["method"] == "Log.entryAdded"]
    assert not [e for e in errors if e.get("level") == "error"], errors
