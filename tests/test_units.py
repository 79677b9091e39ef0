"""Unit tests of pytest_leakguard.units: sizes and counts in, numbers out, and back."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from pytest_leakguard.units import (
    MAX_SIZE,
    format_amount,
    format_size,
    parse_count,
    parse_size,
    shown,
)

KIB = 1024
MIB = 1024**2
GIB = 1024**3


# ---------------------------------------------------------------- parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # bare numbers and bytes
        ("0", 0),
        ("512", 512),
        ("64 B", 64),
        ("64B", 64),
        ("64 b", 64),
        # decimal units (1000)
        ("1 KB", 1000),
        ("1KB", 1000),
        ("1 kb", 1000),
        ("1 kB", 1000),
        ("3 MB", 3 * 1000**2),
        ("2 GB", 2 * 1000**3),
        # binary units (1024), with and without the "iB"
        ("1 KiB", KIB),
        ("1 kib", KIB),
        ("1 KIB", KIB),
        ("1K", KIB),
        ("1 k", KIB),
        ("2 MiB", 2 * MIB),
        ("2M", 2 * MIB),
        ("1 GiB", GIB),
        ("1G", GIB),
        # spaces around and between
        ("  512  ", 512),
        ("\t2   MiB\n", 2 * MIB),
        ("1  KiB", KIB),
        # decimals
        ("1.5 KiB", 1536),
        ("0.5 MB", 500_000),
        ("0.25 GiB", GIB // 4),
        ("1.0", 1),
        ("0.0 B", 0),
        ("10.5 B", 10),
    ],
)
def test_parse_size_strings(text: str, expected: int) -> None:
    assert parse_size(text) == expected
    assert isinstance(parse_size(text), int)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # float(number) * factor lands just below the exact value for these:
        # the result must not lose a byte to truncation.
        ("2.01 KB", 2010),
        ("2.03 KB", 2030),
        ("2.05 MB", 2_050_000),
    ],
)
def test_parse_size_decimals_are_exact(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (512, 512), (1024.0, 1024), (2.5, 2)])
def test_parse_size_numbers(value: float, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is not a size"),
        ("   ", "is not a size"),
        ("lots", "is not a size"),
        ("KiB", "is not a size"),
        ("-1", "is not a size"),
        ("-1 KiB", "is not a size"),
        ("1,5 KiB", "is not a size"),
        ("1e3", "is not a size"),
        ("1 KiB 2", "is not a size"),
        (".5 KiB", "is not a size"),
        ("1. KiB", "is not a size"),
        ("12 parsecs", "unknown unit 'parsecs'"),
        ("1 TB", "unknown unit 'TB'"),
        ("1 Kilobyte", "unknown unit 'Kilobyte'"),
    ],
)
def test_parse_size_rejects_bad_strings(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_size(text)
    message = str(excinfo.value)
    assert fragment in message
    assert repr(text) in message  # the user sees what they typed


def test_parse_size_error_messages_teach_the_syntax() -> None:
    with pytest.raises(ValueError, match=r"for example 512, 64 B, 1 KB, 1 KiB or 2 MiB"):
        parse_size("lots")
    with pytest.raises(ValueError, match=r"use B, KB, MB, GB, KiB, MiB or GiB"):
        parse_size("12 parsecs")


@pytest.mark.parametrize("value", [True, False])
def test_parse_size_rejects_bools(value: bool) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(value)


@pytest.mark.parametrize("value", [-1, -0.5, -(2**40)])
def test_parse_size_rejects_negative_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="is negative"):
        parse_size(value)


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("nan"), "9" * 400, "9" * 400 + " GiB"],
    ids=["inf", "nan", "huge", "huge-GiB"],
)
def test_parse_size_rejects_non_finite_sizes_with_a_value_error(value: object) -> None:
    # An OverflowError here escapes config._parse (which catches ValueError and
    # TypeError) and becomes an INTERNALERROR.
    with pytest.raises(ValueError) as excinfo:
        parse_size(value)  # type: ignore[arg-type]
    assert "convert" not in str(excinfo.value)  # a sentence for people, not float()'s


# ---------------------------------------------------------------- parse_count


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("10", 10.0), (" 7 ", 7.0), ("0.5", 0.5), (3, 3.0), (2.5, 2.5), (0, 0.0)],
)
def test_parse_count(value: object, expected: float) -> None:
    result = parse_count(value)  # type: ignore[arg-type]
    assert result == expected
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("abc", "is not a number"),
        ("", "is not a number"),
        ("10 objects", "is not a number"),
        ("1 KiB", "is not a number"),
        (None, "is not a number"),
        ("-1", "is negative"),
        (-3, "is negative"),
        (True, "is not a count"),
        (False, "is not a count"),
    ],
)
def test_parse_count_rejects(value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_count(value)  # type: ignore[arg-type]


def test_parse_count_rejects_nan_without_calling_it_negative() -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_count("nan")
    assert "'nan'" in str(excinfo.value)
    assert "negative" not in str(excinfo.value)


@pytest.mark.parametrize("value", ["inf", "Infinity", float("inf")])
def test_parse_count_rejects_infinity(value: object) -> None:
    # An infinite threshold crashes format_amount (int(inf)) when a verdict's
    # message is built: INTERNALERROR in the middle of the run.
    with pytest.raises(ValueError):
        parse_count(value)  # type: ignore[arg-type]


# ---------------------------------------------------------------- format_size


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1.6, "2 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (100 * KIB, "100.0 KiB"),
        (MIB, "1.0 MiB"),
        (2.5 * MIB, "2.5 MiB"),
        (GIB, "1.0 GiB"),
        (5 * GIB, "5.0 GiB"),
        (2048 * GIB, "2048.0 GiB"),  # no unit beyond GiB
        (-512, "-512 B"),
        (-1536, "-1.5 KiB"),
        (-2 * MIB, "-2.0 MiB"),
        (-3 * GIB, "-3.0 GiB"),
    ],
)
def test_format_size(value: float, expected: str) -> None:
    assert format_size(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1023.7, "1.0 KiB"),  # not "1024 B"
        (-0.05, "0 B"),  # an average growth of -1 byte over 20 runs: not "-0 B"
        (-0.4, "0 B"),
    ],
)
def test_format_size_rounding_edges(value: float, expected: str) -> None:
    assert format_size(value) == expected


@pytest.mark.parametrize("value", [0, 1, 1000, 1024, 1536, MIB, 7 * GIB])
def test_format_size_round_trips_through_parse_size(value: int) -> None:
    text = format_size(value)
    assert parse_size(text) == pytest.approx(value, rel=0.05)


# ---------------------------------------------------------------- format_amount


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (0.0, "count", "0"),
        (2.0, "count", "2"),
        (2.5, "count", "2.5"),
        (2.25, "count", "2.2"),
        (-3.0, "count", "-3"),
        (4 / 3, "count", "1.3"),
        (0.96, "count", "1"),
        (-0.04, "count", "0"),
        (12345.678, "count", "12345.7"),
        (1536, "bytes", "1.5 KiB"),
        (0, "bytes", "0 B"),
    ],
)
def test_format_amount(value: float, unit: str, expected: str) -> None:
    assert format_amount(value, unit) == expected


def test_growth_in_a_failure_message_has_one_decimal_at_most() -> None:
    """Issue 18: ``+1.3 blocks/run``, not ``+1.33333 blocks/run``."""
    from pytest_leakguard.report.text import explanation_lines

    explanation = {
        "runs": 3,
        "sites": [{"file": "app.py", "line": 7, "size_per_run": 100.0, "count_per_run": 4 / 3}],
        "types": [{"type": "dict", "count_per_run": 2 / 3}],
        "holders": [{"path": "module app . CACHE (dict)", "growth_per_run": 1.0000001}],
    }
    text = "\n".join(explanation_lines(explanation))
    assert "app.py:7: +100 B/run, +1.3 blocks/run" in text
    assert "dict +0.7" in text
    assert "module app . CACHE (dict): +1/run" in text
    assert "333" not in text


# ---------------------------------------------------------------- bounds and odd types (issue #16)

HAS_DIGIT_LIMIT = hasattr(sys, "set_int_max_str_digits")


OUT_OF_RANGE = [
    (parse_size, 10**400, "is too large"),  # math.isfinite(10**400) raised OverflowError
    (parse_size, 2**63, "is too large"),
    (parse_size, 1e300, "is too large"),
    (parse_size, [1], "is not a size"),
    (parse_size, None, "is not a size"),
    (parse_size, {"a": 1}, "is not a size"),
    (parse_count, 10**400, "is not a finite number"),  # float(10**400) raised OverflowError
    (parse_count, 2**64, "is too large"),
    (parse_count, "1e300", "is too large"),
    (parse_count, [1], "is not a number"),
]


@pytest.mark.parametrize(
    ("parse", "value", "fragment"),
    OUT_OF_RANGE,
    ids=[f"{p.__name__}-{v!r}"[:30] for p, v, _ in OUT_OF_RANGE],
)
def test_out_of_range_numbers_and_other_types_are_rejected(
    parse: Callable[[Any], object], value: object, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse(value)


def test_parse_size_accepts_the_largest_size() -> None:
    assert parse_size(MAX_SIZE) == MAX_SIZE == 2**63 - 1


def test_shown_is_repr_cut_short_and_never_raises() -> None:
    assert shown("1 KiB") == "'1 KiB'"
    assert shown("x" * 5000) == repr("x" * 5000)[:1997] + "..."
    # repr() of an int of more than 4300 digits raises on Python 3.11+
    expected = "an integer of about 5000 digits" if HAS_DIGIT_LIMIT else "1" + "0" * 1996 + "..."
    assert shown(10**5000) == expected
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    assert shown(nested) == "a list nested too deep"
