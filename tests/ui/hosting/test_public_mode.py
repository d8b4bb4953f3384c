"""Public mode over HTTP (as on a Space, signed out): the allow-list, the limits and the
per-visitor rate hold for API callers, and each caller's gallery is its own."""

from __future__ import annotations

import pytest
from gradio_client import Client

from ui.hosting.mode import Hosting, Limits


@pytest.fixture(scope="module")
def hosting():
    """`server` as on a Space, signed out, with two generations a minute."""
    return Hosting(public=True, allowed_models=("demo",), limits=Limits(requests_per_minute=2))


def generate(client: Client, **settings):
    values = {"prompt": "a fox", "seed": 1, "steps": 1, "width": 64, "height": 64}
    return client.predict(**{**values, **settings}, api_name="/generate")


@pytest.mark.slow
def test_public_callers_are_bounded_and_kept_apart(server, tmp_path):
    url, _ = server
    first = Client(url, verbose=False)
    with pytest.raises(Exception, match="offers these models only: demo") as refused:
        generate(first, model=str(tmp_path))
    assert str(tmp_path) not in str(refused.value)
    with pytest.raises(Exception, match="at most 1024"):
        generate(first, model="demo", width=1088)
    _, made = generate(first, model="demo")
    generate(first, model="demo")
    with pytest.raises(Exception, match="2 generations a minute"):
        generate(first, model="demo")
    mine = [item["id"] for item in first.predict(query="", api_name="/search_gallery")]
    assert made["ids"][0] in mine and len(mine) == 2
    second = Client(url, verbose=False)  # another visitor: its own session and gallery
    assert second.predict(query="", api_name="/search_gallery") == []
    with pytest.raises(Exception, match=f"There is no generation {made['ids'][0]}"):
        second.predict(id=made["ids"][0], api_name="/get_generation")
    # A new session from the same address cannot start afresh: the limits count the address.
    with pytest.raises(Exception, match="2 generations a minute"):
        generate(second, model="demo")
