"""The suite's own configuration: slow, environment-specific tests run in CI steps of their own.

A test marked ``own_step("NAME")`` (the compatibility matrix with the common plugins, workers
on two Python versions, a wheel build) needs an environment of its own or takes minutes, so
``.ci/run`` runs it in its step NAME. A run of the whole suite (the README's test command)
deselects it; naming its file or node id on the command line, or ``--own-steps``, runs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MARKER = "own_step"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--own-steps",
        action="store_true",
        help=f"also run the tests marked {MARKER} (CI runs them in steps of their own)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name): slow or environment-specific; .ci/run runs it in its step NAME, a run"
        " of the whole suite deselects it unless its file is named or --own-steps is given",
    )


def _named_files(config: pytest.Config) -> set[Path]:
    """The test files named on the command line (directories do not count)."""
    base = config.invocation_params.dir
    named = (base / arg.split("::", 1)[0] for arg in config.args)
    return {path.resolve() for path in named if path.is_file()}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--own-steps"):
        return
    named = _named_files(config)
    kept, deselected = [], []
    for item in items:
        if item.get_closest_marker(MARKER) is None or item.path.resolve() in named:
            kept.append(item)
        else:
            deselected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
