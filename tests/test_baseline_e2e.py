"""End-to-end tests of baselines: the regression gate, bad files, atomic saves, JUnit XML, the CLI.

Every run that measures goes to a subprocess (``runpytest_subprocess``):
measurement touches process-global state (tracemalloc, gc.freeze).  Those runs
load leakguard (and xdist) only, not every plugin installed beside them: a plugin
that keeps a few bytes per run during its first runs (pytest-rerunfailures does)
would show in the short windows used here and make the figures depend on the
environment rather than on the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pytest_leakguard.baseline import FORMAT, VERSION, load, save

LEAK_ENV = "LEAKGUARD_TEST_LEAK"

APP = f"""
import os

_KEEP = []


def test_leaky():
    # A real retention, and a new string each run (no shared constant): about
    # 2 KiB per run, far below the 64 KiB budget, so the budget alone passes it.
    if os.environ.get("{LEAK_ENV}"):
        _KEEP.append("x" * (2000 + len(_KEEP)))


def test_steady():
    data = [str(i) for i in range(100)]
    assert len(data) == 100
"""

PLUGINS = ("-p", "pytest_leakguard.plugin", "-p", "no:cacheprovider")
"""With PYTEST_DISABLE_PLUGIN_AUTOLOAD set (see ``isolated``), the plugin under test."""

MEASURE = (
    *PLUGINS,
    "--leakguard",
    "--leakguard-budget=64KiB",
    "--leakguard-warmup=3",
    "--leakguard-runs=5",
    "--leakguard-max-runs=5",
    "--leakguard-confirm-runs=5",
)
"""Short windows, yet not too short: a clean test's first runs still allocate (on
Python 3.9, about 0.9, 0.5 and 2.2 KiB in the first four), which a window right
after one warm-up run would record as sustained growth."""

TOLERANCE = "bytes:1KiB"
GATE = f"--leakguard-compare-fail={TOLERANCE}"
"""The gate's tolerance: 1 KiB/run over the baseline, half the leak of APP.

Not the default ``bytes:10%``: 10% of a clean test's 0 is 0, and an occasional
window of a clean test shows tens of bytes of "sustained" growth (seen on
Python 3.9), which would fail the reverted run at random."""

XDIST_MODES = [
    pytest.param(("-p", "no:xdist"), id="no-xdist"),
    pytest.param(("-p", "xdist.plugin", "-n", "2"), id="xdist"),
]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)


@pytest.fixture(params=XDIST_MODES)
def mode(request: pytest.FixtureRequest) -> tuple[str, ...]:
    args: tuple[str, ...] = request.param
    if "-n" in args:
        pytest.importorskip("xdist")
    return args


def output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def assert_no_internal_error(result: pytest.RunResult) -> None:
    assert "INTERNALERROR" not in output(result), output(result)
    assert "Traceback" not in output(result), output(result)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def valid_baseline(*nodeids: str) -> str:
    """The text of a valid baseline file with zero growth for ``nodeids``."""
    tests = {n: {"verdict": "clean", "growth_per_run": {"heap": 0.0}, "units": {}} for n in nodeids}
    data = {"format": FORMAT, "version": VERSION, "environment": {}, "tests": tests}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------- the regression gate


def test_leak_under_the_budget_fails_against_the_baseline_and_revert_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: tuple[str, ...]
) -> None:
    pytester.makepyfile(test_app=APP)
    monkeypatch.delenv(LEAK_ENV, raising=False)
    store = pytester.mkdir("baselines")
    path = store / "leakguard.json"

    # 1. the baseline, saved from a clean run
    saved = pytester.runpytest_subprocess(*MEASURE, *mode, f"--leakguard-save-baseline={path}")
    assert_no_internal_error(saved)
    saved.assert_outcomes(passed=2)
    assert saved.ret == pytest.ExitCode.OK, output(saved)
    saved.stdout.fnmatch_lines([f"leakguard: baseline saved to {path}"])
    # only the controller wrote it: one file, no per-worker copy, no temporary file
    assert listing(store) == ["leakguard.json"]
    figures = load(str(path)).tests
    assert sorted(figures) == ["test_app.py::test_leaky", "test_app.py::test_steady"]
    assert figures["test_app.py::test_leaky"]["growth_per_run"]["heap"] < 1024
    content = path.read_bytes()

    # 2. a small leak: every test passes (under the budget), the run fails (the gate)
    monkeypatch.setenv(LEAK_ENV, "1")
    leaking = pytester.runpytest_subprocess(*MEASURE, *mode, GATE, f"--leakguard-baseline={path}")
    assert_no_internal_error(leaking)
    leaking.assert_outcomes(passed=2)
    assert leaking.ret == pytest.ExitCode.TESTS_FAILED, output(leaking)
    assert "LEAKED" not in leaking.stdout.str()
    leaking.stdout.fnmatch_lines(
        [
            "2 checked: 2 clean*",
            "*leakguard baseline comparison*",
            "*test [[]probe[]]*baseline*now*change",
            "REGRESSION*test_app.py::test_leaky [[]heap[]]* B/run*KiB/run*+*KiB/run",
            "baseline comparison FAILED: * regressions, 0 new leaks, *",
        ]
    )
    regressions = [line for line in leaking.outlines if line.startswith("REGRESSION")]
    assert regressions, output(leaking)
    assert all("test_app.py::test_leaky [" in line for line in regressions), output(leaking)
    assert path.read_bytes() == content  # comparing never writes the baseline
    assert listing(store) == ["leakguard.json"]

    # 3. the leak fixed: the gate passes
    monkeypatch.delenv(LEAK_ENV)
    fixed = pytester.runpytest_subprocess(*MEASURE, *mode, GATE, f"--leakguard-baseline={path}")
    assert_no_internal_error(fixed)
    fixed.assert_outcomes(passed=2)
    assert fixed.ret == pytest.ExitCode.OK, output(fixed)
    fixed.stdout.fnmatch_lines(
        ["baseline comparison passed: 0 regressions, 0 new leaks, 0 improvements*"]
    )
    assert not [line for line in fixed.outlines if line.startswith("REGRESSION")]
    assert path.read_bytes() == content
    assert listing(store) == ["leakguard.json"]
    if "-n" in mode:
        assert "2 workers" in output(saved) + output(leaking) + output(fixed)


# ---------------------------------------------------------------- unusable baseline files


def _truncated() -> str:
    text = valid_baseline("test_it.py::test_it")
    return text[: len(text) // 2]


BAD_FILES = [
    pytest.param("{not json", "is not valid JSON", id="corrupt"),
    pytest.param(_truncated(), "is not valid JSON", id="truncated"),
    pytest.param("", "is not valid JSON", id="empty"),
    pytest.param(None, "does not exist", id="missing"),
    pytest.param(
        valid_baseline().replace(f'"version": {VERSION}', '"version": 99'),
        "has version 99, newer than this pytest-leakguard reads",
        id="future-version",
    ),
    pytest.param(
        json.dumps({"version": 99, "settings": {}, "environment": {}, "tests": []}),
        "has version 99, newer than this pytest-leakguard reads",
        id="future-report",
    ),
    pytest.param(
        json.dumps({"name": "my-app", "version": "1.0.0"}),
        "is not a leakguard baseline or report",
        id="not-a-baseline",
    ),
    pytest.param("[1, 2, 3]", "is not a leakguard baseline or report", id="json-list"),
    pytest.param("[" * 100_000, "is not valid JSON", id="too-deeply-nested"),
]


@pytest.mark.parametrize(("content", "problem"), BAD_FILES)
def test_unusable_baseline_is_a_usage_error_and_stays_untouched(
    pytester: pytest.Pytester, content: str | None, problem: str
) -> None:
    pytester.makepyfile(test_it="def test_it(): pass")
    store = pytester.mkdir("ci")
    path = store / "baseline.json"
    if content is not None:
        path.write_text(content)
    before = listing(store)
    data = path.read_bytes() if content is not None else None
    # asked to save over it too: a run that cannot compare must not replace the baseline
    result = pytester.runpytest_subprocess(
        *MEASURE,
        "--leakguard-baseline=ci/baseline.json",
        "--leakguard-save-baseline=ci/baseline.json",
    )
    assert_no_internal_error(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output(result)
    result.stderr.fnmatch_lines([f"ERROR: leakguard: *{path}*{problem}*"])
    assert listing(store) == before  # no .bak, no temporary file
    if data is None:
        assert not path.exists()
    else:
        assert path.read_bytes() == data


def test_unusable_baseline_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_it="def test_it(): pass")
    path = pytester.path / "baseline.json"
    path.write_text(_truncated())
    data = path.read_bytes()
    result = pytester.runpytest_subprocess(
        *MEASURE, "-p", "xdist.plugin", "-n", "2", f"--leakguard-baseline={path}"
    )
    assert_no_internal_error(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output(result)
    result.stderr.fnmatch_lines([f"ERROR: leakguard: *{path}*is not valid JSON*"])
    assert path.read_bytes() == data


def test_save_over_an_existing_file_keeps_it_as_bak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=APP)
    store = pytester.mkdir("ci")
    path = store / "baseline.json"
    previous = valid_baseline("test_old.py::test_removed_since")
    path.write_text(previous)
    result = pytester.runpytest_subprocess(*MEASURE, "--leakguard-save-baseline=ci/baseline.json")
    assert_no_internal_error(result)
    assert result.ret == pytest.ExitCode.OK, output(result)
    result.stdout.fnmatch_lines(
        [f"leakguard: baseline saved to {path} (the previous one kept as {path}.bak)"]
    )
    assert (store / "baseline.json.bak").read_text() == previous
    assert sorted(load(str(path)).tests) == ["test_app.py::test_leaky", "test_app.py::test_steady"]
    assert listing(store) == ["baseline.json", "baseline.json.bak"]


def test_interrupted_session_does_not_replace_the_baseline(pytester: pytest.Pytester) -> None:
    # A collection error stops the session before any test ran: its "figures" are
    # no figures, and saving them would leave an empty baseline in place of a good one.
    pytester.makepyfile(test_app=APP, test_broken="def test_broken(:\n    pass\n")
    store = pytester.mkdir("ci")
    path = store / "baseline.json"
    previous = valid_baseline("test_app.py::test_leaky", "test_app.py::test_steady")
    path.write_text(previous)
    result = pytester.runpytest_subprocess(*MEASURE, "--leakguard-save-baseline=ci/baseline.json")
    assert_no_internal_error(result)
    assert result.ret == pytest.ExitCode.INTERRUPTED, output(result)
    assert path.read_text() == previous
    assert listing(store) == ["baseline.json"]


# ---------------------------------------------------------------- an interrupted save

SAVE_SCRIPT = """
import os
import sys
import time

from pytest_leakguard import baseline


def stuck(fd):
    # the temporary file is written and flushed; the rename has not happened yet
    print("fsync", flush=True)
    time.sleep(60)


os.fsync = stuck
new = baseline.Baseline(
    {"test_new.py::test_new": {"verdict": "leak", "growth_per_run": {"rss": 1.0}, "units": {}}}
)
baseline.save(sys.argv[1], new)
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_interrupted_save_never_leaves_a_broken_file(tmp_path: Path, signum: int) -> None:
    path = tmp_path / "baseline.json"
    original = valid_baseline("test_old.py::test_old")
    path.write_text(original)
    script = tmp_path / "save.py"
    script.write_text(SAVE_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(".leakguard-*.tmp")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.01)
        assert process.stdout is not None
        assert process.stdout.readline() == "fsync\n"  # stuck before the rename
        process.send_signal(signum)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode != 0
    assert path.read_text() == original
    assert sorted(load(str(path)).tests) == ["test_old.py::test_old"]
    assert (tmp_path / "baseline.json.bak").read_text() == original
    temporaries = list(tmp_path.glob(".leakguard-*.tmp"))
    if signum == signal.SIGINT:
        # KeyboardInterrupt: the atomic write removes its temporary file
        assert temporaries == []
    else:
        # SIGKILL gives no chance to clean up: a leftover temporary file is
        # acceptable (it is hidden, never read, and the baseline is intact).
        assert len(temporaries) <= 1
        # ...until the next write beside it, which removes what the dead writer left.
        save(str(path), load(str(path)))
        assert list(tmp_path.glob(".leakguard-*.tmp")) == []
        assert sorted(load(str(path)).tests) == ["test_old.py::test_old"]


# ---------------------------------------------------------------- JUnit XML


JUNIT_SUITE = """
_KEPT = []


def test_leaks():
    _KEPT.append(bytearray(256 * 1024))


def test_clean():
    pass
"""

JUNIT_PROBES = ("blocks", "rss", "heap")


def test_junit_xml_carries_the_verdict_runs_and_growth(
    pytester: pytest.Pytester, mode: tuple[str, ...]
) -> None:
    pytester.makepyfile(test_suite=JUNIT_SUITE)
    result = pytester.runpytest_subprocess(
        *PLUGINS,
        *mode,
        "--leakguard",
        "--leakguard-budget=64KiB",
        "--leakguard-warmup=1",
        "--leakguard-runs=3",
        "--leakguard-max-runs=3",
        "--leakguard-confirm-runs=3",
        f"--leakguard-probes={','.join(JUNIT_PROBES)}",
        "--leakguard-explain=no",
        "--junitxml=out.xml",
    )
    assert_no_internal_error(result)
    result.assert_outcomes(passed=1, failed=1)
    root = ET.parse(pytester.path / "out.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert sorted(cases) == ["test_clean", "test_leaks"]
    properties: dict[str, dict[str, str]] = {}
    for name, case in cases.items():
        pairs = [(p.get("name"), p.get("value")) for p in case.iter("property")]
        names = [n for n, _ in pairs]
        assert len(names) == len(set(names)), f"{name}: properties repeated: {names}"
        properties[str(name)] = {str(n): str(v) for n, v in pairs}
    expected = {"leakguard_verdict", "leakguard_runs"}
    expected |= {f"leakguard_growth_{probe}" for probe in JUNIT_PROBES}
    for name, found in properties.items():
        assert set(found) == expected, name
        assert found["leakguard_runs"] == "3", name
        for probe in JUNIT_PROBES:
            float(found[f"leakguard_growth_{probe}"])  # a number
    assert properties["test_leaks"]["leakguard_verdict"] == "leak"
    assert properties["test_clean"]["leakguard_verdict"] == "clean"
    assert float(properties["test_leaks"]["leakguard_growth_heap"]) >= 200 * 1024
    assert cases["test_leaks"].find("failure") is not None
    assert cases["test_clean"].find("failure") is None


def test_junit_xml_has_no_leakguard_properties_without_the_check(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=JUNIT_SUITE)
    result = pytester.runpytest_subprocess(*PLUGINS, "--junitxml=out.xml")
    result.assert_outcomes(passed=2)
    root = ET.parse(pytester.path / "out.xml").getroot()
    assert not [p for p in root.iter("property") if str(p.get("name")).startswith("leakguard")]


# ---------------------------------------------------------------- pytest-leakguard compare


def _clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop(LEAK_ENV, None)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # as ``isolated`` does for pytester's runs
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two measured runs of APP (clean, then leaking), each saved as a baseline and a report.

    The leaking run compares itself with the clean baseline: its table is what
    the command line must print for the same two files.
    """
    directory = tmp_path_factory.mktemp("compare")
    (directory / "pytest.ini").write_text("[pytest]\n")
    (directory / "test_app.py").write_text(textwrap.dedent(APP))
    outputs = {}
    for name, leak in (("clean", False), ("leaking", True)):
        env = _clean_environment()
        if leak:
            env[LEAK_ENV] = "1"
        args = [
            sys.executable,
            "-m",
            "pytest",
            *MEASURE,
            f"--leakguard-save-baseline={name}-baseline.json",
            f"--leakguard-json={name}-report.json",
        ]
        if leak:
            args.append("--leakguard-baseline=clean-baseline.json")
        done = subprocess.run(
            args, cwd=directory, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == (1 if leak else 0), done.stdout + done.stderr
        outputs[name] = done.stdout.splitlines()
    return {"path": directory, "outputs": outputs}


def compare_both_ways(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``pytest-leakguard compare`` and ``python -m pytest_leakguard compare``: same result."""
    script = Path(sys.executable).with_name("pytest-leakguard")
    if not script.exists():  # an environment whose scripts are elsewhere
        script = Path(shutil.which("pytest-leakguard") or script)
    assert script.exists(), f"{script} is not installed"
    results = [
        subprocess.run(
            [*command, "compare", *args],
            cwd=directory,
            env=_clean_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        for command in ([str(script)], [sys.executable, "-m", "pytest_leakguard"])
    ]
    by_script, by_module = results
    assert by_script.returncode == by_module.returncode, (by_script, by_module)
    assert by_script.stdout == by_module.stdout
    assert by_script.stderr == by_module.stderr
    assert "Traceback" not in by_script.stderr
    return by_script


LEAKING_PAIRS = [
    pytest.param("clean-baseline.json", "leaking-baseline.json", id="baseline-baseline"),
    pytest.param("clean-baseline.json", "leaking-report.json", id="baseline-report"),
    pytest.param("clean-report.json", "leaking-baseline.json", id="report-baseline"),
    pytest.param("clean-report.json", "leaking-report.json", id="report-report"),
]


@pytest.mark.parametrize(("old", "new"), LEAKING_PAIRS)
def test_compare_command_exits_1_on_a_regression(runs: dict[str, Any], old: str, new: str) -> None:
    done = compare_both_ways(runs["path"], old, new)
    assert done.returncode == 1, done
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["test", "[probe]", "baseline", "now", "change"]
    assert any(
        line.startswith("REGRESSION") and "test_app.py::test_leaky [heap]" in line for line in lines
    ), done.stdout
    assert lines[-1].startswith("baseline comparison FAILED: ")
    # the same table the pytest run printed when it compared itself with the baseline
    printed = runs["outputs"]["leaking"]
    start = printed.index(lines[0])
    assert printed[start : start + len(lines)] == lines


@pytest.mark.parametrize(
    ("old", "new", "rules"),
    [
        # a baseline and a report of one run: the same figures, whatever the rules
        pytest.param("clean-baseline.json", "clean-report.json", (), id="same-run"),
        pytest.param("clean-report.json", "clean-baseline.json", (), id="same-run-reversed"),
        pytest.param("leaking-baseline.json", "leaking-report.json", (), id="same-leaking-run"),
        # two runs: with GATE's tolerance (see its note), not the noise-sensitive default
        pytest.param(
            "leaking-baseline.json", "clean-report.json", (f"--fail={TOLERANCE}",), id="leak-fixed"
        ),
    ],
)
def test_compare_command_exits_0_without_a_regression(
    runs: dict[str, Any], old: str, new: str, rules: tuple[str, ...]
) -> None:
    done = compare_both_ways(runs["path"], old, new, *rules)
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("baseline comparison passed: 0 regressions, 0 new leaks")
    assert not [line for line in lines if line.startswith("REGRESSION")]
    assert done.stderr == ""
    if new == "clean-report.json" and old.startswith("leaking"):
        assert any(
            line.startswith("improvement") and "test_app.py::test_leaky [heap]" in line
            for line in lines
        ), done.stdout


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param("{not json", "is not valid JSON", id="corrupt"),
        pytest.param(_truncated(), "is not valid JSON", id="truncated"),
        pytest.param(None, "does not exist", id="missing"),
        pytest.param(
            valid_baseline().replace(f'"version": {VERSION}', '"version": 99'),
            "has version 99",
            id="future-version",
        ),
        pytest.param('{"name": "my-app"}', "is not a leakguard baseline or report", id="other"),
        pytest.param("[" * 100_000, "is not valid JSON", id="too-deeply-nested"),
    ],
)
def test_compare_command_exits_2_on_an_unusable_file(
    runs: dict[str, Any], tmp_path: Path, content: str | None, problem: str
) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    done = compare_both_ways(runs["path"], str(runs["path"] / "clean-baseline.json"), str(bad))
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert str(bad) in done.stderr
    assert problem in done.stderr
    assert done.stderr.startswith("error: ")
    if content is not None:
        assert bad.read_text() == content
    else:
        assert not bad.exists()


def test_compare_command_unusable_old_file_exits_2(runs: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(_truncated())
    done = compare_both_ways(runs["path"], str(bad), "leaking-baseline.json")
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: baseline file {bad} is not valid JSON")


def test_compare_command_bad_rules_exit_2(runs: dict[str, Any]) -> None:
    done = compare_both_ways(
        runs["path"], "clean-baseline.json", "leaking-baseline.json", "--fail=bytes:lots"
    )
    assert done.returncode == 2, done
    assert "--fail" in done.stderr
    assert "'lots' is not a size" in done.stderr


def test_compare_command_rules_decide(runs: dict[str, Any]) -> None:
    # a tolerance above the small leak lets it through
    done = compare_both_ways(
        runs["path"],
        "clean-baseline.json",
        "leaking-baseline.json",
        "--fail=bytes:64KiB,count:100,resources:0",
    )
    assert done.returncode == 0, done


def test_compare_command_refuses_an_incomplete_file_unless_allowed(
    runs: dict[str, Any], tmp_path: Path
) -> None:
    # A report of an interrupted run lacks the tests that did not run.
    report = json.loads((runs["path"] / "leaking-report.json").read_text())
    assert report["complete"] is True
    report.update(complete=False, incomplete_reason="interrupted")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(report))
    refused = compare_both_ways(runs["path"], "clean-baseline.json", str(partial))
    assert refused.returncode == 2, refused
    assert refused.stdout == ""
    assert f"{partial} is incomplete (interrupted)" in refused.stderr
    assert "--allow-incomplete" in refused.stderr
    allowed = compare_both_ways(
        runs["path"], "clean-baseline.json", str(partial), "--allow-incomplete"
    )
    assert allowed.returncode == 1, allowed  # the comparison itself: the leak regresses
    assert "REGRESSION" in allowed.stdout
