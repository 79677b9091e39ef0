"""ujson <= 5.12.0: dump() leaked the serialized string when write() raised (CVE-2026-44660)."""

import pytest
import ujson


class FullDisk:
    def write(self, data: str) -> None:
        raise OSError("disk full")


PAYLOAD = {f"k{i}": "v" * 100 for i in range(100)}


def test_dump_to_failing_file() -> None:
    with pytest.raises(OSError):
        ujson.dump(PAYLOAD, FullDisk())
