"""sh 1.12.0-1.12.2 leaked a pipe per command (amoffat/sh#336, fixed in 1.12.3)."""

import sh


def test_run_true() -> None:
    assert sh.true().exit_code == 0
