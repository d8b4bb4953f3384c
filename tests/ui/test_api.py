"""The named API endpoints, called through gradio_client against the launched app, as a script
would call them: only the parameters it cares about, everything else left to the defaults."""

import pytest
from gradio_client import Client, handle_file
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(server):
    url, _ = server
    return Client(url, verbose=False)


def test_every_named_endpoint_is_listed_with_typed_parameters(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/generate", "/compose_prompt", "/search_gallery", "/get_generation"):
        assert name in endpoints, name
    assert "/import_image" in endpoints
    generate = {p["parameter_name"]: p for p in endpoints["/generate"]["parameters"]}
    assert list(generate)[:2] == ["prompt", "negative_prompt"]
    for name in ("negative_prompt", "guidance_scale", "num_images", "scheduler", "model"):
        assert generate[name]["parameter_has_default"], name
    assert "clip_skip" in generate
    assert generate["steps"]["parameter_default"] == 20


def test_generate_with_only_the_named_settings(server, client):
    _, recorded = server
    images, summary = client.predict(
        prompt="a fox", seed=5, steps=2, width=64, height=64, api_name="/generate"
    )
    assert summary["seeds"] == [5]
    assert recorded[-1].request.guidance_scale == 7.0  # the default
    assert recorded[-1].request.scheduler == "Euler a"
    assert len(images) == 1
    with Image.open(images[0]["image"]) as image:
        assert image.size == (64, 64)
    assert summary["ids"], "the generation is recorded and its id returned"


def test_generate_rejects_a_fractional_step_count(client):
    with pytest.raises(Exception, match="whole number"):
        client.predict(prompt="a fox", steps=2.5, width=64, height=64, api_name="/generate")


def test_search_then_get_a_generation(client):
    _, summary = client.predict(
        prompt="a red fox in snow", seed=9, steps=1, width=64, height=64, api_name="/generate"
    )
    found = client.predict(query="fox", api_name="/search_gallery")
    assert found and all("fox" in item["prompt"] for item in found)
    assert summary["ids"][0] in [item["id"] for item in found]
    record = client.predict(id=summary["ids"][0], api_name="/get_generation")
    assert record["prompt"] == "a red fox in snow"
    assert record["seed"] == 9 and record["steps"] == 1
    assert client.predict(query="zebra unicorn", api_name="/search_gallery") == []


def test_get_an_unknown_generation_is_one_sentence(client):
    with pytest.raises(Exception, match=r"(?i)no generation|not found"):
        client.predict(id=987654, api_name="/get_generation")


def test_compose_prompt_names_only_what_it_sets(client):
    composed = client.predict(
        subject="a lighthouse", lighting=["golden hour"], api_name="/compose_prompt"
    )
    assert composed["prompt"].startswith("a lighthouse")
    assert "golden hour" in composed["prompt"]
    assert composed["tokens"] > 2 and composed["chunks"] == 1


def test_import_image_returns_the_new_id(client, tmp_path):
    from gallery.metadata import embed_metadata
    from gallery.records import NewGeneration

    image = Image.new("RGB", (64, 64), (12, 200, 90))
    item = NewGeneration(prompt="an imported green square", seed=3, steps=4, image=image)
    path = tmp_path / "square.png"
    path.write_bytes(embed_metadata(image, item))
    imported = client.predict(image=handle_file(str(path)), api_name="/import_image")
    assert len(imported["ids"]) == 1 and imported["had_settings"]
    record = client.predict(id=imported["ids"][0], api_name="/get_generation")
    assert record["prompt"] == "an imported green square"
    again = client.predict(image=handle_file(str(path)), api_name="/import_image")
    assert again == {"ids": [], "duplicate": True, "had_settings": True}

    from tests.gallery.peer_fixtures import A1111_TEXT, a1111_exif_image

    jpeg = tmp_path / "from-a1111.jpg"
    jpeg.write_bytes(a1111_exif_image("JPEG", A1111_TEXT))
    imported = client.predict(image=handle_file(str(jpeg)), api_name="/import_image")
    record = client.predict(id=imported["ids"][0], api_name="/get_generation")
    assert record["prompt"] == "a lighthouse at dusk, (storm clouds:1.2)"
    assert (record["seed"], record["steps"], record["scheduler"]) == (
        1234567890,
        28,
        "DPM++ 2M Karras",
    )
