"""croniter 6.0.0: every datetime it computes is cached in a class-level dict keyed by timestamp,
never evicted, so a schedule evaluated from "now" adds entries forever
(pallets-eco/croniter#182, fixed by 6.2.2)."""

import datetime

from croniter import croniter


def test_next_run_from_now() -> None:
    start = datetime.datetime.now()
    assert croniter("*/5 * * * *", start).get_next(datetime.datetime) > start
