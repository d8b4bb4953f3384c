"""The one streaming adapter: blocking work that reports through a callback, turned into an
iterator the page can yield from.

`stream_work(work)` runs `work(emit, cancel)` in one worker thread (with the caller's context,
so Gradio's request, and with it whose gallery records, goes along) and yields each value the
work emits, in order. The work's exception is re-raised in the caller's thread. Closing the
iterator early (the page's Stop, or Skip once the image being made is done) sets `cancel`;
work that checks it between steps (the engine's step callback does) stops there.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Generator
from typing import Generic, TypeVar

T = TypeVar("T")
Emit = Callable[[T], None]
JOIN_SECONDS = 60


class _Done(Generic[T]):
    """The end of the stream (the work returned)."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def stream_work(
    work: Callable[[Emit[T], threading.Event], None],
    name: str = "pipeline",
    cancel: threading.Event | None = None,
) -> Generator[T, None, None]:
    """Yield what `work(emit, cancel)` emits while it runs in a worker thread named `name`;
    `cancel` (one of the caller's, such as a Stop button's) stops it too, and the stream then
    ends as the work does, with what it emits on its way out."""
    cancel = cancel or threading.Event()
    events: queue.Queue[T | _Done[T] | _Failed] = queue.Queue()

    def target() -> None:
        try:
            work(events.put, cancel)
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            events.put(_Failed(exc))
            return
        events.put(_Done())

    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(target,), name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = events.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        cancel.set()  # closed early: the work stops at its next step; a finished one ignores it
        worker.join(timeout=JOIN_SECONDS)
