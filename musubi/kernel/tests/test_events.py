from dataclasses import dataclass

from musubi.kernel import events


@dataclass(frozen=True, kw_only=True)
class SomethingHappened(events.Event):
    what: str


@dataclass(frozen=True, kw_only=True)
class SomethingSpecialHappened(SomethingHappened):
    pass


def test_subscribers_receive_published_events_and_their_subclasses():
    seen: list[str] = []

    def handler(event: SomethingHappened) -> None:
        seen.append(event.what)

    events.subscribe(SomethingHappened, handler)
    events.subscribe(SomethingHappened, handler)  # a second subscription must not double the calls
    try:
        events.publish(SomethingHappened(workspace_id=1, what="plain"))
        events.publish(SomethingSpecialHappened(workspace_id=1, what="special"))
    finally:
        events.unsubscribe(SomethingHappened, handler)
    events.publish(SomethingHappened(workspace_id=1, what="after"))
    assert seen == ["plain", "special"]
