"""Every event handler of the page behind one guard: an exception the handler did not turn into
`gr.Error` itself reaches the visitor as one sentence, never Python's text or a traceback.

The app's own errors (`EngineError`, `GalleryError`, `FormError`) are sentences written for
the visitor and are shown as they are (HTML escaped); anything else is logged with its
traceback on the server and shown as `UNEXPECTED`. A visitor's bad input leaves no traceback
on the server's console.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.exceptions import AppError

from engine.errors import EngineError
from gallery.errors import GalleryError
from ui.forms import FormError
from ui.messages import shown

LOG = logging.getLogger("atelier.errors")
UNEXPECTED = "Something went wrong on the server with that request; try other values or try again."
MEANT_FOR_VISITORS = (EngineError, GalleryError, FormError)


def visitor_error(error: Exception) -> AppError:
    """The one sentence a visitor sees for `error` (a `gr.Error` keeps its text). None prints
    Gradio's traceback on the server's console: a sentence for the visitor is no server fault,
    and an unexpected error is logged here, with its traceback, once."""
    if isinstance(error, AppError):
        error.print_exception = False
        return error
    if isinstance(error, MEANT_FOR_VISITORS):
        return gr.Error(shown(error), print_exception=False)
    LOG.error("Unexpected error in a handler", exc_info=error)
    return gr.Error(UNEXPECTED, print_exception=False)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (plain, generator, coroutine or async generator) with `visitor_error` applied to
    what it raises; its signature is kept (Gradio reads it for `gr.Request` and progress)."""
    if getattr(fn, "__atelier_guarded__", False):
        return fn
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            except Exception as error:
                raise visitor_error(error) from None

    elif inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except Exception as error:
                raise visitor_error(error) from None

    elif inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return (yield from fn(*args, **kwargs))
            except Exception as error:
                raise visitor_error(error) from None

    else:

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as error:
                raise visitor_error(error) from None

    wrapper.__atelier_guarded__ = True  # type: ignore[attr-defined]
    return wrapper


def guard_handlers(app: gr.Blocks) -> None:
    """Put every event handler of `app` (page events and `gr.api` endpoints) behind `guarded`."""
    for block_fn in app.fns.values():
        if block_fn.fn is not None:
            block_fn.fn = guarded(block_fn.fn)
