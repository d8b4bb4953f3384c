"""The `compare` and `ablate` endpoints over HTTP through gradio_client, as in the README."""

from __future__ import annotations

import pytest
from gradio_client import Client


@pytest.mark.slow
def test_compare_and_ablate_endpoints(server, local_gallery):
    url, _ = server
    client = Client(url, verbose=False)
    result = client.predict(
        variants=["a red fox", "a blue fox"],
        labels=["red", "blue"],
        seeds="7, 8",
        steps=1,
        width=64,
        height=64,
        api_name="/compare",
    )
    assert result["variants"] == ["red", "blue"]
    assert [(c["seed"], c["variant"]) for c in result["cells"]] == [
        (7, "red"), (7, "blue"), (8, "red"), (8, "blue")
    ]  # fmt: skip
    assert result["scores_meaningful"] is True  # the shipped sketch CLIP
    saved = local_gallery.get_experiment(result["experiment_id"])
    assert [v.name for v in saved.variants] == ["red", "blue"] and len(saved.cells) == 4

    ablation = client.predict(
        prompt="a fox, snow, night", seeds="3", steps=1, width=64, height=64, api_name="/ablate"
    )
    assert sorted(t["term"] for t in ablation["terms"]) == ["a fox", "night", "snow"]
    distances = [t["mean_distance"] for t in ablation["terms"]]
    assert distances == sorted(distances, reverse=True)

    with pytest.raises(Exception, match="Give 2 to 8 variants"):
        client.predict(variants=["only one"], api_name="/compare")
