"""Frames made on a worker thread a few ahead of the encoder, so both cores stay busy."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

_DONE = object()


def _produce(
    make: Callable[[int], Any], n: int, q: queue.Queue[Any], stop: threading.Event
) -> None:
    try:
        for k in range(n):
            item = make(k)
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        q.put(_DONE)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        q.put(exc)


def produced(make: Callable[[int], Any], n: int, depth: int = 6) -> Iterator[Any]:
    """`make(0..n-1)` computed on a worker thread, `depth` ahead of the consumer."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    worker = threading.Thread(target=_produce, args=(make, n, q, stop), daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
