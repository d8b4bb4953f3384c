"""The launched app, called over HTTP through gradio_client like any API user would."""

import pytest
from gradio_client import Client


@pytest.mark.slow
def test_generate_through_the_api(server):
    url, recorded = server
    client = Client(url, verbose=False)
    gallery, summary = client.predict(
        "a red fox", "blurry", 5, 3, 7.0, 64, 64, 2, "Euler a", "demo", api_name="/generate"
    )
    assert len(gallery) == 2
    assert "Seeds** 5, 6" in summary["info"]
    assert recorded and recorded[-1].seeds == [5, 6]


@pytest.mark.slow
def test_bad_input_is_a_clear_error_and_the_server_stays_up(server):
    url, _ = server
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match="multiple of 8"):
        client.predict(prompt="a fox", width=100, height=64, api_name="/generate")
    gallery, _ = client.predict(
        prompt="a fox", seed=1, steps=2, width=64, height=64, api_name="/generate"
    )
    assert len(gallery) == 1
