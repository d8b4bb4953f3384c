"""Named API endpoints with many keyword parameters, declared as data.

`gradio_client` callers name only what they change (`client.predict(prompt=..., seed=5,
api_name="/generate")`), so an endpoint has a parameter per setting, each typed and with a
default. Rather than a function with a dozen parameters that only hands them on, an endpoint
lists its `Param`s once and `keyword_endpoint` gives Gradio a function with that signature;
the handler receives the values as one dict, which a form (`ui.forms`) reads whole.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One keyword parameter of an endpoint: its name, type and default (none: required)."""

    name: str
    type: Any
    default: Any = REQUIRED


def keyword_endpoint(
    name: str,
    params: Sequence[Param],
    handle: Callable[[Mapping[str, Any]], Any],
    *,
    returns: Any,
    doc: str,
) -> Callable[..., Any]:
    """A function named `name` with `params` as its signature (what `gr.api` reads for the
    endpoint's typed parameters) that calls `handle` with the values by name."""
    signature = inspect.Signature(
        [
            inspect.Parameter(
                p.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=p.default,
                annotation=p.type,
            )
            for p in params
        ],
        return_annotation=returns,
    )

    def endpoint(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return handle(dict(bound.arguments))

    endpoint.__signature__ = signature  # type: ignore[attr-defined]
    endpoint.__annotations__ = {p.name: p.type for p in params} | {"return": returns}
    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = doc
    return endpoint
