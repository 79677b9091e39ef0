"""Hold back the reports a test logs itself while it is run again.

pytest's ``subtests`` (built in since pytest 9, a plugin before), and plugins
like it, log a report through ``pytest_runtest_logreport`` for every subtest,
from inside the test's call.  During the re-runs each of those reports would
reach the terminal reporter (kept in its ``stats``: growth of about 40 blocks
per subtest per run, and counted in the closing line), JUnit XML and xdist.
The runner's own re-run reports are never logged (``log=False``); the ones
logged from inside the test are held here instead, and only read for a failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from . import compat

_HOOK = "pytest_runtest_logreport"


@contextlib.contextmanager
def held_reports(config: pytest.Config) -> Iterator[list[pytest.TestReport]]:
    """Within the block, reports logged through ``pytest_runtest_logreport`` go to the list."""
    manager = config.pluginmanager
    inner = compat.hookexec(manager)
    held: list[pytest.TestReport] = []

    def hookexec(
        name: str, methods: Sequence[Any], kwargs: Mapping[str, Any], firstresult: bool
    ) -> Any:
        if name == _HOOK:
            held.append(kwargs["report"])
            return None if firstresult else []
        return inner(name, methods, kwargs, firstresult)

    compat.set_hookexec(manager, hookexec)
    try:
        yield held
    finally:
        compat.set_hookexec(manager, inner)
