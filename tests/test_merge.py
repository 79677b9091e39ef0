"""Merging the reports and baselines of a sharded run: the pure logic, then the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_leakguard import baseline, cli, merge
from pytest_leakguard.report import html, json_report

SETTINGS = {"warmup": 2, "runs": 3, "max_runs": 20, "budget": "0 B/run", "strict": False}
ENVIRONMENT = {"python": "3.11.7", "platform": "linux", "pytest_leakguard": "0.1.0"}
NODEIDS = [f"test_{name}.py::test_it" for name in "abcdef"]


def result(nodeid: str, verdict: str = "clean", **extra: Any) -> dict[str, Any]:
    """A verdict dict as the plugin collects it (the fields a report and a baseline need)."""
    leak = 512.0 if verdict == "leak" else 0.0
    return {
        "nodeid": nodeid,
        "verdict": verdict,
        "sustained_growth_per_run": {"heap": leak, "blocks": 1.0},
        "units": {"heap": "bytes", "blocks": "count"},
        "samples": {"heap": [1, 2, 3]},
        "message": "",
        **extra,
    }


def report(results: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {**json_report.build(results, SETTINGS, ENVIRONMENT), **top}


def write(path: Path, payload: Any) -> str:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return str(path)


def shard(name: str, payload: dict[str, Any]) -> merge.Shard:
    kind = merge.BASELINE if payload.get("format") == baseline.FORMAT else merge.REPORT
    return merge.Shard(name, kind, payload)


def conflicts(shards: list[merge.Shard]) -> list[str]:
    for one in shards:
        if one.kind == merge.BASELINE:  # merge_baselines reads them again to validate them
            Path(one.path).write_text(json.dumps(one.data), encoding="utf-8")
    action = merge.merge_reports if shards[0].kind == merge.REPORT else merge.merge_baselines
    with pytest.raises(merge.Conflict) as caught:
        action(shards)
    return caught.value.problems


# ---------------------------------------------------------------- reports


@pytest.mark.parametrize("cuts", [(1,), (3,), (5,), (2, 4), (1, 2, 3, 4, 5)])
def test_merged_shards_are_the_report_of_the_whole_run(cuts: tuple[int, ...]) -> None:
    suppressed = {"pattern": "site:vendor/*", "bytes_per_run": 100.0, "objects_per_run": 1.0}
    results = [
        result(nodeid, "leak" if i % 2 else "clean", suppressions=[suppressed] if i < 3 else [])
        for i, nodeid in enumerate(NODEIDS)
    ]
    bounds = [0, *cuts, len(results)]
    parts = [results[lo:hi] for lo, hi in zip(bounds, bounds[1:])]
    # shards written in reverse order: the merge sorts the tests as one run does
    shards = [shard(f"shard{i}.json", report(part)) for i, part in enumerate(parts)][::-1]
    assert merge.merge_reports(shards) == report(results)


def test_a_test_in_two_shards_is_a_conflict_naming_both_files() -> None:
    first = shard("a.json", report([result(NODEIDS[0]), result(NODEIDS[1])]))
    second = shard("b.json", report([result(NODEIDS[1], "leak")]))
    assert conflicts([first, second]) == [
        f"{NODEIDS[1]} is in a.json and b.json (twice: shards must not overlap)"
    ]


def test_a_test_twice_in_one_file_is_a_conflict() -> None:
    twice = shard("a.json", report([result(NODEIDS[0])]))
    twice.data["tests"].append(result(NODEIDS[0]))
    assert conflicts([twice]) == [f"{NODEIDS[0]} is in a.json (twice: shards must not overlap)"]


@pytest.mark.parametrize("key", ["settings", "environment", "version"])
def test_shards_that_ran_differently_conflict(key: str) -> None:
    first = report([result(NODEIDS[0])])
    second = report([result(NODEIDS[1])])
    second[key] = {**second[key], "runs": 9} if isinstance(second[key], dict) else 0
    (problem,) = conflicts([shard("a.json", first), shard("b.json", second)])
    assert problem.startswith(f"{key} differs: a.json has ")
    assert ", b.json has " in problem


def test_every_conflict_is_reported_not_only_the_first() -> None:
    first = report([result(NODEIDS[0]), result(NODEIDS[1])])
    second = report([result(NODEIDS[0]), result(NODEIDS[1])], environment={"python": "3.12"})
    problems = conflicts([shard("a.json", first), shard("b.json", second)])
    assert len(problems) == 3
    assert problems[0].startswith("environment differs")


def test_an_unknown_top_level_key_is_kept_when_the_shards_agree() -> None:
    shards = [shard(f"{n}.json", report([result(n)], ci={"job": 7})) for n in NODEIDS[:2]]
    assert merge.merge_reports(shards)["ci"] == {"job": 7}
    shards[1].data["ci"] = {"job": 8}
    assert conflicts(shards)[0].startswith("ci differs")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((None, None), True),
        ((True, True), True),
        ((True, False), False),
        ((None, False), False),
        ((False, False), False),
    ],
)
def test_an_incomplete_shard_makes_the_merge_incomplete(
    flags: tuple[bool | None, bool | None], expected: bool | None
) -> None:
    shards = []
    for flag, nodeid in zip(flags, NODEIDS):
        payload = report([result(nodeid)])
        if flag is not None:
            payload["complete"] = flag
        shards.append(shard(f"{nodeid}.json", payload))
    merged = merge.merge_reports(shards)
    assert merged.get("complete") == expected
    assert merge.incomplete(shards) == [s.path for f, s in zip(flags, shards) if f is False]


def test_baseline_comparisons_of_the_shards_are_merged() -> None:
    def comparison(removed: list[str], **rows: Any) -> dict[str, Any]:
        empty = {"regressions": [], "improvements": [], "new_leaks": [], "new_tests": []}
        top = {"failed": bool(rows), "removed_tests": removed, "environment_changes": {}}
        return {**top, **empty, **rows}

    row = {"nodeid": NODEIDS[1], "probe": "heap", "baseline": 0.0, "now": 512.0}
    # each shard compared its own tests with the whole baseline (a, b, c, gone)
    first = report([result(NODEIDS[0])], baseline=comparison([NODEIDS[1], "gone"]))
    second = report(
        [result(NODEIDS[1])],
        baseline=comparison([NODEIDS[0], "gone"], regressions=[row], new_leaks=[NODEIDS[1]]),
    )
    merged = merge.merge_reports([shard("a.json", first), shard("b.json", second)])
    assert merged["baseline"] == comparison(["gone"], regressions=[row], new_leaks=[NODEIDS[1]])
    del first["baseline"]
    problems = conflicts([shard("a.json", first), shard("b.json", second)])
    assert problems == ["a baseline comparison is in some reports, not in a.json"]


@pytest.mark.parametrize(
    ("comparison", "problem"),
    [
        ([], "a.json: baseline is not an object"),
        ({"regressions": 5}, "a.json: baseline.regressions is not list"),
        ({"removed_tests": "x"}, "a.json: baseline.removed_tests is not list"),
        ({"environment_changes": [1]}, "a.json: baseline.environment_changes is not dict"),
    ],
)
def test_a_malformed_baseline_comparison_is_bad_input(comparison: Any, problem: str) -> None:
    shards = [shard(f"{n}.json", report([result(n)], baseline={})) for n in "ab"]
    shards[0].data["baseline"] = comparison
    with pytest.raises(merge.InputError) as caught:
        merge.merge_reports(shards)
    assert str(caught.value) == problem


def test_a_test_without_a_nodeid_is_bad_input() -> None:
    broken = report([result(NODEIDS[0])])
    broken["tests"].append({"verdict": "leak"})
    with pytest.raises(merge.InputError, match=r"a\.json has a test without a nodeid"):
        merge.merge_reports([shard("a.json", broken)])


# ---------------------------------------------------------------- baselines


def test_merged_baselines_are_the_baseline_of_the_whole_run(tmp_path: Path) -> None:
    results = [result(nodeid, "leak" if i == 2 else "clean") for i, nodeid in enumerate(NODEIDS)]
    parts = [baseline.from_results(part, ENVIRONMENT) for part in (results[3:], results[:3])]
    shards = [merge.read(write(tmp_path / f"{i}.json", p.to_json())) for i, p in enumerate(parts)]
    merged = merge.merge_baselines(shards)
    assert merged == baseline.from_results(results, ENVIRONMENT)
    assert list(merged.tests) == NODEIDS
    assert merge.baseline_json(merged, shards) == merged.to_json()


def test_baselines_conflict_like_reports(tmp_path: Path) -> None:
    one = baseline.from_results([result(NODEIDS[0])], ENVIRONMENT).to_json()
    other = baseline.from_results([result(NODEIDS[0])], {**ENVIRONMENT, "python": "3.13.0"})
    shards = [shard(str(tmp_path / "a.json"), one)]
    shards.append(shard(str(tmp_path / "b.json"), other.to_json()))
    problems = conflicts(shards)
    assert problems[0].startswith(f"environment differs: {tmp_path / 'a.json'} has ")
    assert problems[1] == (
        f"{NODEIDS[0]} is in {tmp_path / 'a.json'} and {tmp_path / 'b.json'}"
        " (twice: shards must not overlap)"
    )


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ("{not json", "is not valid JSON"),
        ("[" * 100_000, "is not valid JSON"),
        ('{"name": "my-app"}', "is not a leakguard JSON report or baseline"),
        ("[]", "is not a leakguard JSON report or baseline"),
        (b"\xff\xfe", "cannot read"),
    ],
)
def test_read_names_the_file_and_the_problem(
    tmp_path: Path, content: str | bytes | None, problem: str
) -> None:
    path = tmp_path / "in.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(merge.InputError) as caught:
        merge.read(str(path))
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_reports_and_baselines_do_not_mix() -> None:
    shards = [
        shard("r.json", report([result(NODEIDS[0])])),
        shard("b.json", baseline.from_results([result(NODEIDS[1])], ENVIRONMENT).to_json()),
    ]
    with pytest.raises(merge.InputError, match=r"r\.json \(report\), b\.json \(baseline\)"):
        merge.kind_of(shards)


# ---------------------------------------------------------------- pytest-leakguard merge


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def shards(tmp_path: Path) -> list[str]:
    """Two shard reports of one run, with a leak in the second."""
    return [
        write(tmp_path / "a.json", report([result(NODEIDS[0]), result(NODEIDS[2])])),
        write(tmp_path / "b.json", report([result(NODEIDS[1], "leak")])),
    ]


def test_merge_command_writes_the_merged_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    out = tmp_path / "all.json"
    code, stdout, stderr = run(capsys, "merge", *shards, "-o", str(out))
    assert (code, stderr) == (0, "")
    assert stdout == f"merged 2 reports (3 tests) into {out}\n"
    expected = report([result(NODEIDS[0]), result(NODEIDS[1], "leak"), result(NODEIDS[2])])
    assert json.loads(out.read_text()) == expected


def test_merge_command_merges_baselines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    files = [
        write(tmp_path / f"{n}.json", baseline.from_results([result(n)], ENVIRONMENT).to_json())
        for n in NODEIDS[:3]
    ]
    out = tmp_path / "all.json"
    code, stdout, _ = run(capsys, "merge", *files, "-o", str(out))
    assert code == 0
    assert stdout == f"merged 3 baselines (3 tests) into {out}\n"
    merged = baseline.load(str(out))
    assert merged == baseline.from_results([result(n) for n in NODEIDS[:3]], ENVIRONMENT)


def test_merge_command_conflict_exits_1_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    overlap = write(tmp_path / "c.json", report([result(NODEIDS[2])]))
    out = tmp_path / "all.json"
    out.write_text("the previous merge")
    code, stdout, stderr = run(capsys, "merge", *shards, overlap, "-o", str(out))
    assert (code, stdout) == (1, "")
    assert stderr.splitlines() == [
        f"conflict: {NODEIDS[2]} is in {shards[0]} and {overlap} (twice: shards must not overlap)",
        f"error: the inputs conflict: {out} not written",
    ]
    assert out.read_text() == "the previous merge"


def test_merge_command_refuses_an_incomplete_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    late = write(tmp_path / "late.json", report([result(NODEIDS[4])], complete=False))
    out = tmp_path / "all.json"
    code, stdout, stderr = run(capsys, "merge", *shards, late, "-o", str(out))
    assert (code, stdout) == (2, "")
    assert stderr.startswith(f"error: {late}: marked incomplete (the run that wrote it")
    assert "--allow-incomplete" in stderr
    assert not out.exists()

    code, stdout, stderr = run(capsys, "merge", *shards, late, "-o", str(out), "--allow-incomplete")
    assert code == 0
    assert stderr == (
        f"warning: {late} is marked incomplete (its run was interrupted): tests"
        " it did not reach are missing\n"
    )
    merged = json.loads(out.read_text())
    assert merged["complete"] is False
    assert len(merged["tests"]) == 4


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ('{"tests": [], "version": 99}', "has an unknown report version"),
        ('{"tests": [{"verdict": "leak"}], "version": 1}', "has a test without a nodeid"),
        ('{"tests": [], "version": 1, "suppressions_used": {"x": 3}}', "suppressions_used"),
        ('{"format": "pytest-leakguard-baseline", "version": 1, "tests": []}', "malformed"),
        ('{"format": "pytest-leakguard-baseline", "version": 2, "tests": {}}', "has version 2"),
        ("{oops", "is not valid JSON"),
    ],
)
def test_merge_command_bad_input_exits_2_naming_the_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str | None,
    problem: str,
) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    good_one = baseline.from_results([result(NODEIDS[0])], ENVIRONMENT).to_json()
    if content is None or '"format"' not in content:  # a report, else a baseline
        good_one = report([result(NODEIDS[0])])
    good = write(tmp_path / "good.json", good_one)
    out = tmp_path / "all.json"
    code, stdout, stderr = run(capsys, "merge", good, str(bad), "-o", str(out))
    assert (code, stdout) == (2, "")
    assert stderr.startswith("error: ")
    assert str(bad) in stderr
    assert problem in stderr
    assert not out.exists()


def test_merge_command_mixed_kinds_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    other = baseline.from_results([result(NODEIDS[5])], ENVIRONMENT).to_json()
    mixed = write(tmp_path / "base.json", other)
    code, _, stderr = run(capsys, "merge", *shards, mixed, "-o", str(tmp_path / "all.json"))
    assert code == 2
    assert stderr.startswith("error: cannot merge reports with baselines: ")
    assert f"{mixed} (baseline)" in stderr


def test_merge_command_unwritable_output_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    code, _, stderr = run(capsys, "merge", *shards, "-o", str(tmp_path))
    assert code == 2
    assert stderr.startswith(f"error: cannot write {tmp_path}: ")


# ---------------------------------------------------------------- compare and html take shards


def test_compare_merges_several_new_files_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    clean = [result(n) for n in NODEIDS[:3]]
    old = write(tmp_path / "base.json", baseline.from_results(clean, ENVIRONMENT).to_json())
    merged = tmp_path / "all.json"
    assert run(capsys, "merge", *shards, "-o", str(merged))[0] == 0
    expected = run(capsys, "compare", old, str(merged))
    assert expected[0] == 1  # test_b leaks now
    assert f"REGRESSION    {NODEIDS[1]}: was not a leak, now leaks" in expected[1]
    assert "removed  " not in expected[1]  # a test is not removed because another shard has it
    assert expected[1].rstrip().endswith(", 0 removed tests")
    assert run(capsys, "compare", old, *shards) == expected


def test_compare_shards_that_overlap_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    code, stdout, stderr = run(capsys, "compare", shards[0], shards[0], shards[1], shards[0])
    assert (code, stdout) == (1, "")
    assert stderr.startswith(f"conflict: {NODEIDS[0]} is in {shards[0]} (twice")


def test_compare_warns_about_an_incomplete_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    late = write(tmp_path / "late.json", report([result(NODEIDS[1], "leak")], complete=False))
    code, stdout, stderr = run(capsys, "compare", "--allow-incomplete", shards[1], late)
    assert code == 0
    assert "baseline comparison passed" in stdout
    assert stderr.startswith(f"warning: {late} is marked incomplete")


def test_html_merges_several_reports_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[str]
) -> None:
    out = tmp_path / "all.html"
    assert run(capsys, "html", *shards, "-o", str(out)) == (0, f"wrote {out}\n", "")
    both = merge.merge_reports([merge.read(path) for path in shards])
    assert out.read_text(encoding="utf-8") == html.render(both)
    code, _, stderr = run(capsys, "html", *shards, shards[0], "-o", str(tmp_path / "x.html"))
    assert code == 1
    assert stderr.startswith(f"conflict: {NODEIDS[0]} is in {shards[0]} (twice")
    assert not (tmp_path / "x.html").exists()


# ---------------------------------------------------------------- a real sharded run


SUITE = """
import pytest

KEPT = []


@pytest.mark.parametrize("i", range(4))
def test_clean(i):
    [0] * 100


def test_leaks():
    KEPT.append(bytearray(256 * 1024))
"""


def test_reports_of_a_sharded_run_merge_into_the_report_of_the_whole_run(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    args = [
        "--leakguard",
        "--leakguard-warmup=1",
        "--leakguard-runs=3",
        "--leakguard-max-runs=3",
        "--leakguard-confirm-runs=3",
    ]
    args += ["--leakguard-budget=64 KiB", "--leakguard-explain=no", "-p", "no:randomly"]
    for name, selection in (("whole", []), ("one", ["-k", "clean"]), ("two", ["-k", "leaks"])):
        pytester.runpytest_subprocess(*args, f"--leakguard-json={name}.json", *selection)
    files = [str(pytester.path / f"{name}.json") for name in ("one", "two")]
    code, _, stderr = run(capsys, "merge", *files, "-o", str(pytester.path / "all.json"))
    assert (code, stderr) == (0, "")
    whole = json.loads((pytester.path / "whole.json").read_text())
    merged = json.loads((pytester.path / "all.json").read_text())
    assert [t["nodeid"] for t in merged["tests"]] == [t["nodeid"] for t in whole["tests"]]
    assert len(merged["tests"]) == 5
    verdicts = {t["nodeid"]: t["verdict"] for t in merged["tests"]}
    assert verdicts == {t["nodeid"]: t["verdict"] for t in whole["tests"]}
    assert verdicts["test_suite.py::test_leaks"] == "leak"
    assert {k: v for k, v in merged.items() if k != "tests"} == {
        k: v for k, v in whole.items() if k != "tests"
    }


def test_python_dash_m_runs_the_same_command(pytester: pytest.Pytester) -> None:
    result = pytester.run(sys.executable, "-m", "pytest_leakguard", "merge")
    assert result.ret == 2
    assert result.errlines[0].startswith("usage: pytest-leakguard merge ")


HOSTILE = [
    {"version": 1, "tests": [1]},
    {"version": 1, "tests": [{"nodeid": 1}]},
    {"version": 1, "tests": [{"nodeid": "x", "verdict": None}]},
    {"version": True, "tests": []},
    {"version": "1", "tests": []},
    {"version": 1, "tests": [], "settings": [[[[]]]], "environment": 3},
    {"version": 1, "tests": [], "baseline": 5},
    {"version": 1, "tests": [], "baseline": {"regressions": [1, None, "x"], "failed": "no"}},
    {"version": 1, "tests": [], "suppressions_used": {"x": {"tests": "a"}}},
    {"version": 1, "tests": [], "suppressions_used": {"x": {"tests": 1, "bytes_per_run": True}}},
    {"version": 1, "tests": [], "complete": "no"},
    {"format": "pytest-leakguard-baseline", "version": 1, "tests": {"x": 5}},
    {"format": "pytest-leakguard-baseline", "version": 1, "tests": {}, "environment": []},
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=[json.dumps(h)[:60] for h in HOSTILE])
@pytest.mark.parametrize("command", ["merge", "html", "compare"])
def test_hostile_input_is_an_error_message_never_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hostile: Any, command: str
) -> None:
    files = [write(tmp_path / f"{i}.json", hostile) for i in range(2)]
    out = ["-o", str(tmp_path / "out")] if command != "compare" else []
    code, _, stderr = run(capsys, command, *files, *out)
    assert code in (0, 1, 2)
    if code:
        assert stderr.startswith(("error: ", "conflict: ", "warning: ")), stderr
