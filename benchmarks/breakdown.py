"""A pytest plugin that times where ``--leakguard`` spends its time.

Load it next to ``--leakguard`` with this directory on ``sys.path``::

    PYTHONPATH=benchmarks pytest --leakguard -p breakdown

It wraps the runner's steps with timers (no tracing profiler, whose own
overhead would swamp the small per-run costs) and times every garbage
collection through ``gc.callbacks``.  Each step is timed twice: wall clock and
the thread's CPU time; the CPU time is the figure to trust on a busy machine,
where the wall clock also counts the time other processes had the CPU.  At the
end of the session it prints, per step, the number of calls, the total CPU
seconds, the CPU microseconds per call and per re-run (and the wall clock per
re-run).  ``--breakdown-json PATH`` also saves the figures.

The wrapped names are looked up at configure time; a step the package no
longer has is skipped, so the plugin keeps working while the runner changes.
"""

from __future__ import annotations

import gc
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import pytest

_TOTAL: dict[str, int] = defaultdict(int)
_WALL: dict[str, int] = defaultdict(int)
_CALLS: dict[str, int] = defaultdict(int)
_gc_started: list[tuple[int, int]] = []
_in_settle = [False]
_in_measure = [False]


def _timed(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start, wall = time.thread_time_ns(), time.perf_counter_ns()
        try:
            return func(*args, **kwargs)
        finally:
            _TOTAL[name] += time.thread_time_ns() - start
            _WALL[name] += time.perf_counter_ns() - wall
            _CALLS[name] += 1

    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    return wrapper


def _patch(owner: Any, attr: str, name: str) -> None:
    func = getattr(owner, attr, None)
    if callable(func):
        setattr(owner, attr, _timed(name, func))


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started.append((time.thread_time_ns(), time.perf_counter_ns()))
        return
    if not _gc_started:
        return
    start, wall = _gc_started.pop()
    if _in_settle[0]:
        where = "settle"
    else:
        # Inside measure() the runner has frozen the heap (gc.freeze): a collection
        # skips what existed before the test.  (gc.get_freeze_count() would tell
        # too, but it walks the frozen list: far too slow for a gc callback.)
        where = "automatic, in measure" if _in_measure[0] else "automatic"
    name = f"gc gen{info['generation']} ({where})"
    _TOTAL[name] += time.thread_time_ns() - start
    _WALL[name] += time.perf_counter_ns() - wall
    _CALLS[name] += 1


def _marking(flag: list[bool], func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flag[0] = True
        try:
            return func(*args, **kwargs)
        finally:
            flag[0] = False

    return wrapper


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Any:
    """The whole protocol of each test (with --leakguard: its normal run and all re-runs)."""
    start, wall = time.thread_time_ns(), time.perf_counter_ns()
    try:
        return (yield)
    finally:
        name = "pytest_runtest_protocol (per test)"
        _TOTAL[name] += time.thread_time_ns() - start
        _WALL[name] += time.perf_counter_ns() - wall
        _CALLS[name] += 1


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--breakdown-json",
        metavar="PATH",
        default=None,
        help="save the leakguard time breakdown as JSON",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    from pytest_leakguard import plugin, runner, settle
    from pytest_leakguard.probes import BUILTIN_PROBES

    _patch(plugin, "run_test", "run_test (whole test, leakguard on)")
    measure = getattr(runner, "measure", None)
    if callable(measure):
        runner.measure = _timed("measure (all re-runs + samples)", _marking(_in_measure, measure))  # type: ignore[attr-defined]
    _patch(runner, "_rerun", "rerun: runtestprotocol")
    _patch(runner, "decide", "judge: decide()")
    _patch(runner, "explain", "explain (leak diagnostics)")
    # settle: the whole call, its cache clearing, each stdlib cache by name.
    settle_func = getattr(runner, "settle", None)
    if callable(settle_func):
        runner.settle = _timed("sample: settle()", _marking(_in_settle, settle_func))  # type: ignore[attr-defined]
    _patch(settle, "clear_interpreter_caches", "settle: clear_interpreter_caches")
    call = getattr(settle, "_call", None)
    if callable(call):

        def timed_call(module: str, *path: str) -> None:
            name = "settle: " + ".".join((module, *path))
            _timed(name, call)(module, *path)

        settle._call = timed_call  # type: ignore[attr-defined]
    for factory in BUILTIN_PROBES.values():
        cls = factory if isinstance(factory, type) else None
        if cls is not None:
            _patch(cls, "sample", f"sample: {cls.__name__}.sample")
            _patch(cls, "start", f"probe start: {cls.__name__}")
            _patch(cls, "stop", f"probe stop: {cls.__name__}")
    gc.callbacks.append(_on_gc)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _on_gc in gc.callbacks:
        gc.callbacks.remove(_on_gc)


def results() -> dict[str, dict[str, float]]:
    """Per step: calls, total CPU seconds, CPU (and wall) microseconds per call and re-run."""
    reruns = _CALLS.get("rerun: runtestprotocol", 0) or 1
    return {
        name: {
            "calls": _CALLS[name],
            "cpu_s": _TOTAL[name] / 1e9,
            "cpu_us_per_call": _TOTAL[name] / 1e3 / max(_CALLS[name], 1),
            "cpu_us_per_rerun": _TOTAL[name] / 1e3 / reruns,
            "wall_us_per_rerun": _WALL[name] / 1e3 / reruns,
        }
        for name in sorted(_TOTAL, key=lambda n: -_TOTAL[n])
    }


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = results()
    reruns = _CALLS.get("rerun: runtestprotocol", 0)
    terminalreporter.write_sep("=", f"leakguard time breakdown ({reruns} re-runs)")
    terminalreporter.write_line(
        f"{'step':<42} {'calls':>6} {'cpu s':>7} {'cpu us/call':>11} {'cpu us/re-run':>13}"
        f" {'wall us/re-run':>14}"
    )
    for name, row in figures.items():
        terminalreporter.write_line(
            f"{name:<42} {row['calls']:>6} {row['cpu_s']:>7.3f} {row['cpu_us_per_call']:>11.1f}"
            f" {row['cpu_us_per_rerun']:>13.1f} {row['wall_us_per_rerun']:>14.1f}"
        )
    path = config.getoption("breakdown_json")
    if path:
        Path(path).write_text(json.dumps({"reruns": reruns, "steps": figures}, indent=2) + "\n")
