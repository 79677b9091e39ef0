"""Hook specifications that other plugins (and conftest files) may implement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .probes import ProbeFactory


@pytest.hookspec
def pytest_leakguard_probes(config: pytest.Config) -> Mapping[str, ProbeFactory]:
    """Return extra probes, as a mapping of probe name to a factory.

    A factory takes no argument and returns an object with ``name``, ``unit``
    (``"bytes"``, ``"count"`` or ``"resources"``: the budget rules that apply, see
    :class:`pytest_leakguard.probes.Probe`; another unit is a usage error),
    ``start()``, ``sample() -> int`` and
    ``stop()`` (see :class:`pytest_leakguard.probes.Probe`).  Added probes are
    sampled by default and can be selected with ``--leakguard-probes``.
    """
    return {}
