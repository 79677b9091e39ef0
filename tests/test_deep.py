"""The deep probes' driver (deep.py) and the owner of tracing's state (tracing.py)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_leakguard import deep
from pytest_leakguard.tracing import Tracing, frames


@pytest.fixture
def untraced() -> Iterator[None]:
    """Each test starts untraced and leaves tracing as it found it."""
    saved = frames()
    tracemalloc.stop()
    yield
    tracemalloc.stop()
    if saved:
        tracemalloc.start(saved)


@pytest.mark.parametrize("start", [0, 1, 5, 30])
@pytest.mark.usefixtures("untraced")
def test_tracing_restores_the_state_it_found(start: int) -> None:
    if start:
        tracemalloc.start(start)
    with Tracing(25) as tracing:
        assert frames() == max(start, 25)
        tracing.pause()
        assert not tracemalloc.is_tracing()
        tracing.deepen(25)
        assert frames() == 25
    assert frames() == start


@pytest.mark.usefixtures("untraced")
def test_tracing_is_restored_when_the_block_raises() -> None:
    tracemalloc.start(1)
    with pytest.raises(KeyboardInterrupt), Tracing(25):
        raise KeyboardInterrupt
    assert frames() == 1


@pytest.mark.usefixtures("untraced")
def test_restoring_twice_changes_nothing_more() -> None:
    tracing = Tracing(25)
    tracing.restore()
    tracemalloc.start(3)  # someone else's tracing, started since
    tracing.restore()
    assert frames() == 3


class Fake:
    """A deep probe that logs its calls."""

    def __init__(self, name: str, log: list[str], delay: int = 0, wants: bool = True) -> None:
        self.name, self.log, self.delay, self.wants = name, log, delay, wants

    def before(self, absorb: Callable[[], object] | None = None) -> bool:
        self.log.append(f"{self.name}.before")
        return self.wants

    def after(self, runs: int, complete: bool = True) -> dict[str, Any] | None:
        self.log.append(f"{self.name}.after({runs}, {complete})")
        return {self.name: runs}

    def abort(self) -> None:
        self.log.append(f"{self.name}.abort")


def _runs(log: list[str], fail_at: int = 0) -> Callable[[], Any]:
    made = []

    def run_once() -> Any:
        made.append(1)
        log.append("run")
        return "failed" if len(made) == fail_at else None

    return run_once


def test_probes_start_after_their_delay_and_end_in_reverse_order() -> None:
    log: list[str] = []
    found = deep.observe([Fake("a", log), Fake("b", log, delay=1)], _runs(log))
    assert log == [
        "a.before", "run", "b.before", "run", "run", "b.after(2, True)", "a.after(3, True)",
    ]  # fmt: skip
    assert found == {"a": 3, "b": 2}


def test_a_failed_run_ends_the_runs_and_says_so() -> None:
    log: list[str] = []
    deep.observe([Fake("a", log), Fake("b", log, delay=1)], _runs(log, fail_at=2))
    assert log == ["a.before", "run", "b.before", "run", "b.after(0, False)", "a.after(1, False)"]


def test_no_runs_when_no_probe_wants_them_but_after_is_called() -> None:
    log: list[str] = []
    assert deep.observe([Fake("a", log, wants=False)], _runs(log)) == {"a": 0}
    assert log == ["a.before", "a.after(0, False)"]


def test_an_interruption_aborts_the_started_probes_newest_first() -> None:
    log: list[str] = []

    def interrupted() -> Any:
        log.append("run")
        if log.count("run") == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deep.observe([Fake("a", log), Fake("b", log, delay=1)], interrupted)
    assert log == ["a.before", "run", "b.before", "run", "b.abort", "a.abort"]


def test_a_failing_probe_is_a_note_and_the_others_are_aborted() -> None:
    log: list[str] = []

    class Broken(Fake):
        def after(self, runs: int, complete: bool = True) -> dict[str, Any] | None:
            raise RuntimeError("boom")

    found = deep.observe([Fake("a", log), Broken("b", log)], _runs(log))
    assert found == {"notes": ["the deep probes failed: RuntimeError: boom"]}
    assert log[-1] == "a.abort"


def test_the_real_probes_follow_the_protocol() -> None:
    from pytest_leakguard.attribution import Observer
    from pytest_leakguard.explain import Explainer
    from pytest_leakguard.native import NativeExplainer
    from pytest_leakguard.suppress import Suppressions

    probes: list[deep.DeepProbe] = [
        Explainer("."),
        NativeExplainer("."),
        Observer(Suppressions.from_items([]), "."),
    ]
    assert [p.delay for p in probes] == [0, 0, 1]


@pytest.mark.parametrize(
    ("heap", "expected"),
    [
        ([100, 100, 100, 100], False),  # quiet: no holder check, no cost
        ([100, 100, 132, 132], True),  # a list of shared objects resized once
        ([100, 132, 100, 132], False),  # fell: a cache purged, or noise
    ],
)
def test_the_holder_check_is_for_windows_that_only_rose(heap: list[int], expected: bool) -> None:
    windows = {"heap": heap, "rss": [0, 4096, 0, 0]}  # rss informative: ignored
    assert deep.rose_only(windows, {"heap": 0.0, "rss": None}, {}) is expected


def test_no_holder_check_under_a_budget() -> None:
    """A budget tolerates small growth: a list of shared objects grows by bytes per run."""
    windows = {"heap": [100, 100, 132, 132], "blocks": [5, 5, 5, 5]}
    assert deep.rose_only(windows, {"heap": 0.0, "blocks": 0.0}, {})
    assert not deep.rose_only(windows, {"heap": 1024.0, "blocks": 0.0}, {})
    assert not deep.rose_only(windows, {"heap": None, "blocks": None}, {})


@pytest.mark.parametrize(
    ("heap", "blocks", "expected"),
    [
        ([100, 156, 156, 156], [5, 6, 6, 6], False),  # one new object, once: no container
        ([100, 156, 188, 188], [5, 6, 6, 6], True),  # then an array grew, no new block
        ([100, 132, 132, 164], [5, 5, 5, 5], True),  # a list of shared objects, resized twice
    ],
)
def test_the_holder_check_is_for_a_heap_that_grew_without_a_new_block(
    heap: list[int], blocks: list[int], expected: bool
) -> None:
    windows = {"heap": heap, "blocks": blocks}
    assert deep.rose_only(windows, {"heap": 0.0, "blocks": 0.0}, {}) is expected


def _holders(*holders: dict[str, Any]) -> dict[str, Any]:
    return {"holders": list(holders)}


def _decision(*growing: str) -> Any:
    from pytest_leakguard.result import GROWING, ProbeTrend
    from pytest_leakguard.verdict import Decision

    return Decision(
        "leak", tuple(ProbeTrend(p, "count", GROWING, 1, 1, 5, 5, 0.0) for p in growing)
    )


def test_a_leak_held_by_a_cache_below_its_bound_is_bounded() -> None:
    cache = {"path": "module m . parse (_lru_cache_wrapper)", "size": 37, "bound": 128}
    reason = deep._bounded_filling(_holders(cache), _decision("heap", "blocks"))
    assert reason == "bounded cache filling: 37/128 (module m . parse (_lru_cache_wrapper))"


@pytest.mark.parametrize(
    ("holders", "growing"),
    [
        ([{"path": "module m . q (deque)", "size": 64, "bound": 64}], ("heap",)),  # full
        (
            [
                {"path": "module m . q (deque)", "size": 3, "bound": 64},
                {"path": "module m . L (list)"},
            ],
            ("heap",),
        ),
        ([], ("heap",)),  # no holder found: nothing says it is bounded
        ([{"path": "module m . q (deque)", "size": 3, "bound": 64}], ("heap", "fds")),
    ],
)
def test_otherwise_the_leak_stands(holders: list[dict[str, Any]], growing: tuple[str, ...]) -> None:
    assert deep._bounded_filling(_holders(*holders), _decision(*growing)) is None


def test_only_tracing_py_starts_and_stops_tracing() -> None:
    """The deep probes and the control change tracing through tracing.Tracing only (the heap
    engine in probes/memory.py owns the session's own tracing)."""
    import ast
    from pathlib import Path

    import pytest_leakguard

    package = Path(pytest_leakguard.__file__).parent
    allowed = {package / "tracing.py", package / "probes" / "memory.py"}
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("start", "stop")
                and isinstance(node.value, ast.Name)
                and node.value.id == "tracemalloc"
                and path not in allowed
            ):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert found == []


def test_the_holder_check_finds_a_list_that_gains_an_entry_every_run() -> None:
    from pytest_leakguard import explain

    shared = object()
    grows: list[object] = []
    steady: list[object] = [shared]
    globals().update(_GROWS=grows, _STEADY=steady)
    try:

        def run_once() -> None:
            grows.append(shared)
            steady[0] = shared

        found = explain.gaining_every_run(run_once, lambda: None, 3)
    finally:
        del globals()["_GROWS"], globals()["_STEADY"]
    assert [h["path"] for h in found] == [f"module {__name__} . _GROWS (list)"]
    assert found[0]["growth_per_run"] == 1
