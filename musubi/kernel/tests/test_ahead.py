"""An iterator run on a thread of its own, ahead of its reader."""

from __future__ import annotations

import threading

import pytest

from musubi.kernel.ahead import ahead


def test_it_yields_every_item_in_the_sources_order():
    assert list(ahead(iter(range(500)), items=7)) == list(range(500))


def test_it_produces_on_another_thread_at_most_the_given_number_ahead():
    made: list[tuple[int, str]] = []
    gate = threading.Event()

    def source():
        for n in range(100):
            made.append((n, threading.current_thread().name))
            yield n

    reader = ahead(source(), items=5, name="composer")
    assert next(reader) == 0
    gate.wait(0.3)  # let the producer run as far as it may
    assert {name for _n, name in made} == {"composer"}
    assert len(made) <= 1 + 5 + 1  # the one read, the queue's five, one waiting to be put
    reader.close()


def test_an_error_in_the_source_is_raised_to_the_reader_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise LookupError("no such template")

    got = []
    with pytest.raises(LookupError, match="no such template"):
        for item in ahead(source(), items=10):
            got.append(item)
    assert got == [1, 2]


def test_a_reader_that_stops_early_stops_the_producer():
    made = []

    def source():
        for n in range(10_000):
            made.append(n)
            yield n

    reader = ahead(source(), items=3)
    assert [next(reader) for _ in range(2)] == [0, 1]
    reader.close()
    count = len(made)
    threading.Event().wait(0.3)
    assert len(made) == count < 10_000
    assert not [t for t in threading.enumerate() if t.name == "musubi-ahead"]
