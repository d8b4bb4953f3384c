"""Every handler behind one guard: an unexpected exception reaches the visitor as one
sentence; the app's own errors as their sentence; `gr.Error` as it is."""

from __future__ import annotations

import asyncio
import inspect
from functools import partial

import gradio as gr
import pytest

from engine.errors import InvalidRequestError
from gallery.errors import GalleryError
from ui.forms import FormError
from ui.guarded import UNEXPECTED, guarded


def overflow(page: int, request: gr.Request | None = None) -> int:
    return int(float("inf")) + page


def refused() -> None:
    raise InvalidRequestError("Use at most 50 steps <here>.")


def pages(count: int):
    yield 1
    raise OverflowError("cannot convert float infinity to integer")


async def later() -> None:
    raise KeyError("/srv/data/gallery.db")


@pytest.mark.parametrize(
    ("fn", "args", "message"),
    [
        (overflow, (1,), UNEXPECTED),
        (refused, (), "Use at most 50 steps &lt;here&gt;."),
        (partial(overflow, 2), (), UNEXPECTED),
    ],
)
def test_a_plain_handler_raises_one_sentence(fn, args, message):
    with pytest.raises(gr.Error) as raised:
        guarded(fn)(*args)
    assert raised.value.message == message
    assert raised.value.__cause__ is None


def test_generators_and_coroutines_too():
    iterator = guarded(pages)(3)
    assert next(iterator) == 1
    with pytest.raises(gr.Error, match=UNEXPECTED):
        next(iterator)
    with pytest.raises(gr.Error) as raised:
        asyncio.run(guarded(later)())
    assert raised.value.message == UNEXPECTED and "/srv" not in str(raised.value)
    assert inspect.isgeneratorfunction(guarded(pages))
    assert inspect.iscoroutinefunction(guarded(later))


@pytest.mark.parametrize("error", [GalleryError("No such tag."), FormError("Steps must be 1.")])
def test_the_apps_own_errors_keep_their_sentence(error):
    def fail():
        raise error

    with pytest.raises(gr.Error) as raised:
        guarded(fail)()
    assert raised.value.message == str(error)


def test_gr_error_passes_and_the_signature_is_kept():
    def shown():
        raise gr.Error("Choose a model first.")

    with pytest.raises(gr.Error, match="Choose a model first"):
        guarded(shown)()
    assert list(inspect.signature(guarded(overflow)).parameters) == ["page", "request"]
    once = guarded(overflow)
    assert guarded(once) is once


@pytest.mark.parametrize(
    "error", [gr.Error("Choose a model first."), FormError("Steps must be 1."), KeyError("x")]
)
def test_no_error_prints_gradios_traceback_on_the_console(error):
    """A visitor's bad input is a sentence on the page, not 35 lines in the server's terminal;
    an unexpected error is logged once, by the guard."""

    def fail():
        raise error

    with pytest.raises(gr.Error) as raised:
        guarded(fail)()
    assert raised.value.print_exception is False
