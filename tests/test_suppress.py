"""Suppressions of memory growth by allocation site and object type.

Unit tests of the pure matching and decision (``suppress.py``), then end-to-end
runs in a subprocess: a leak suppressed by ``site:`` or ``type:`` passes and is
counted under "Suppressions used", an unsuppressed leak still fails, and a bad
pattern is a usage error naming it.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from helpers import run_leakguard

from pytest_leakguard.config import parse_ignore
from pytest_leakguard.result import ProbeTrend
from pytest_leakguard.suppress import (
    Attribution,
    Suppressions,
    check_pattern,
    frame_names,
    judge,
    module_name,
    used_counts,
)

pytest_plugins = ["pytester"]

ROOT = os.sep + os.path.join("work", "project")
SITE = os.sep + os.path.join("venv", "lib", "python3.11", "site-packages")


@pytest.mark.parametrize(
    ("filename", "module"),
    [
        (os.path.join(SITE, "hypothesis", "core.py"), "hypothesis.core"),
        (os.path.join(SITE, "hypothesis", "__init__.py"), "hypothesis"),
        (os.path.join(ROOT, "shop", "cache.py"), "shop.cache"),
        (os.path.join(ROOT, "shop", "not-a-module.py"), None),
        (os.path.join(os.sep, "elsewhere", "x.py"), None),
        (os.path.join(SITE, "lib.so"), None),
    ],
)
def test_module_name_from_the_longest_path_entry(filename: str, module: str | None) -> None:
    assert module_name(filename, [ROOT, SITE, os.path.dirname(SITE)]) == module


def test_frame_names_absolute_relative_and_module() -> None:
    filename = os.path.join(ROOT, "shop", "cache.py")
    names = frame_names(filename, ROOT, [ROOT])
    assert names == (filename, os.path.join("shop", "cache.py"), "shop.cache")


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("*/hypothesis/*", True),
        ("hypothesis.*", True),
        ("hypothesis/core.py", True),
        ("hypothesis.cor", False),
        ("shop/*", False),
    ],
)
def test_site_globs(pattern: str, matches: bool) -> None:
    filename = os.path.join(SITE, "hypothesis", "core.py")
    names = frame_names(filename, ROOT, [ROOT, SITE])
    found = Suppressions(sites=(pattern,)).site_for(names)
    assert found == (f"site:{pattern}" if matches else None)


@pytest.mark.parametrize(
    ("pattern", "qualified", "matches"),
    [
        ("Receipt", "shop.models.Receipt", True),
        ("shop.models.*", "shop.models.Receipt", True),
        ("dict", "builtins.dict", True),
        ("builtins.dict", "builtins.dict", False),
        ("Rec*", "shop.models.Order", False),
        ("*Dict", "collections.OrderedDict", True),
    ],
)
def test_type_globs(pattern: str, qualified: str, matches: bool) -> None:
    found = Suppressions(types=(pattern,)).type_for(qualified)
    assert found == (f"type:{pattern}" if matches else None)


def test_suppressions_keep_only_memory_kinds() -> None:
    items = parse_ignore("thread:pool-*, site:*/vendor/*, type:Handle, fd:/dev/shm/*")
    assert Suppressions.from_items(items) == Suppressions(("*/vendor/*",), ("Handle",))
    assert not Suppressions.from_items(parse_ignore("thread:pool-*"))


@pytest.mark.parametrize(
    ("kind", "pattern", "fragment"),
    [
        ("site", "vendor/[ab", "unclosed ["),
        ("type", "dict()", "not a type name glob"),
        ("type", "a b", "not a type name glob"),
        ("site", " x", "spaces"),
    ],
)
def test_bad_patterns(kind: str, pattern: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[")):
        check_pattern(kind, pattern)


def test_good_patterns() -> None:
    for kind, pattern in [("site", "*/x[ab]/*.py"), ("type", "shop.*Cache"), ("type", "<lambda>")]:
        check_pattern(kind, pattern)


def _trend(probe: str, growth: float, threshold: float = 0.0) -> ProbeTrend:
    unit = "bytes" if probe == "heap" else "count"
    return ProbeTrend(probe, unit, "growing", growth, growth, 20, 20, threshold)


def test_judge_explained_when_the_matched_growth_covers_the_measured() -> None:
    attribution = Attribution(2, {"heap": 800.0, "blocks": 9.0, "objects": 2.0})
    offending = [_trend("heap", 858), _trend("blocks", 10), _trend("objects", 2)]
    explained, lines = judge(attribution, offending)
    assert explained, lines
    assert len(lines) == 3


def test_judge_not_explained_when_too_little_is_matched() -> None:
    # objects: 1 of 2 matched is over the tighter share for counts
    attribution = Attribution(2, {"heap": 300.0, "blocks": 9.0, "objects": 1.0})
    explained, lines = judge(attribution, [_trend("objects", 2)])
    assert not explained
    assert lines == ["objects: +1.0/run suppressed of +2.0/run (over the budget by 1.0/run)"]
    # heap: 300 of 858 matched is over its share too
    explained, lines = judge(attribution, [_trend("heap", 858), _trend("objects", 2)])
    assert not explained
    assert "objects: +1.0/run suppressed of +2.0/run (over the budget by 1.0/run)" in lines


def test_judge_objects_explained_with_the_bytes() -> None:
    # Objects reused from free lists have no allocation site: the bytes speak for them.
    attribution = Attribution(2, {"heap": 800.0, "objects": 0.0})
    explained, lines = judge(attribution, [_trend("objects", 2), _trend("heap", 858)])
    assert explained, lines
    assert "objects: explained with the bytes (objects from free lists)" in lines


def test_judge_budget_counts_as_explained_growth() -> None:
    attribution = Attribution(2, {"heap": 100.0})
    assert judge(attribution, [_trend("heap", 1100, threshold=1024)])[0]
    assert not judge(attribution, [_trend("heap", 1100)])[0]


def test_judge_never_explains_rss_or_resources() -> None:
    attribution = Attribution(2, {"heap": 1e9, "blocks": 1e9, "objects": 1e9})
    for probe in ("rss", "fds", "threads"):
        explained, lines = judge(attribution, [_trend(probe, 1)])
        assert not explained
        assert lines == [f"{probe}: suppressions cannot explain this probe's growth"]


def test_judge_needs_runs_and_growth() -> None:
    assert not judge(Attribution(0, {"heap": 1e9}), [_trend("heap", 1)])[0]
    assert not judge(Attribution(2, {"heap": 1e9}), [])[0]


def test_used_counts_per_suppression() -> None:
    results: list[dict[str, Any]] = [
        {"suppressions": [{"pattern": "site:a", "bytes_per_run": 10.0}]},
        {"suppressions": [{"pattern": "site:a", "bytes_per_run": 5.0}, {"pattern": "type:T"}]},
        {"suppressions": []},
        {},
    ]
    assert used_counts(results) == {
        "site:a": {"tests": 2, "bytes_per_run": 15.0},
        "type:T": {"tests": 1, "bytes_per_run": 0.0},
    }


VENDOR = """
_REGISTRY = []


def register(name):
    # grows by one entry per call, on purpose (a vendored plugin registry)
    _REGISTRY.append({"name": name, "payload": "v" * 300 + name})
"""

SUITE = """
import itertools

import pytest

from vendor import registry

_COUNTER = itertools.count()
_HANDLES = []
_MINE = []


class Handle:
    def __init__(self, n):
        self.n = n
        self.label = "h" * 300 + str(n)


def test_vendor_site_suppressed():
    registry.register(str(next(_COUNTER)))


def test_type_suppressed():
    _HANDLES.append(Handle(next(_COUNTER)))


@pytest.mark.leakguard(ignore="site:vendor.*")
def test_marker_suppression():
    registry.register(str(next(_COUNTER)))


def test_own_leak_still_fails():
    _MINE.append({"n": next(_COUNTER), "text": "m" * 300})


def test_clean():
    assert sum(range(10)) == 45
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkpydir("vendor")
    pytester.path.joinpath("vendor", "registry.py").write_text(VENDOR)
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeini("[pytest]\npythonpath = .\n")
    return pytester


def test_site_and_type_suppressions_end_to_end(suite: pytest.Pytester) -> None:
    run = run_leakguard(
        suite,
        "--leakguard-ignore=site:vendor/*,type:test_suite.Handle",
        "--leakguard-clean-details",  # the clean test's (empty) suppressions are checked
        "-k",
        "not marker",
    )
    output = run.output()
    for name in ("test_vendor_site_suppressed", "test_type_suppressed"):
        entry = run.entry(f"test_suite.py::{name}")
        assert entry["verdict"] == "clean", output
        assert entry["reason"].startswith("leak suppressed by "), entry
        assert entry["suppressions"], entry
    assert run.entry("test_suite.py::test_clean")["suppressions"] == []
    mine = run.entry("test_suite.py::test_own_leak_still_fails")
    assert mine["verdict"] == "leak", output
    assert run.status("test_suite.py::test_own_leak_still_fails") == "LEAKED"
    run.result.assert_outcomes(passed=3, failed=1)
    run.result.stdout.fnmatch_lines(
        [
            "4 checked: 1 leaked, 3 clean (2 suppressed)",
            "Suppressions used:",
            "  tests  bytes/run  suppression",
            "      1 * site:vendor/*",
            "      1 * type:test_suite.Handle",
        ]
    )
    used = run.report["suppressions_used"]
    assert set(used) == {"site:vendor/*", "type:test_suite.Handle"}
    assert used["site:vendor/*"]["tests"] == 1


def test_marker_suppression_and_unsuppressed_leak(suite: pytest.Pytester) -> None:
    run = run_leakguard(suite, "-k", "marker or vendor")
    assert run.entry("test_suite.py::test_marker_suppression")["verdict"] == "clean"
    # The same leak without a suppression for it fails.
    assert run.entry("test_suite.py::test_vendor_site_suppressed")["verdict"] == "leak"
    run.result.stdout.fnmatch_lines(["      1 * site:vendor.*"])


def test_suppression_of_something_else_does_not_hide_a_leak(suite: pytest.Pytester) -> None:
    run = run_leakguard(suite, "--leakguard-ignore=site:*/elsewhere/*", "-k", "vendor_site")
    entry = run.entry("test_suite.py::test_vendor_site_suppressed")
    assert entry["verdict"] == "leak", run.output()
    assert entry["suppressions"] == []
    assert "Suppressions used:" not in run.output()


@pytest.mark.parametrize(
    ("where", "value", "fragments"),
    [
        ("cli", "site:vendor/[ab", ["--leakguard-ignore", "site:vendor/[ab has an unclosed ["]),
        ("ini", "type:no(such)", ["ini key leakguard_ignore", "type:no(such)"]),
        ("marker", "type:a b", ["marker leakguard on", "type:a b"]),
    ],
)
def test_bad_suppression_pattern_is_a_usage_error(
    pytester: pytest.Pytester, where: str, value: str, fragments: list[str]
) -> None:
    args = ["--leakguard", "-p", "no:randomly"]
    if where == "marker":
        pytester.makepyfile(
            f"import pytest\n@pytest.mark.leakguard(ignore={value!r})\ndef test_it(): pass\n"
        )
    else:
        pytester.makepyfile("def test_it(): pass")
    if where == "ini":
        pytester.makeini(f"[pytest]\nleakguard_ignore = {value}\n")
    if where == "cli":
        args.append(f"--leakguard-ignore={value}")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    text = result.stderr.str() + result.stdout.str()
    for fragment in fragments:
        assert fragment in text, text
