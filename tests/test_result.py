"""Unit tests of the typed result (pytest_leakguard.result) and of its words (report/text.py).

Moved from tests/test_verdict.py, whose tests are now those of the decision alone; the
compact form, the status words and the JSON Schema are tested here too.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from pytest_leakguard import baseline
from pytest_leakguard.report import json_report
from pytest_leakguard.report.terminal import ordered, summary_lines
from pytest_leakguard.report.text import describe, message, runs_phrase, summary
from pytest_leakguard.result import (
    CLEAN,
    ERROR,
    FLAT,
    GROWING,
    INCONCLUSIVE,
    LEAK,
    NOISY,
    SKIPPED,
    VERDICTS,
    Explanation,
    Kept,
    ProbeTrend,
    Status,
    TestResult,
    expand,
)

MIB = 1024**2


# ---------------------------------------------------------------- ProbeTrend


def test_probe_trend_describe_bytes() -> None:
    trend = ProbeTrend("heap", "bytes", GROWING, MIB, MIB, 20, 20, 0.0)
    assert describe(trend) == ("heap: +1.0 MiB/run over 20 runs, grew in 20 of 20 (budget 0 B/run)")


def test_probe_trend_describe_count_negative_and_informative() -> None:
    trend = ProbeTrend("objects", "count", FLAT, -3.0, 0.0, 0, 5, None)
    assert describe(trend) == "objects: -3/run over 5 runs, grew in 0 of 5 (informative)"


def test_probe_trend_describe_rss_budget() -> None:
    trend = ProbeTrend("rss", "bytes", FLAT, 0.0, 0.0, 1, 5, 65536.0)
    assert describe(trend).endswith("(budget 64.0 KiB/run)")


# ---------------------------------------------------------------- TestResult


def trend(
    probe: str,
    status: str,
    growth: float,
    unit: str = "count",
    threshold: float | None = 0.0,
    runs: int = 20,
) -> ProbeTrend:
    return ProbeTrend(
        probe, unit, status, growth, growth, runs if growth > 0 else 0, runs, threshold
    )


def leak(nodeid: str, byte_growth: float = 0.0, count_growth: float = 0.0) -> dict[str, Any]:
    trends = (
        trend("blocks", GROWING if count_growth else FLAT, count_growth),
        trend("heap", GROWING if byte_growth else FLAT, byte_growth, "bytes"),
    )
    data = TestResult(LEAK, warmup=2, trends=trends).to_json()
    data["nodeid"] = nodeid
    return data


def simple(nodeid: str, status: str, reason: str = "") -> dict[str, Any]:
    trends = () if status in (ERROR, SKIPPED) else (trend("blocks", NOISY, 1.0),)
    data = TestResult(status, reason=reason, warmup=2, trends=trends).to_json()
    data["nodeid"] = nodeid
    return data


LEAK_VERDICT = TestResult(
    LEAK,
    warmup=2,
    trends=(
        trend("blocks", GROWING, 2.0),
        trend("objects", GROWING, 1.0, threshold=None),
        trend("heap", GROWING, 100_000.0, "bytes"),
        trend("rss", FLAT, 0.0, "bytes", threshold=65536.0),
    ),
    samples={"blocks": [1, 3, 5], "heap": [0, 100_000, 200_000]},
)


def test_verdict_runs_and_offending() -> None:
    assert LEAK_VERDICT.runs == 20
    assert [t.probe for t in LEAK_VERDICT.offending] == ["blocks", "heap"]
    assert TestResult(CLEAN).runs == 0
    assert TestResult(CLEAN, trends=LEAK_VERDICT.trends).offending == []
    assert TestResult(ERROR, trends=LEAK_VERDICT.trends).offending == []


def test_verdict_inconclusive_offending_includes_noisy_decisive_probes() -> None:
    verdict = TestResult(
        INCONCLUSIVE,
        trends=(
            trend("blocks", NOISY, 1.0),
            trend("objects", NOISY, 1.0, threshold=None),
            trend("rss", FLAT, 0.0, "bytes"),
        ),
    )
    assert [t.probe for t in verdict.offending] == ["blocks"]


def test_verdict_message_of_a_leak() -> None:
    lines = message(LEAK_VERDICT).splitlines()
    assert lines[0] == (
        "memory leak: retained memory grows from run to run (20 measured runs after 2 warm-up runs)"
    )
    assert lines[1].startswith("  > blocks: +2/run")
    assert lines[2].startswith("    objects: +1/run")  # informative: not marked
    assert lines[2].endswith("(informative)")
    assert lines[3].startswith("  > heap: +97.7 KiB/run")
    assert lines[4].startswith("    rss: +0 B/run")


@pytest.mark.parametrize(
    ("status", "head"),
    [
        (LEAK, "memory leak:"),
        (INCONCLUSIVE, "leak check inconclusive:"),
        (ERROR, "leak check error:"),
        (CLEAN, "no leak"),
        (SKIPPED, "leak check skipped"),
    ],
)
def test_verdict_message_head_for_every_status(status: str, head: str) -> None:
    assert message(TestResult(status)).startswith(head)


def test_verdict_message_carries_reason_and_error() -> None:
    verdict = TestResult(
        ERROR, reason="call failed when the test was run again", warmup=1, error="Traceback..."
    )
    lines = message(verdict).splitlines()
    assert lines[0].endswith("(0 measured runs after 1 warm-up run)")
    assert lines[1] == "call failed when the test was run again"
    assert lines[-1] == "Traceback..."


def test_verdict_summary() -> None:
    assert summary(LEAK_VERDICT) == "blocks +2/run, heap +97.7 KiB/run (20 runs)"
    assert summary(TestResult(SKIPPED, reason="the test was skipped")) == "the test was skipped"
    assert summary(TestResult(ERROR, reason="setup failed")) == "setup failed"
    clean = TestResult(
        CLEAN, trends=(trend("blocks", FLAT, 0.0), trend("x", FLAT, 0.0, threshold=None))
    )
    assert summary(clean) == "blocks +0/run (20 runs)"


def test_verdict_summary_shows_negative_growth_without_a_plus() -> None:
    clean = TestResult(CLEAN, trends=(trend("blocks", FLAT, -2.0),))
    assert summary(clean) == "blocks -2/run (20 runs)"


def test_verdict_severity_orders_bytes_before_counts() -> None:
    small_bytes = TestResult(LEAK, trends=(trend("heap", GROWING, 10.0, "bytes"),))
    big_bytes = TestResult(LEAK, trends=(trend("heap", GROWING, 10_000.0, "bytes"),))
    many_blocks = TestResult(LEAK, trends=(trend("blocks", GROWING, 100_000.0),))
    assert big_bytes.severity() > small_bytes.severity() > many_blocks.severity() > 0
    assert TestResult(CLEAN, trends=big_bytes.trends).severity() == 0


def test_verdict_severity_ignores_informative_and_flat_probes() -> None:
    verdict = TestResult(
        LEAK,
        trends=(
            trend("blocks", GROWING, 3.0),
            trend("objects", GROWING, 1e9, threshold=None),
            trend("rss", FLAT, 1e9, "bytes"),
        ),
    )
    assert verdict.severity() == 3.0


# ---------------------------------------------------------------- TestResult: to_dict / from_dict


ROUND_TRIP = [
    LEAK_VERDICT,
    TestResult(CLEAN, warmup=2, trends=(trend("blocks", FLAT, 0.0),), samples={"blocks": [1, 1]}),
    TestResult(INCONCLUSIVE, warmup=0, trends=(trend("blocks", NOISY, 0.5, runs=7),)),
    TestResult(ERROR, reason="call failed when the test was run again", error="Traceback\nboom"),
    TestResult(ERROR, reason="call failed when the test was run again", warmup=2, runs_made=3),
    TestResult(SKIPPED, reason="the test was skipped"),
]


def test_error_verdict_counts_the_runs_made() -> None:
    verdict = TestResult(ERROR, reason="call failed when the test was run again", runs_made=3)
    assert verdict.runs == verdict.to_json()["runs"] == 3
    assert "(3 measured runs after 0 warm-up runs)" in message(verdict)
    # probes' trends, when there are any, say how many runs were judged
    assert dataclasses.replace(LEAK_VERDICT, runs_made=3).runs == LEAK_VERDICT.runs


@pytest.mark.parametrize("verdict", ROUND_TRIP, ids=lambda v: v.status)
def test_verdict_round_trip(verdict: TestResult) -> None:
    assert TestResult.from_json(verdict.to_json()) == verdict


@pytest.mark.parametrize("verdict", ROUND_TRIP, ids=lambda v: v.status)
def test_verdict_round_trip_through_json(verdict: TestResult) -> None:
    data = verdict.to_json()
    data["nodeid"] = "test_x.py::test_y"  # as the runner attaches it
    text = json.dumps(data, allow_nan=False)
    rebuilt = TestResult.from_json(json.loads(text))
    assert rebuilt == verdict
    assert message(rebuilt) == message(verdict)
    assert summary(rebuilt) == summary(verdict)


@pytest.mark.skipif(
    "explanation" not in {f.name for f in dataclasses.fields(TestResult)},
    reason="no explanation field",
)
def test_verdict_round_trip_keeps_the_explanation() -> None:
    explanation = {"runs": 3, "sites": [], "types": [], "holders": [], "notes": ["n"]}
    verdict = dataclasses.replace(LEAK_VERDICT, explanation=explanation)  # type: ignore[call-arg]
    data = json.loads(json.dumps(verdict.to_json()))
    assert TestResult.from_json(data) == verdict


def test_verdict_to_dict_fields() -> None:
    data = LEAK_VERDICT.to_json()
    assert data["verdict"] == LEAK
    assert data["runs"] == 20
    assert data["warmup"] == 2
    assert data["trend"] == {
        "blocks": GROWING,
        "objects": GROWING,
        "heap": GROWING,
        "rss": FLAT,
    }
    assert data["thresholds"]["objects"] is None
    assert data["units"]["heap"] == "bytes"
    assert data["samples"] == {"blocks": [1, 3, 5], "heap": [0, 100_000, 200_000]}
    assert data["message"] == message(LEAK_VERDICT)


def test_verdict_to_dict_of_a_clean_test_has_no_message() -> None:
    assert TestResult(CLEAN, trends=(trend("blocks", FLAT, 0.0),)).to_json()["message"] == ""


def test_verdict_to_dict_copies_samples() -> None:
    samples = {"blocks": [1, 2]}
    data = TestResult(CLEAN, samples=samples).to_json()
    data["samples"]["blocks"].append(3)
    assert samples == {"blocks": [1, 2]}


def test_verdict_from_dict_accepts_a_minimal_dict() -> None:
    data = {
        "verdict": CLEAN,
        "runs": 5,
        "growth_per_run": {"blocks": 0.0},
        "tail_growth_per_run": {"blocks": 0.0},
        "trend": {"blocks": FLAT},
        "thresholds": {"blocks": 0.0},
        "units": {"blocks": "count"},
        "rising_runs": {"blocks": 0},
    }
    verdict = TestResult.from_json(data)
    assert verdict.status == CLEAN
    assert verdict.runs == 5
    assert verdict.warmup == 0
    assert verdict.samples == {}


# ---------------------------------------------------------------- ordering in the summary


def test_ordered_puts_leaks_first_worst_first_then_by_status() -> None:
    results = [
        simple("t::skipped", SKIPPED, "the test was skipped"),
        simple("t::clean", CLEAN),
        simple("t::error", ERROR, "setup failed"),
        simple("t::inconclusive", INCONCLUSIVE),
        leak("t::small_leak", byte_growth=100.0),
        leak("t::blocks_leak", count_growth=1e5),
        leak("t::big_leak", byte_growth=1e6),
    ]
    assert [r["nodeid"] for r in ordered(results)] == [
        "t::big_leak",
        "t::small_leak",
        "t::blocks_leak",
        "t::inconclusive",
        "t::error",
        "t::clean",
        "t::skipped",
    ]
    assert VERDICTS == (LEAK, INCONCLUSIVE, ERROR, CLEAN, SKIPPED)


def test_ordered_breaks_ties_by_nodeid() -> None:
    results = [leak("t::b", 10.0), leak("t::a", 10.0), simple("t::d", CLEAN), simple("t::c", CLEAN)]
    assert [r["nodeid"] for r in ordered(results)] == ["t::a", "t::b", "t::c", "t::d"]


def test_summary_lines_hide_clean_tests_unless_verbose() -> None:
    results = [leak("t::leaky", byte_growth=2048.0), simple("t::clean", CLEAN)]
    quiet = summary_lines(results, verbose=False)
    assert [text for text, _ in quiet] == [
        "LEAKED t::leaky - heap +2.0 KiB/run (20 runs)",
        "2 checked: 1 leaked, 1 clean",
    ]
    assert quiet[0][1] == {"red": True}
    assert quiet[-1][1] == {"red": True, "bold": True}
    loud = summary_lines(results, verbose=True)
    assert [text for text, _ in loud][1] == "clean t::clean - blocks +1/run (20 runs)"


@pytest.mark.parametrize(
    ("statuses", "colour"),
    [((CLEAN,), "green"), ((CLEAN, INCONCLUSIVE), "yellow"), ((ERROR,), "red"), ((LEAK,), "red")],
)
def test_summary_lines_total_colour(statuses: tuple[str, ...], colour: str) -> None:
    results = [
        leak(f"t::{i}", 10.0) if status == LEAK else simple(f"t::{i}", status, "r")
        for i, status in enumerate(statuses)
    ]
    text, markup = summary_lines(results, verbose=False)[-1]
    assert text.startswith(f"{len(statuses)} checked: ")
    assert markup == {colour: True, "bold": True}


# ---------------------------------------------------------------- Status


def test_status_carries_its_words_letter_and_colour() -> None:
    assert [(s.value, s.label, s.word, s.letter, s.colour, s.counted) for s in Status] == [
        ("leak", "LEAKED", "LEAKED", "L", "red", "leaked"),
        ("inconclusive", "INCONCLUSIVE", "INCONCLUSIVE", "I", "yellow", "inconclusive"),
        ("error", "ERROR", "LEAKERROR", "E", "red", "error"),
        ("clean", "clean", "", "", "green", "clean"),
        ("skipped", "skipped", "", "", "yellow", "skipped"),
    ]
    assert tuple(Status) == VERDICTS


def test_status_mixes_with_the_plain_words_of_a_report() -> None:
    words = {"leak": 1}
    assert words[Status.LEAK] == 1
    assert {Status.LEAK: 1}["leak"] == 1
    assert Status.LEAK == "leak"
    assert f"{Status.LEAK}" == "leak" == str(Status.LEAK)
    assert json.dumps({"verdict": Status.CLEAN}) == '{"verdict": "clean"}'
    assert Status.of("clean") is Status.CLEAN
    assert Status.of("cleaned") is None
    assert Status.of(3) is None
    with pytest.raises(ValueError, match="'cleaned' is not a leakguard status"):
        Status.parse("cleaned")


def test_a_result_travels_with_plain_strings() -> None:
    """execnet (xdist) serialises str exactly, not its subclasses."""
    data = TestResult(Status.LEAK, trends=LEAK_VERDICT.trends).to_json()
    assert type(data["verdict"]) is str
    assert type(TestResult("clean", trends=STILL).to_json(compact=True)["verdict"]) is str


# ---------------------------------------------------------------- the compact form

STILL = (
    ProbeTrend("blocks", "count", FLAT, 0.0, 0.0, 0, 3, 0.0),
    ProbeTrend("heap", "bytes", FLAT, 0.0, 0.0, 0, 3, 0.0),
    ProbeTrend("rss", "bytes", FLAT, 0.0, 0.0, 0, 3, 65536.0),
    ProbeTrend("objects", "count", FLAT, 0.0, 0.0, 0, 3, None),
)
UNITS = {"blocks": "count", "heap": "bytes", "rss": "bytes", "objects": "count"}


def still(**changes: Any) -> TestResult:
    fields: dict[str, Any] = {
        "warmup": 2,
        "trends": STILL,
        "samples": {"heap": [5, 9, 9, 9, 9, 9]},
        "nodeid": "tests/test_module.py::test_name[param]",
        **changes,
    }
    return TestResult(CLEAN, **fields)


def test_a_still_clean_test_is_compact() -> None:
    data = still().to_json(compact=True)
    assert data == {
        "nodeid": "tests/test_module.py::test_name[param]",
        "verdict": "clean",
        "warmup": 2,
        "runs": 3,
        "flat": {"blocks": 0.0, "heap": 0.0, "rss": 65536.0, "objects": None},
    }
    rebuilt = TestResult.from_json(json.loads(json.dumps(data)), UNITS)
    assert rebuilt == dataclasses.replace(still(), samples={})
    assert summary(rebuilt) == summary(still())
    assert still().to_json()["samples"] == {"heap": [5, 9, 9, 9, 9, 9]}  # full unless asked


def test_noise_below_the_threshold_is_kept_in_the_compact_form() -> None:
    trends = (*STILL[:2], ProbeTrend("rss", "bytes", FLAT, 1365.3, 1365.3, 0, 3, 65536.0))
    result = still(trends=trends)
    data = result.to_json(compact=True)
    assert data["moved"] == {"rss": [1365.3, 1365.3]}
    assert TestResult.from_json(json.loads(json.dumps(data)), UNITS).trends == trends
    assert "moved" not in still().to_json(compact=True)
    shrinking = still(trends=(ProbeTrend("blocks", "count", FLAT, -2.0, 0.0, 0, 20, 0.0),))
    assert shrinking.to_json(compact=True)["moved"] == {"blocks": [-2.0, 0.0]}
    assert (
        summary(TestResult.from_json(shrinking.to_json(compact=True))) == "blocks -2/run (20 runs)"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"reason": "leak suppressed by site:*"},
        {"error": "boom"},
        {"explanation": {"notes": ["n"]}},
        {"suppressions": [{"pattern": "site:*", "bytes_per_run": 1.0}]},
        {"trends": (ProbeTrend("heap", "bytes", FLAT, 0.0, 0.0, 1, 5, 0.0),)},
        {"trends": (ProbeTrend("heap", "bytes", FLAT, 0.0, 0.0, 0, 5, 512.0, 8.0),)},
        {"trends": ()},
    ],
    ids=lambda c: next(iter(c)) + ("" if "trends" not in c else str(len(c["trends"]))),
)
def test_a_clean_test_with_something_to_say_keeps_the_full_form(changes: dict[str, Any]) -> None:
    result = still(**changes)
    assert not result.is_compact()
    assert "flat" not in result.to_json(compact=True)


@pytest.mark.parametrize("status", [LEAK, INCONCLUSIVE, ERROR, SKIPPED])
def test_only_clean_tests_are_compact(status: str) -> None:
    result = dataclasses.replace(still(), status=status)
    assert "flat" not in result.to_json(compact=True)


def test_the_kept_form_shares_what_clean_tests_have_in_common() -> None:
    kept = Kept()
    received = [
        json.loads(json.dumps(still(nodeid=f"t::{i}").to_json(compact=True))) for i in range(3)
    ]
    first, second, third = (kept(data, f"t::{i}") for i, data in enumerate(received))
    assert first == received[0]
    assert third == received[2]
    assert first["flat"] is second["flat"] is third["flat"]
    leak = LEAK_VERDICT.to_json()
    assert kept(leak, "t::leak") is leak  # the full form is kept as received


def test_expand_gives_readers_the_full_form() -> None:
    compact = still().to_json(compact=True)
    full = expand(compact, UNITS)
    assert full["units"] == UNITS
    assert full["trend"] == dict.fromkeys(UNITS, FLAT)
    assert full["growth_per_run"] == dict.fromkeys(UNITS, 0.0)
    assert full["samples"] == {}
    assert expand(LEAK_VERDICT.to_json(), UNITS) == LEAK_VERDICT.to_json()
    hostile = {"nodeid": "t::x", "verdict": "clean", "flat": 3}
    assert expand(hostile, UNITS) == hostile  # left to the reader to show what it can


def test_summary_lines_of_compact_clean_tests_use_the_units_given() -> None:
    results = [still(nodeid="t::clean").to_json(compact=True)]
    lines = summary_lines(results, verbose=True, units=UNITS)
    assert lines[0] == (
        "clean t::clean - blocks +0/run, heap +0 B/run, rss +0 B/run (3 runs)",
        {"green": True},
    )


def test_baseline_from_compact_results_has_zero_growth_in_the_probes_units() -> None:
    results = [
        still(nodeid="t::clean").to_json(compact=True),
        {**LEAK_VERDICT.to_json(), "nodeid": "t::leak"},
    ]
    found = baseline.from_results(results, {}, units=UNITS).tests
    assert found["t::clean"] == {
        "verdict": "clean",
        "growth_per_run": dict.fromkeys(UNITS, 0.0),
        "units": UNITS,
    }
    full = baseline.from_results([still(nodeid="t::clean").to_json()], {}).tests
    assert full["t::clean"] == found["t::clean"]


# ---------------------------------------------------------------- the JSON report and its schema


def report_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    return json_report.build(results, {"probes": list(UNITS)}, {"python": "3"}, units=UNITS)


def test_compact_clean_tests_take_one_line_under_300_bytes() -> None:
    nodeid = "tests/unit/test_parsers_and_formatters.py::test_round_trip[utf-8-value-42]"
    tests = [still(nodeid=f"{nodeid}{i}").to_json(compact=True) for i in range(100)]
    text = json_report.dumps(report_of(tests))
    lines = [line for line in text.splitlines() if nodeid in line]
    assert len(lines) == 100
    assert all(len(line.encode()) + 1 < 300 for line in lines), lines[0]
    assert json.loads(text) == json.loads(json.dumps(report_of(tests)))


def test_a_leak_entry_stays_indented() -> None:
    leak = {**LEAK_VERDICT.to_json(), "nodeid": "t::leak"}
    text = json_report.dumps(report_of([leak, still(nodeid="t::c").to_json(compact=True)]))
    assert '\n      "verdict": "leak"' in text
    assert json.loads(text)["tests"][1] == json.loads(json.dumps(leak))  # by node id


@pytest.mark.parametrize("compact", [True, False], ids=["compact", "full"])
def test_reports_follow_the_schema(compact: bool) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    results = [
        {**result.to_json(compact=compact), "nodeid": f"t::{i}"}
        for i, result in enumerate([*ROUND_TRIP, still()])
    ]
    results.append({**dataclasses.replace(LEAK_VERDICT, explanation=EXPLAINED).to_json()})
    payload = json.loads(json_report.dumps(report_of(results)))
    jsonschema.Draft202012Validator(json_report.schema()).validate(payload)


@pytest.mark.parametrize(
    "entry",
    [
        {"nodeid": "t::x", "verdict": "leak", "warmup": 2, "runs": 3, "flat": {"heap": 0}},
        {"nodeid": "t::x", "verdict": "clean", "warmup": 2, "runs": 3, "flat": {}},
        {"nodeid": "t::x", "verdict": "clean", "runs": 3, "flat": {"heap": 0}},
        {**LEAK_VERDICT.to_json(), "nodeid": "t::x", "new_field": 1},
        {**LEAK_VERDICT.to_json(), "nodeid": "t::x", "verdict": "leaked"},
    ],
    ids=["compact-leak", "no-probe", "no-warmup", "unknown-field", "unknown-verdict"],
)
def test_the_schema_refuses_what_is_not_a_result(entry: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_report.schema())
    assert not validator.is_valid(json.loads(json.dumps(report_of([entry]))))


EXPLAINED = {
    "runs": 3,
    "sites": [{"file": "a.py", "line": 3, "size_per_run": 80.0, "count_per_run": 1.0}],
    "types": [{"type": "list", "count_per_run": 1.0}],
    "holders": [{"path": "module a . K (list)", "growth_per_run": 1.0}],
    "notes": ["n"],
    "seconds": 0.5,
    "cpu_seconds": 0.4,
    "something_new": {"a": 1},
}


def test_an_explanation_keeps_its_parts_and_what_it_does_not_know() -> None:
    explanation = Explanation.from_json(EXPLAINED)
    assert explanation.sites == EXPLAINED["sites"]
    assert explanation.extra == {"something_new": {"a": 1}}
    assert explanation.to_json() == EXPLAINED
    explanation.add_note("m")
    assert explanation.notes == ["n", "m"]
    assert Explanation().to_json() == {}


# ---------------------------------------------------------------- the readers of a compact report


def test_the_html_report_shows_compact_clean_tests() -> None:
    from pytest_leakguard.report import html

    results = [
        still(nodeid="t::clean").to_json(compact=True),
        {**LEAK_VERDICT.to_json(), "nodeid": "t::leak"},
    ]
    page = html.render(json.loads(json_report.dumps(report_of(results))))
    assert "t::clean" in page
    assert "1 leaked, 1 clean" in page
    # A clean test is one line (its details are the leaks' only); the leak's probe table is
    # in the report's units.
    assert page.count('<td class="mono">heap &#9664;</td>') == 1
    assert '<td class="mono">rss</td><td class="trend-flat">flat</td>' in page


@pytest.mark.parametrize(
    ("flat", "kept"),
    [(3, None), ("abc", None), ([1], None), (None, None), ({"heap": "x"}, ["t::x"]), ({}, [])],
)
def test_a_hostile_compact_entry_is_refused_clearly_or_shown(
    tmp_path: Any, flat: Any, kept: list[str] | None
) -> None:
    from pytest_leakguard.report import html

    entry = {"nodeid": "t::x", "verdict": "clean", "warmup": 2, "runs": 3, "flat": flat}
    report = {"version": 2, "tests": [entry], "units": {"heap": "bytes"}}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    if kept is None:
        with pytest.raises(baseline.BaselineError, match=f"baseline file {path} is malformed"):
            baseline.load(str(path))
    else:
        assert sorted(baseline.load(str(path)).tests) == kept
    assert 'data-nodeid="t::x"' in html.render(json.loads(path.read_text()))


@pytest.mark.parametrize(
    ("runs", "warmup", "phrase"),
    [
        (2, 1, "2 measured runs after 1 warm-up run"),
        (1, 0, "1 measured run after 0 warm-up runs"),
        (300, 2, "300 measured runs after 2 warm-up runs"),
    ],
)
def test_runs_phrase_counts_in_words(runs: int, warmup: int, phrase: str) -> None:
    assert runs_phrase(runs, warmup) == phrase
