"""Unit tests of pytest_leakguard.verdict: plain lists of samples in, verdicts out.

A *window* is the base sample followed by one sample per measured run.  The
``judge`` helper below feeds a decision function the growing prefixes of a
series, as the runner does after every measured run, and returns the first
status that is not CONTINUE with the number of runs it took.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_leakguard.result import CLEAN, FLAT, GROWING, INCONCLUSIVE, LEAK, NOISY, ProbeTrend
from pytest_leakguard.verdict import (
    CONFIRM_BYTES,
    CONFIRM_RESOURCES,
    CONTINUE,
    MIN_MOVING_RUNS,
    MIN_TAIL,
    Confirmation,
    assess,
    decide,
    growth_shape,
    is_quiet,
    tail_length,
)

MIB = 1024**2


def cumulative(steps: Sequence[float], base: float = 1000) -> list[float]:
    """A window from the growth of each run: base first, then one sample per run."""
    window = [base]
    for step in steps:
        window.append(window[-1] + step)
    return window


def every(n: int, amount: float, runs: int = 20, phase: int = 0) -> list[float]:
    """A window that grows by ``amount`` every ``n``-th run."""
    return cumulative([amount if (run + phase) % n == 0 else 0 for run in range(1, runs + 1)])


def judge(
    window: Sequence[float],
    threshold: float | None = 0.0,
    *,
    min_runs: int = 5,
    max_runs: int = 20,
    unit: str = "count",
) -> tuple[str, int]:
    """Decide after each run, as the runner does; (status, runs) of the first decision."""
    assert len(window) - 1 >= max_runs, "the series must reach max_runs"
    for runs in range(1, max_runs + 1):
        decision = decide(
            {"probe": window[: runs + 1]},
            {"probe": threshold},
            {"probe": unit},
            min_runs=min_runs,
            max_runs=max_runs,
        )
        if decision.status != CONTINUE:
            return decision.status, runs
    raise AssertionError("decide() still said CONTINUE at max_runs")


# ---------------------------------------------------------------- tail_length


@pytest.mark.parametrize(
    ("steps", "tail"),
    [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 4),
        (12, 4),
        (13, 5),
        (15, 5),
        (16, 6),
        (18, 6),
        (19, 7),
        (20, 7),
        (30, 10),
        (100, 34),
    ],
)
def test_tail_length(steps: int, tail: int) -> None:
    assert tail_length(steps) == tail


def test_tail_length_is_at_least_min_tail_and_never_longer_than_the_window() -> None:
    for steps in range(1, 200):
        tail = tail_length(steps)
        assert tail <= steps
        assert tail >= min(steps, MIN_TAIL)
        assert tail * 3 >= steps  # the last third at least


# ---------------------------------------------------------------- assess


def test_assess_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="at least two samples"):
        assess("blocks", [5], 0.0)
    with pytest.raises(ValueError):
        assess("blocks", [], 0.0)


def test_assess_flat() -> None:
    trend = assess("blocks", [10] * 6, 0.0)
    assert trend == ProbeTrend("blocks", "count", FLAT, 0.0, 0.0, 0, 5, 0.0)


def test_assess_steady_leak_figures() -> None:
    trend = assess("heap", cumulative([100] * 20), 0.0, unit="bytes")
    assert trend.trend == GROWING
    assert trend.growth_per_run == 100
    assert trend.tail_growth_per_run == 100
    assert trend.rising_runs == 20
    assert trend.runs == 20
    assert trend.unit == "bytes"
    assert trend.decisive


def test_assess_growth_is_averaged_over_the_whole_window() -> None:
    trend = assess("p", [0, 0, 0, 0, 0, 0, 0, 0, 80], 0.0)
    assert trend.growth_per_run == 10
    assert trend.tail_growth_per_run > 0
    assert trend.rising_runs == 1
    assert trend.trend == NOISY  # grows, but in one step only


def test_assess_negative_growth_is_flat() -> None:
    trend = assess("p", cumulative([-100] * 10), 0.0)
    assert trend.trend == FLAT
    assert trend.growth_per_run == -100
    assert trend.rising_runs == 0


def test_assess_growth_equal_to_the_threshold_is_not_a_leak() -> None:
    trend = assess("p", cumulative([10] * 20), 10.0)
    assert trend.trend == FLAT
    assert trend.rising_runs == 0  # a step equal to the threshold does not count as rising


def test_assess_growth_just_above_the_threshold_is_growing() -> None:
    trend = assess("p", cumulative([10] * 20), 9.999)
    assert trend.trend == GROWING
    assert trend.rising_runs == 20


def test_assess_informative_probe_is_judged_against_zero() -> None:
    trend = assess("objects", cumulative([1] * 20), None)
    assert trend.trend == GROWING
    assert trend.threshold is None
    assert not trend.decisive


def test_assess_rising_needs_at_least_three_runs_even_in_short_windows() -> None:
    # Two one-off steps (pytest's own first-run growth) are not a leak in a short window.
    assert assess("p", [0, 0, 0, 5], 0.0).trend == NOISY  # one step of three
    assert assess("p", [0, 0, 5, 10], 0.0).trend == NOISY  # two steps of three
    assert assess("p", [0, 5, 10, 15], 0.0).trend == GROWING


def test_assess_rising_needs_a_quarter_of_the_runs() -> None:
    # 20 runs: 5 rising runs are enough, 4 are not (even with the tail growing).
    assert assess("p", every(4, 100), 0.0).trend == GROWING
    stopped = cumulative([100 if run in (4, 8, 12, 16) else 0 for run in range(1, 21)])
    trend = assess("p", stopped, 0.0)
    assert trend.rising_runs == 4
    assert trend.trend == NOISY


# ---------------------------------------------------------------- decide: the basics


def test_decide_continues_before_min_runs_even_when_flat() -> None:
    for runs in range(1, 5):
        decision = decide({"p": [7] * (runs + 1)}, {"p": 0.0}, {}, min_runs=5, max_runs=20)
        assert decision.status == CONTINUE
    decision = decide({"p": [7] * 6}, {"p": 0.0}, {}, min_runs=5, max_runs=20)
    assert decision.status == CLEAN


def test_decide_quiet_window_is_clean_at_min_runs_a_moving_one_needs_five() -> None:
    """Not one unit of change over ``min_runs`` runs is enough; any move asks for a tail."""
    assert decide({"p": [7] * 4}, {"p": 0.0}, {}, min_runs=3, max_runs=20).status == CLEAN
    moved = [7, 8, 8, 8]  # one block, in the first run: clean in the end, not on 3 runs
    assert decide({"p": moved}, {"p": 0.0}, {}, min_runs=3, max_runs=20).status == CONTINUE
    assert decide({"p": [*moved, 8, 8]}, {"p": 0.0}, {}, min_runs=3, max_runs=20).status == CLEAN
    assert MIN_MOVING_RUNS == 5
    # A max_runs below it wins: the run stops there, with a verdict.
    assert decide({"p": moved}, {"p": 0.0}, {}, min_runs=3, max_runs=3).status == INCONCLUSIVE


def test_is_quiet_ignores_informative_probes_and_moves_below_the_floor() -> None:
    windows = {"blocks": [5, 5, 5], "rss": [4096, 8192, 4096], "info": [1, 2, 3]}
    thresholds = {"blocks": 0.0, "rss": 65536.0, "info": None}
    assert is_quiet(windows, thresholds, {"rss": 65536.0})
    assert not is_quiet(windows, thresholds)  # without its floor, rss moved
    assert not is_quiet({**windows, "blocks": [5, 6, 5]}, thresholds, {"rss": 65536.0})


def test_assess_constant_window_is_flat_with_no_growth() -> None:
    trend = assess("p", [3, 3, 3, 3], 0.0)
    assert (trend.trend, trend.growth_per_run, trend.tail_growth_per_run) == (FLAT, 0.0, 0.0)
    assert (trend.rising_runs, trend.runs, trend.sustained_growth_per_run) == (0, 3, 0.0)


def test_decide_flat_is_clean_at_min_runs() -> None:
    assert judge([1000] * 21) == (CLEAN, 5)
    assert judge([1000] * 21, min_runs=1) == (CLEAN, 1)


def test_decide_continues_while_growing_before_max_runs() -> None:
    window = cumulative([100] * 20)
    for runs in range(5, 20):
        decision = decide({"p": window[: runs + 1]}, {"p": 0.0}, {}, min_runs=5, max_runs=20)
        assert decision.status == CONTINUE, runs
        assert decision.trends[0].trend == GROWING


def test_decide_steady_leak_is_a_leak_at_max_runs() -> None:
    assert judge(cumulative([100] * 20)) == (LEAK, 20)
    assert judge(cumulative([1] * 20)) == (LEAK, 20)
    assert judge(cumulative([100] * 5), min_runs=5, max_runs=5) == (LEAK, 5)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_decide_leak_every_nth_run_is_a_leak_whatever_the_phase(n: int) -> None:
    for phase in range(n):
        assert judge(every(n, 100, phase=phase)) == (LEAK, 20), phase


def test_decide_negative_growth_is_clean() -> None:
    assert judge(cumulative([-100] * 20)) == (CLEAN, 5)


def test_decide_one_off_step_before_the_tail_is_clean_at_min_runs() -> None:
    # A lazy import or a cache filled in the first measured run.
    assert judge(cumulative([5000] + [0] * 19)) == (CLEAN, 5)


def test_decide_one_off_step_in_the_tail_waits_until_it_leaves_the_tail() -> None:
    window = cumulative([0, 0, 0, 5000] + [0] * 16)
    assert judge(window) == (CLEAN, 8)  # the tail (4 runs) no longer holds the step


@pytest.mark.parametrize(("filling", "clean_after"), [(5, 9), (8, 12), (12, 18), (13, 20)])
def test_decide_bounded_cache_that_fills_then_plateaus_is_clean(
    filling: int, clean_after: int
) -> None:
    window = cumulative([300] * filling + [0] * (20 - filling))
    status, runs = judge(window)
    assert status == CLEAN
    assert runs == clean_after
    assert runs <= 20


def test_decide_bounded_cache_still_filling_at_max_runs_is_a_leak() -> None:
    # Nothing tells a cache that never stops filling within max_runs from a leak.
    assert judge(cumulative([300] * 16 + [0] * 4)) == (LEAK, 20)


def test_decide_growth_equal_to_the_threshold_is_clean() -> None:
    assert judge(cumulative([1024] * 20), 1024.0, unit="bytes") == (CLEAN, 5)
    assert judge(cumulative([1025] * 20), 1024.0, unit="bytes") == (LEAK, 20)


def test_decide_growth_below_the_threshold_is_clean() -> None:
    assert judge(cumulative([1000, 0] * 10), 1024.0) == (CLEAN, 5)


# ---------------------------------------------------------------- decide: noise


def test_decide_noise_around_a_constant_is_clean_before_max_runs() -> None:
    noise = [1000, 1030, 990, 1010, 970, 1040, 1000, 980, 1020, 995, 1005]
    noise += [1010, 990, 1000, 1015, 985, 1000, 1020, 990, 1005, 1000]
    status, runs = judge(noise)
    assert status == CLEAN
    assert runs < 20


def test_decide_drop_then_renewed_growth_is_inconclusive() -> None:
    # The tail grows, the window as a whole shrank: neither flat nor sustained.
    window = [5000] + [10 * i for i in range(20)]
    assert judge(window) == (INCONCLUSIVE, 20)


def test_decide_leak_that_stopped_late_is_inconclusive() -> None:
    window = cumulative([100 if run in (4, 8, 12, 16) else 0 for run in range(1, 21)])
    assert judge(window) == (INCONCLUSIVE, 20)


@pytest.mark.parametrize(("up", "down"), [(12, 8), (30, 20), (40, 30)])
@pytest.mark.parametrize("phase", [0, 1])
def test_decide_steady_leak_under_alternating_noise_is_a_leak(
    up: int, down: int, phase: int
) -> None:
    # Net growth (up - down) / 2 per run, every run pair: a real leak.  An odd
    # tail (5 runs at 13-15 measured runs) that starts on a rise and ends on a
    # fall must not make it look flat.
    steps = [up if (run + phase) % 2 else -down for run in range(1, 21)]
    assert judge(cumulative(steps)) == (LEAK, 20)


def test_decide_noisy_leak_above_the_threshold_is_a_leak() -> None:
    # +15 per run on average, with a threshold of 10: a leak under noise.
    window = [0, 50, 20, 80, 40, 110, 70, 140, 100, 170, 130]
    window += [200, 160, 230, 190, 260, 220, 290, 250, 320, 280]
    assert judge(window, 10.0) == (LEAK, 20)


# ---------------------------------------------------------------- decide: adversarial


def test_decide_single_huge_spike_is_not_a_leak() -> None:
    for at in range(1, 16):
        window = [1000.0] * 21
        window[at] = 1e12
        status, _ = judge(window)
        assert status == CLEAN, at


def test_decide_huge_spike_on_the_last_run_is_not_a_leak() -> None:
    window = [1000.0] * 20 + [1e12]
    status, runs = judge(window, min_runs=20)
    assert (status, runs) == (INCONCLUSIVE, 20)


def test_decide_sawtooth_is_clean() -> None:
    assert judge([0, 100] * 10 + [0]) == (CLEAN, 5)
    assert judge([100, 0] * 10 + [100]) == (CLEAN, 5)
    # Period 3, two rises then a fall back to the start.
    assert judge([0, 50, 100] * 7)[0] == CLEAN


def test_decide_huge_drop_then_flat_is_clean() -> None:
    assert judge([1e12] + [0.0] * 20) == (CLEAN, 5)


# ---------------------------------------------------------------- decide: the confirmation stage


def confirm(
    window: Sequence[float],
    threshold: float | None = 0.0,
    *,
    budget: int = 300,
    out_of_time_at: int | None = None,
    unit: str = "count",
) -> tuple[str, int, str]:
    """As :func:`judge`, with a confirmation budget: (status, runs, reason) of the decision."""
    for runs in range(1, len(window)):
        out_of_time = out_of_time_at is not None and runs >= out_of_time_at
        decision = decide(
            {"probe": window[: runs + 1]},
            {"probe": threshold},
            {"probe": unit},
            min_runs=5,
            max_runs=20,
            confirmation=Confirmation(budget, out_of_time, 10.0),
        )
        if decision.status != CONTINUE:
            return decision.status, runs, decision.reason
    raise AssertionError("decide() still said CONTINUE at the end of the series")


def sawtooth(rate: float, purge_above: int, runs: int = 300, start: int = 0) -> list[float]:
    """A container that gains ``rate`` per run and is emptied once it holds more than
    ``purge_above`` runs' worth (asyncio's cancelled timer handles, a compacted registry)."""
    held, window = start, []
    for _ in range(runs + 1):
        window.append(1000 + held * rate)
        held = 0 if held >= purge_above else held + 1
    return window


def test_screen_of_two_runs_sees_growth_every_2nd_run_and_thorough_every_3rd() -> None:
    """The default screen (2 measured runs) and ``thorough`` (3): a quiet screen is clean."""
    for phase in range(2):
        assert judge(every(2, 1, phase=phase), min_runs=2) == (LEAK, 20)
    for phase in range(3):
        assert judge(every(3, 1, phase=phase), min_runs=3) == (LEAK, 20)
    # The screen's limit: growth every 3rd run that falls outside its two runs.
    assert judge(every(3, 1, phase=0), min_runs=2) == (CLEAN, 2)


def test_confirm_bounded_cache_of_128_entries_fed_a_new_key_per_run_is_clean() -> None:
    # lru_cache(maxsize=128): three blocks per entry until it is full.
    status, runs, reason = confirm(cumulative([3] * 126 + [0] * 174))
    assert status == CLEAN
    assert 126 < runs <= 200
    assert reason == "growth stopped after 126 runs: bounded, a plateau"


@pytest.mark.parametrize(("purge_above", "start"), [(100, 3), (150, 0), (200, 40)])
def test_confirm_container_purged_past_a_size_is_clean(purge_above: int, start: int) -> None:
    status, runs, reason = confirm(sawtooth(3, purge_above, start=start))
    assert status == CLEAN, (runs, reason)
    assert runs <= purge_above + 20
    assert reason.endswith("bounded, it fell back (a sawtooth)")


def test_confirm_bounded_cache_still_filling_at_max_runs_with_a_late_resize_is_clean() -> None:
    steps = [50] * 28
    steps[18] = 587  # the cache's table resized in the last runs of the window
    status, runs, reason = confirm(cumulative(steps + [0] * 272))
    assert status == CLEAN
    assert 28 < runs <= 2 * 28
    assert reason == "growth stopped after 28 runs: bounded, a plateau"
    # Without a confirmation stage it was a leak.
    assert judge(cumulative(steps + [0] * 272)) == (LEAK, 20)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_confirm_leak_lasting_the_budget_is_a_leak_with_the_reason(n: int) -> None:
    for phase in range(n):
        status, runs, reason = confirm(every(n, 1, runs=300, phase=phase))
        assert (status, runs) == (LEAK, 300), phase
        assert reason.startswith("still growing after 300 runs")
        assert "(300 runs)" in reason


def test_confirm_out_of_time_is_a_leak_saying_so() -> None:
    status, runs, reason = confirm(cumulative([1] * 300), out_of_time_at=57)
    assert (status, runs) == (LEAK, 57)
    assert "budget ran out (10 s)" in reason


def test_confirm_large_growth_is_a_leak_before_the_budget() -> None:
    status, runs, reason = confirm(cumulative([MIB] * 300), unit="bytes")
    assert status == LEAK
    assert runs * MIB >= CONFIRM_BYTES > (runs - 1) * MIB
    assert "probe grew by 64.0 MiB" in reason


def test_confirm_resource_growth_is_a_leak_before_the_budget() -> None:
    # A thread (or fd, or child process) kept per run: 128 of them confirm it.
    status, runs, reason = confirm(cumulative([1] * 300), unit="resources")
    assert (status, runs) == (LEAK, CONFIRM_RESOURCES)
    assert reason.endswith(
        f"(probe grew by {CONFIRM_RESOURCES}): growth that lasts that long is a leak"
    )
    # A pool of 32 workers filling at one per run is still told apart.
    status, runs, reason = confirm(cumulative([1] * 32 + [0] * 268), unit="resources")
    assert status == CLEAN, reason


def test_confirm_budget_at_max_runs_is_the_window_verdict_without_a_reason() -> None:
    assert confirm(cumulative([1] * 300), budget=20) == (LEAK, 20, "")
    assert confirm(cumulative([1] * 300), budget=5) == (LEAK, 20, "")
    assert confirm(cumulative([1] * 300), out_of_time_at=1) == (LEAK, 20, "")


def test_confirm_a_leak_on_top_of_a_sawtooth_stays_a_leak() -> None:
    # One block kept per run, beside a container of 3 blocks per run purged past 100.
    tooth = sawtooth(3, 100)
    window = [value + run for run, value in enumerate(tooth)]
    status, runs, reason = confirm(window)
    assert (status, runs) == (LEAK, 300), reason


def test_confirm_leak_that_stays_short_after_a_fall_until_the_budget_is_a_leak() -> None:
    # Grows 2 per run, falls back by half once, then stays there: kept half of it.
    window = cumulative([2] * 100 + [-100] + [0] * 199)
    status, runs, reason = confirm(window)
    assert (status, runs) == (LEAK, 300)
    assert reason.startswith("probe fell back after growing but stayed well above")


def test_confirm_noise_at_the_end_of_the_budget_is_inconclusive() -> None:
    window = [1000 + (run % 7) * 13 + (run // 50) * ((-1) ** run) * 40 for run in range(301)]
    status, _, _ = confirm(window)
    assert status in (CLEAN, INCONCLUSIVE)  # never a leak: no sustained growth


@pytest.mark.parametrize(
    ("window", "shape"),
    [
        ([0, 0, 0], (0, "a plateau")),
        ([0, 5, 10, 10, 9], (2, "a plateau")),
        ([0, 5, 10, 0, 1], (2, "it fell back (a sawtooth)")),
        ([0, 5, 10, 5, 5], (2, "fell short")),
    ],
)
def test_growth_shape(window: list[float], shape: tuple[int, str]) -> None:
    assert growth_shape(window, 0.0) == shape


def test_growth_shape_tolerates_what_the_threshold_allows_over_the_window() -> None:
    # Kept 800 over 300 runs: 2.7 per run, under a threshold of 128 per run.
    window = [0.0] * 100 + [2192.0] * 100 + [800.0] * 101
    assert growth_shape(window, 128.0) == (100, "it fell back (a sawtooth)")
    assert growth_shape(window, 0.0) == (100, "fell short")


# ---------------------------------------------------------------- decide: several probes


UNITS = {"blocks": "count", "objects": "count", "heap": "bytes", "rss": "bytes"}


def test_decide_informative_probes_never_decide() -> None:
    windows = {"heap": [5000] * 21, "objects": cumulative([50] * 20)}
    thresholds = {"heap": 1024.0, "objects": None}
    decision = decide(windows, thresholds, UNITS, min_runs=5, max_runs=20)
    assert decision.status == CLEAN
    objects = next(t for t in decision.trends if t.probe == "objects")
    assert objects.trend == GROWING
    assert not objects.decisive


def test_decide_only_informative_growth_at_max_runs_is_not_a_leak() -> None:
    windows = {"heap": [5000] * 6, "objects": cumulative([50] * 5)}
    thresholds = {"heap": 1024.0, "objects": None}
    decision = decide(windows, thresholds, UNITS, min_runs=5, max_runs=5)
    assert decision.status == CLEAN


def test_decide_one_growing_decisive_probe_is_enough_for_a_leak() -> None:
    windows = {"blocks": [5000] * 21, "heap": cumulative([64] * 20)}
    decision = decide(windows, {"blocks": 0.0, "heap": 0.0}, UNITS, min_runs=5, max_runs=20)
    assert decision.status == LEAK
    assert [t.trend for t in decision.trends] == [FLAT, GROWING]


def test_decide_counts_alone_do_not_make_a_leak_while_bytes_are_judged() -> None:
    # Every Python allocation shows in tracemalloc too: blocks growing alone is noise.
    windows = {"blocks": cumulative([2] * 20), "heap": [5000] * 21}
    decision = decide(windows, {"blocks": 0.0, "heap": 0.0}, UNITS, min_runs=5, max_runs=20)
    assert decision.status == INCONCLUSIVE
    assert [t.trend for t in decision.trends] == [GROWING, FLAT]


@pytest.mark.parametrize("other", ["rss", "fds"])
def test_decide_counts_decide_when_no_exact_byte_probe_is_judged(other: str) -> None:
    # `--leakguard-probes=-heap`: rss (64 KiB resolution) or descriptors cannot see the
    # few blocks per run the counts see, so they must not silence them.
    windows = {"blocks": cumulative([10] * 20), "objects": cumulative([2] * 20), other: [7] * 21}
    thresholds = {"blocks": 0.0, "objects": 0.0, other: 0.0}
    units = {**UNITS, "fds": "resources"}
    floors = {"rss": 65536.0}
    decision = decide(windows, thresholds, units, min_runs=5, max_runs=20, floors=floors)
    assert decision.status == LEAK


def test_decide_an_exact_byte_probe_of_a_plugin_silences_counts_too() -> None:
    # Any byte probe without a resolution floor sees every allocation, as heap does.
    windows = {"blocks": cumulative([2] * 20), "custom": [5000] * 21}
    units = {"blocks": "count", "custom": "bytes"}
    thresholds = {"blocks": 0.0, "custom": 0.0}
    decision = decide(windows, thresholds, units, min_runs=5, max_runs=20, floors={"rss": 1.0})
    assert decision.status == INCONCLUSIVE


def test_decide_counts_decide_when_only_counts_are_judged() -> None:
    windows = {"blocks": cumulative([2] * 20), "heap": cumulative([64] * 20)}
    decision = decide(windows, {"blocks": 0.0, "heap": None}, UNITS, min_runs=5, max_runs=20)
    assert decision.status == LEAK


def test_decide_growing_beats_noisy() -> None:
    windows = {"blocks": cumulative([2] * 20), "objects": [5000] + [10 * i for i in range(20)]}
    decision = decide(windows, {"blocks": 0.0, "objects": 0.0}, UNITS, min_runs=5, max_runs=20)
    assert decision.status == LEAK


def test_decide_noisy_decisive_probe_with_an_informative_leak_is_inconclusive() -> None:
    windows = {"objects": cumulative([50] * 20), "blocks": [5000] + [10 * i for i in range(20)]}
    decision = decide(windows, {"objects": None, "blocks": 0.0}, UNITS, min_runs=5, max_runs=20)
    assert decision.status == INCONCLUSIVE


def test_decide_units_default_to_count_and_thresholds_to_informative() -> None:
    decision = decide({"custom": [1, 1, 1]}, {}, {}, min_runs=1, max_runs=5)
    (trend,) = decision.trends
    assert trend.unit == "count"
    assert trend.threshold is None
    assert decision.status == CLEAN


def test_decide_trends_keep_the_probe_order() -> None:
    windows = {name: [0, 0, 0] for name in ("rss", "blocks", "heap")}
    decision = decide(windows, {}, UNITS, min_runs=1, max_runs=5)
    assert [t.probe for t in decision.trends] == ["rss", "blocks", "heap"]


def test_confirm_sawtooth_beside_malloc_noise_below_its_floor_is_clean() -> None:
    # A registry emptied past 150 entries (blocks), beside the C heap moving by a few
    # hundred bytes in a few runs and keeping 800 B over 300 runs (2.7 B/run: under
    # the malloc probe's 128 B/run): as a CI run measured it.  Not a leak on a sawtooth.
    blocks = cumulative(([1] * 148 + [-150]) * 2 + [1] * 4)
    malloc_steps = [0] * 300
    for run, step in {63: 624, 65: 624, 67: 624, 73: -624, 75: 752, 147: 2000 - 2192 + 192}.items():
        malloc_steps[run - 1] = step
    malloc_steps[148] = -1392
    malloc = cumulative(malloc_steps, base=0)
    for runs in range(21, 301):
        decision = decide(
            {"blocks": blocks[: runs + 1], "malloc": malloc[: runs + 1]},
            {"blocks": 0.0, "malloc": 128.0},
            {"blocks": "count", "malloc": "bytes"},
            min_runs=2,
            max_runs=20,
            floors={"malloc": 128.0},
            confirmation=Confirmation(300),
        )
        if decision.status != CONTINUE:
            break
    assert decision.status == CLEAN, (runs, decision.reason)
    assert 149 <= runs <= 160
    assert decision.reason.endswith("bounded, it fell back (a sawtooth)")


def test_confirm_container_purged_on_the_budgets_last_run_is_clean() -> None:
    # Its only fall comes on the last run: the window ends noisy (back where it began,
    # its tail still rising), not growing, and not flat: still a sawtooth.
    window = cumulative([1] * 299 + [-299])
    windows = {"blocks": window, "heap": cumulative([16] * 299 + [-16 * 299])}
    decision = decide(
        windows,
        {"blocks": 0.0, "heap": 0.0},
        {"blocks": "count", "heap": "bytes"},
        min_runs=2,
        max_runs=20,
        confirmation=Confirmation(300),
    )
    assert decision.status == CLEAN, decision
    assert decision.reason.endswith("bounded, it fell back (a sawtooth)")
