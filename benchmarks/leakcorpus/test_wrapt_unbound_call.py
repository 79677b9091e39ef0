"""wrapt 1.11.0: calling a decorated method through the class, self passed explicitly, leaked
(GrahamDumpleton/wrapt#128, fixed in 1.11.1)."""

import wrapt


@wrapt.decorator
def passthrough(wrapped, instance, args, kwargs):  # type: ignore[no-untyped-def]
    return wrapped(*args, **kwargs)


class Service:
    @passthrough
    def handle(self, x: int) -> int:
        return x


SERVICE = Service()


def test_call_through_class() -> None:
    assert Service.handle(SERVICE, 1) == 1
