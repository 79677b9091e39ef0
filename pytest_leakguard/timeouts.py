"""pytest-timeout's timer around each run of a checked test, not around all of them.

Unless ``timeout_func_only``, pytest-timeout arms one timer per test in its
``pytest_runtest_protocol`` wrapper, so around leakguard's protocol: the normal
run and every re-run of a checked test would share one timeout.  Registered only
when pytest-timeout is loaded, :class:`PerRunTimeout` notes the settings of that
timer and, for a checked test, arms it again when each run's setup starts and
stops it when the run's teardown ends, through pytest-timeout's own hooks (so a
plugin that implements them instead is used too).  No timer runs between the
runs (sampling, judging): a timeout there would end the session, not a run.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

TIMER = pytest.StashKey[Any]()
"""The settings pytest-timeout armed a checked test's protocol-wide timer with."""


class PerRunTimeout:
    """pytest-timeout's protocol-wide timer, re-armed for each run of a checked test."""

    def __init__(self, checked: pytest.StashKey[Any]) -> None:
        self.checked = checked
        """The stash key that marks a checked test."""

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: Any) -> None:
        if getattr(settings, "func_only", True) is False and self.checked in item.stash:
            item.stash[TIMER] = settings

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        settings = item.stash.get(TIMER, None)
        if settings is not None:
            # Cancel first: with the thread method a timer armed twice keeps running.
            item.config.hook.pytest_timeout_cancel_timer(item=item)
            item.config.hook.pytest_timeout_set_timer(item=item, settings=settings)
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            if item.stash.get(TIMER, None) is not None:
                item.config.hook.pytest_timeout_cancel_timer(item=item)
