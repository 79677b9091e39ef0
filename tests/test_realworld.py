"""The pure parts of benchmarks/realworld.py: matching JUnit names, its options.

The script itself builds venvs and runs real suites (minutes); these tests check what it
computes from their output.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from _pytest.junitxml import mangle_test_address
from helpers import load_benchmark
from hypothesis import given
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def realworld() -> ModuleType:
    return load_benchmark("realworld")


NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
PARAMS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(
    dirs=st.lists(NAME, max_size=3),
    module=NAME,
    classes=st.lists(NAME, max_size=2),
    function=NAME,
    params=st.none() | PARAMS,
)
def test_the_junit_key_is_pytests_own(
    realworld: ModuleType,
    dirs: list[str],
    module: str,
    classes: list[str],
    function: str,
    params: str | None,
) -> None:
    nodeid = "::".join(["/".join([*dirs, f"{module}.py"]), *classes, function])
    if params is not None:  # "::", "/" and "[" in a parameter's id stay as they are
        nodeid += f"[{params}]"
    assert realworld._junit_key(nodeid) == ".".join(mangle_test_address(nodeid))


def test_a_parameter_with_a_path_or_a_colon_pair(realworld: ModuleType) -> None:
    nodeid = "tests/test_tz.py::test_link[tzpath-US/Eastern-a::b]"
    assert realworld._junit_key(nodeid) == "tests.test_tz.test_link[tzpath-US/Eastern-a::b]"


@pytest.mark.parametrize("repeat", ["0", "-2", "x"])
def test_repeat_below_one_is_a_usage_error(
    realworld: ModuleType, repeat: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        realworld.main(["--repeat", repeat, "--only", "six"])
    assert exit_info.value.code == 2
    assert "--repeat" in capsys.readouterr().err
