"""attrs 21.2.0: every class it builds registers its generated methods' source in linecache
under a new name (python-attrs/attrs#826, deduplicated by #828 in 21.3.0)."""

import attr


def make_point() -> type:
    @attr.s
    class Point:
        x = attr.ib()
        y = attr.ib()

    return Point


def test_class_built_at_runtime() -> None:
    assert make_point()(1, 2).x == 1
