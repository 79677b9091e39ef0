"""The package's structure: pytest's and pluggy's internals are touched in compat.py only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_leakguard
from pytest_leakguard import compat

PACKAGE = Path(pytest_leakguard.__file__).parent
COMPAT = PACKAGE / "compat.py"

PRIVATE_ATTRIBUTES = frozenset(
    {
        # pytest: runner, fixtures, nodes, unittest, logging, config
        "_setupstate",
        "_finalizers",
        "_request",
        "_initrequest",
        "_excinfo",
        "_report_sections",
        "_runtest_for",
        "_fixturemanager",
        "_arg2fixturedefs",
        "_fixtureinfo",
        "_pyfuncitem",
        "_inicache",
        "_parser",
        # pluggy
        "_inner_hookexec",
        "_hookexec",
        "_hookimpls",
        "_name2plugin",
        # os.environ / os.environb
        "_data",
        # threading (before 3.13)
        "_shutdown_locks",
        "_shutdown_locks_lock",
        "_dangling",
        "_limbo",
        "_active_limbo_lock",
        "_iterating",
    }
)
"""Private attributes of pytest, pluggy, ``os.environ`` and ``threading`` (found, and kin)."""

_BY_NAME = ("getattr", "hasattr", "setattr", "delattr")


def _private_module(name: str) -> bool:
    top, _, rest = name.partition(".")
    return top == "_pytest" or (top == "pluggy" and rest.startswith("_"))


def private_uses(source: str) -> list[tuple[int, str]]:
    """The lines of ``source`` that import or touch a private pytest/pluggy internal, and what."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if _private_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _private_module(node.module):
                found.append((node.lineno, node.module))
            elif node.module.partition(".")[0] == "pluggy":
                private = [a.name for a in node.names if a.name.startswith("_")]
                found += [(node.lineno, f"{node.module}.{name}") for name in private]
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            found.append((node.lineno, f".{node.attr}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _BY_NAME
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in PRIVATE_ATTRIBUTES
        ):
            found.append((node.lineno, f"{node.func.id}(..., {node.args[1].value!r})"))
    return sorted(found)


def test_private_internals_only_in_compat() -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != COMPAT
        for line, what in private_uses(path.read_text(encoding="utf-8"))
    ]
    assert not offences, "private pytest/pluggy internals outside compat.py:\n" + "\n".join(
        offences
    )


def test_compat_is_where_the_internals_are() -> None:
    # The scan finds what compat.py touches: it would find the same anywhere else.
    found = {what for _, what in private_uses(COMPAT.read_text(encoding="utf-8"))}
    assert {"_pytest.runner", "._setupstate", "._finalizers", "._inner_hookexec"} <= found
    assert {"._runtest_for", "._data", "._request", "hasattr(..., '_request')"} <= found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import _pytest.runner", [(1, "_pytest.runner")]),
        ("import os\nfrom _pytest.outcomes import Exit", [(2, "_pytest.outcomes")]),
        ("from pluggy._hooks import HookImpl", [(1, "pluggy._hooks")]),
        ("from pluggy import _tracing, HookimplMarker", [(1, "pluggy._tracing")]),
        ("item.session._setupstate.stack", [(1, "._setupstate")]),
        ("manager._inner_hookexec = f", [(1, "._inner_hookexec")]),
        ("x = 1\nif getattr(item, '_excinfo', None): pass", [(2, "getattr(..., '_excinfo')")]),
        ("from pluggy import HookimplMarker\nimport pytest\nself._state", []),
        ("from ._alloccount import count\nthread._target", []),
    ],
)
def test_scan(source: str, expected: list[tuple[int, str]]) -> None:
    assert private_uses(source) == expected


def test_installed_pytest_has_every_internal(pytestconfig: pytest.Config) -> None:
    assert compat.missing(pytestconfig) == []


BREAK_FIXTUREDEF = """
import pytest

_init = pytest.FixtureDef.__init__


def _without_finalizers(self, *args, **kwargs):  # sets _finalizers through _init
    _init(self, *args, **kwargs)


pytest.FixtureDef.__init__ = _without_finalizers
"""


def test_missing_internal_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(breakfixturedef=BREAK_FIXTUREDEF, test_one="def test_one(): pass")
    result = pytester.runpytest_subprocess("-p", "breakfixturedef", "--leakguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: leakguard: pytest {pytest.__version__} lacks internals *FixtureDef._finalizers*"]
    )
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_missing_internal_without_leakguard_is_a_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(breakfixturedef=BREAK_FIXTUREDEF, test_one="def test_one(): pass")
    result = pytester.runpytest_subprocess("-p", "breakfixturedef")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*PytestConfigWarning: leakguard: pytest * lacks internals*"])


MAX_FUNCTION_LINES = 60
"""Issue #17: a function the next maintainer can read at once."""


def long_functions(source: str, name: str) -> list[str]:
    """``name:line function (N lines)`` for each function of ``source`` over the limit."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_over_sixty_lines() -> None:
    found = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        for problem in long_functions(path.read_text(encoding="utf-8"), str(path.name))
    ]
    assert not found, "\n".join(found)


def test_long_functions_are_found() -> None:
    body = "\n".join(f"    x = {n}" for n in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n", "m.py") == [
        f"m.py:1 f ({MAX_FUNCTION_LINES + 1} lines)"
    ]
    assert long_functions("def g():\n    pass\n", "m.py") == []
