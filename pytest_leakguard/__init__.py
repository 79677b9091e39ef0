"""pytest-leakguard: fail tests whose memory keeps growing from run to run."""

from __future__ import annotations

from .config import MARKER_KWARGS, Budget, Settings
from .probes import Probe
from .result import CLEAN, ERROR, INCONCLUSIVE, LEAK, SKIPPED, ProbeTrend
from .result import TestResult as Verdict

__version__ = "0.1.0"

__all__ = [
    "CLEAN",
    "ERROR",
    "INCONCLUSIVE",
    "LEAK",
    "MARKER_KWARGS",
    "SKIPPED",
    "Budget",
    "Probe",
    "ProbeTrend",
    "Settings",
    "Verdict",
    "__version__",
]
